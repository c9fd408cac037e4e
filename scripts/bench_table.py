#!/usr/bin/env python3
"""Writes the RESULT lines of a `make bench` run as a table into
docs/performance.md, between the `bench:begin` and `bench:end` markers,
with the date, the commit and the machine."""
import datetime
import os
import platform
import subprocess
import sys

results_path, doc_path = sys.argv[1], sys.argv[2]
rows = []
idle = None
for line in open(results_path):
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    if fields.get("scenario") == "idle":
        idle = fields
    else:
        rows.append(fields)

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
lines = [
    "<!-- bench:begin (written by `make bench`; do not edit by hand) -->",
    f"Last `make bench`: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit "
    f"`{commit}`{' (with local changes)' if dirty else ''}, {os.cpu_count()} cores ({cpu_model()}), "
    f"{memory:.0f} GiB, {platform.system()} {platform.release()}; server and generator share the machine; "
    "release build, pre-encoded frames (`--mode raw`).",
    "",
    "| scenario | C×K | req/s | ops/s | p50 | p99 | p99.9 | errors | server RSS | server CPU | generator CPU |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
def ms(us):
    return f"{float(us) / 1000:.2f} ms"
for r in rows:
    lines.append(
        f"| {r['scenario']} | {r['c']}×{r['k']} | {int(float(r['rps'])):,} | {int(float(r['ops'])):,} | "
        f"{ms(r['p50_us'])} | {ms(r['p99_us'])} | {ms(r['p999_us'])} | {r['errors']} | "
        f"{r.get('rss_mib', '?')} MiB | {r.get('server_cpu', '?')} % | {r['gen_cpu']} % |")
if idle:
    lines += ["", f"Idle connections (on the fresh server, before the matrix): {idle['c']} add "
              f"{idle['added_mib']} MiB of server RSS ({idle['rss_before_mib']} → {idle['rss_after_mib']} MiB). "
              "Server RSS in the table is read at the end of each run, the runs one after the other "
              "on one server."]
lines.append("<!-- bench:end -->")
block = "\n".join(lines) + "\n"

try:
    text = open(doc_path).read()
except FileNotFoundError:
    text = "# Performance\n\n"
begin = text.find("<!-- bench:begin")
end = text.find("<!-- bench:end -->")
if begin >= 0 and end >= 0:
    text = text[:begin] + block + text[end + len("<!-- bench:end -->\n"):]
else:
    text = text.rstrip("\n") + "\n\n## Latest run\n\n" + block
open(doc_path, "w").write(text)
