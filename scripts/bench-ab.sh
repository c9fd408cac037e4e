#!/usr/bin/env bash
# A/B of two builds of portald within one run, as docs/performance.md asks:
#
#   scripts/bench-ab.sh DIR_A DIR_B "health:4x64 list-blocks:4x64 ..." [SECONDS] [REPS]
#
# DIR_A and DIR_B each hold a portald and a portal-bench (e.g. a copy of
# .build-release/release before and after a change). For each repetition it
# runs A then B, each on a fresh temporary database and a free loopback port,
# every scenario for SECONDS (default 5) after 1 s of warm-up, and prints the
# RESULT lines labelled A or B. Compare medians, and the server's CPU per
# request (server_cpu_us), which the machine's other load disturbs least.
#
# After each server has drained (SIGTERM), a CHECK line counts the bookings
# not `captured` and the outbox rows not done: FinalizeCheckout answers
# before its capture is recorded (in the background), so portal-bench
# cannot see a build whose records fail — this line can (both must be 0).
#
# At the end, per scenario, a SUMMARY line per build with the medians, and
# in how many repetitions B's server CPU per answer and p99 were lower
# than A's run just before — on this machine, whose own load moves single
# runs by ±15 %, only a comparison run by run means anything.
set -euo pipefail
a="$1"; b="$2"; runs="$3"; seconds="${4:-5}"; reps="${5:-3}"

one() {  # $1 = bin dir, $2 = label
  local bin="$1" label="$2" tmp port key pid
  tmp="$(mktemp -d)"
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  key="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
  local extra=()
  if "$bin/portald" --help 2>&1 | grep -q -- '--payments'; then extra+=(--payments simulated); fi
  ulimit -n 8192 2>/dev/null || true
  "$bin/portald" --listen "127.0.0.1:$port" --db "$tmp/portal.sqlite" --admin-key "$key" \
    --log-level error "${extra[@]}" 2>"$tmp/portald.log" &
  pid=$!
  for _ in $(seq 1 100); do
    "$bin/portal-bench" health --port "$port" -c 1 -k 1 --duration 0.05 --warmup 0 >/dev/null 2>&1 && break
    sleep 0.1
  done
  for run in $runs; do
    local scenario="${run%%:*}" ck="${run#*:}"
    "$bin/portal-bench" "$scenario" --port "$port" -c "${ck%x*}" -k "${ck#*x}" --duration "$seconds" \
      --warmup 1 --server-pid "$pid" --admin-key "$key" --machine-readable \
      | grep '^RESULT' | sed "s/^RESULT/RESULT build=$label/" || true
  done
  kill -TERM "$pid"
  wait "$pid" || true
  python3 - "$tmp/portal.sqlite" "$label" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
bookings = db.execute("SELECT count(*) FROM bookings WHERE payment_state <> 'captured'").fetchone()[0]
outbox = db.execute("SELECT count(*) FROM outbox WHERE done_at IS NULL").fetchone()[0]
print(f"CHECK build={sys.argv[2]} bookings_not_captured={bookings} outbox_not_done={outbox}")
PY
  rm -rf "$tmp"
}

results="$(mktemp)"
trap 'rm -f "$results"' EXIT
for rep in $(seq 1 "$reps"); do
  one "$a" A | tee -a "$results"
  one "$b" B | tee -a "$results"
done

python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    if not line.startswith("RESULT "):
        continue
    fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    key = (fields["scenario"], fields["c"] + "x" + fields["k"])
    runs.setdefault(key, {}).setdefault(fields["build"], []).append(fields)
for (scenario, ck), builds in sorted(runs.items()):
    for build in ("A", "B"):
        rows = builds.get(build, [])
        if not rows:
            continue
        def median(name):
            values = [float(r[name]) for r in rows if name in r]
            return statistics.median(values) if values else float("nan")
        print(f"SUMMARY {scenario}:{ck} build={build} runs={len(rows)} ops={median('ops'):.0f} "
              f"p50_ms={median('p50_us') / 1000:.2f} p99_ms={median('p99_us') / 1000:.2f} "
              f"server_cpu_us={median('server_cpu_us'):.2f}")
    pairs = list(zip(builds.get("A", []), builds.get("B", [])))
    if pairs:
        cpu = sum(float(b["server_cpu_us"]) < float(a["server_cpu_us"]) for a, b in pairs if "server_cpu_us" in a)
        p99 = sum(float(b["p99_us"]) < float(a["p99_us"]) for a, b in pairs)
        print(f"SUMMARY {scenario}:{ck} B lower than A: server_cpu_us in {cpu} of {len(pairs)}, p99 in {p99} of {len(pairs)}")
PY
