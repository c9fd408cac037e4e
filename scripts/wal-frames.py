#!/usr/bin/env python3
"""Which B-trees the write-ahead log's frames belong to (docs/performance.md,
"Session 11").

    cp portal.sqlite /tmp/c.sqlite; cp portal.sqlite-wal /tmp/c.sqlite-wal
    scripts/wal-frames.py /tmp/c.sqlite

Copy the database and its -wal file while portald runs under load (not the
-shm file). Reads the frames of the log's current cycle (those whose salts
match the log's header), maps each page number to its table or index with
SQLite's `dbstat` table on the copy, and prints frames and distinct pages
per B-tree. Works on the copy only; never open the live database with it.
"""
import collections
import sqlite3
import struct
import sys


def main(path: str) -> None:
    with open(path + "-wal", "rb") as log:
        _, _, page_size, _, salt1, salt2, _, _ = struct.unpack(">8I", log.read(32))
        pages, commits = [], 0
        while True:
            header = log.read(24)
            if len(header) < 24:
                break
            page, size_after_commit, s1, s2, _, _ = struct.unpack(">6I", header)
            if (s1, s2) != (salt1, salt2):
                break  # an earlier cycle's frame: the current cycle ended
            log.seek(page_size, 1)
            pages.append(page)
            commits += size_after_commit != 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    owner = {page: name for name, page in db.execute("SELECT name, pageno FROM dbstat")}
    frames = collections.Counter(owner.get(page, "?") for page in pages)
    distinct = collections.defaultdict(set)
    for page in pages:
        distinct[owner.get(page, "?")].add(page)
    print(f"page size {page_size}, {len(pages)} frames, {commits} commits, "
          f"{len(pages) / max(commits, 1):.1f} frames per commit")
    for name, count in frames.most_common():
        print(f"{count:7d} {100 * count / max(len(pages), 1):5.1f} %  "
              f"{len(distinct[name]):6d} distinct pages  {name}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
