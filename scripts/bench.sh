#!/usr/bin/env bash
# `make bench` and `make bench-smoke`.
#
#   scripts/bench.sh matrix   release build; portald (release) on a temporary
#                             database and a free loopback port; the standard
#                             matrix (1x1, 4x64, 16x256) for health and
#                             list-blocks (+ checkout, start-checkout and mixed
#                             when portald has --payments; checkout at 4x16
#                             too); 1,000 idle
#                             connections; the table goes into
#                             docs/performance.md.
#   scripts/bench.sh smoke    debug build; one second of each scenario against
#                             a fresh portald. Fails if the tool fails or a
#                             scenario gets an answer that is not OK, never on
#                             figures.
#
# Environment: BENCH_DURATION (seconds, default 10), BENCH_WARMUP (default 2),
# BENCH_SCRATCH (release scratch path, default .build-release),
# BENCH_SCENARIOS (default "health list-blocks", + start-checkout checkout mixed
# when available),
# BENCH_MATRIX (default "1x1 4x64 16x256").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
what="${1:-matrix}"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_portald() {  # $1 = bin dir; sets pid, port, key, tmp
  tmp="$(mktemp -d)"
  port="$(free_port)"
  key="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
  local extra=()
  if "$1/portald" --help 2>&1 | grep -q -- '--payments'; then extra+=(--payments simulated); fi
  ulimit -n 8192 2>/dev/null || true
  "$1/portald" --listen "127.0.0.1:$port" --db "$tmp/portal.sqlite" --admin-key "$key" \
    --log-level "${BENCH_LOG_LEVEL:-error}" "${extra[@]}" 2>"$tmp/portald.log" &
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
  for _ in $(seq 1 100); do
    if "$1/portal-bench" health --port "$port" -c 1 -k 1 --duration 0.05 --warmup 0 >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/portald.log" >&2; echo "portald exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "portald did not answer on 127.0.0.1:$port" >&2
  exit 1
}

case "$what" in
smoke)
  # BENCH_BUILD_FLAGS: extra `swift build` flags, e.g. "--scratch-path .build-perf".
  flags=(${BENCH_BUILD_FLAGS:-})
  swift build "${flags[@]}" --product portald >/dev/null
  swift build "${flags[@]}" --product portal-bench >/dev/null
  bin="$(swift build "${flags[@]}" --show-bin-path)"
  start_portald "$bin"
  # Each scenario for a second; every answer must be OK (errors=0): that is
  # a fact about the paths, not a figure.
  smoke_run() {  # $1 = scenario, then extra flags
    local out
    out="$("$bin/portal-bench" "$1" --port "$port" -c 2 -k 8 --duration 1 --warmup 0 \
      --server-pid "$pid" --machine-readable "${@:2}")"
    echo "$out"
    grep -Eq "^RESULT scenario=$1 .* errors=0( |$)" <<<"$out" || { echo "bench-smoke: $1 answered errors" >&2; exit 1; }
  }
  smoke_run health
  smoke_run list-blocks --admin-key "$key" --clients 1 --holds 2 --bookings 2
  if "$bin/portald" --help 2>&1 | grep -q -- '--payments'; then
    smoke_run start-checkout --admin-key "$key"
    smoke_run checkout --admin-key "$key" --date 2030-06-01
    smoke_run mixed --admin-key "$key" --date 2030-06-02
  fi
  echo "bench-smoke: portal-bench works"
  ;;
matrix)
  scratch="${BENCH_SCRATCH:-.build-release}"
  swift build -c release --scratch-path "$scratch" --product portald
  swift build -c release --scratch-path "$scratch" --product portal-bench
  bin="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"
  start_portald "$bin"
  duration="${BENCH_DURATION:-10}"
  warmup="${BENCH_WARMUP:-2}"
  scenarios="${BENCH_SCENARIOS:-health list-blocks}"
  if [ -z "${BENCH_SCENARIOS:-}" ] && "$bin/portald" --help 2>&1 | grep -q -- '--payments'; then
    # start-checkout after checkout: the runs share one server, and its
    # 16x256 run grows the heap (and leaves up to 1,024 live holds), which
    # the checkout rows' RSS would otherwise carry.
    scenarios="$scenarios checkout start-checkout mixed"
  fi
  results="$tmp/results.txt"
  : >"$results"
  # Idle connections first, on the fresh server, before any load has grown it.
  "$bin/portal-bench" idle --port "$port" -c 1000 --duration 3 --server-pid "$pid" --machine-readable \
    | tee /dev/stderr | grep '^RESULT' >>"$results"
  day=0
  for scenario in $scenarios; do
    matrix="${BENCH_MATRIX:-1x1 4x64 16x256}"
    # checkout also at 4x16 (64 calls in flight): where both of its targets
    # (pairs/s and p99) can hold at once on two cores — at 4x64 the closed
    # loop's own queue sets its p99 (docs/performance.md, "Session 17").
    if [ -z "${BENCH_MATRIX:-}" ] && [ "$scenario" = checkout ]; then matrix="1x1 4x16 4x64 16x256"; fi
    for ck in $matrix; do
      c="${ck%x*}"; k="${ck#*x}"
      # Every checkout run books into a day of its own: a day holds at most
      # 10 blocks x 3 services x 10,000 slots, and the 1x1 run alone books
      # ten thousand of them, which the next runs on the same day would
      # find partly full (CAPACITY_FULL).
      date_flag=()
      if [ "$scenario" = checkout ] || [ "$scenario" = mixed ]; then
        day=$((day + 1))
        date_flag=(--date "2030-07-$(printf '%02d' "$day")")
      fi
      echo "== $scenario $c x $k" >&2
      "$bin/portal-bench" "$scenario" --port "$port" -c "$c" -k "$k" --duration "$duration" \
        --warmup "$warmup" --server-pid "$pid" --admin-key "$key" "${date_flag[@]}" --machine-readable \
        | tee /dev/stderr | grep '^RESULT' >>"$results"
    done
  done
  python3 scripts/bench_table.py "$results" docs/performance.md
  echo "docs/performance.md: table updated" >&2
  ;;
*)
  echo "usage: scripts/bench.sh matrix|smoke" >&2
  exit 2
  ;;
esac
