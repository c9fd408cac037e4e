#!/usr/bin/env bash
# Starts localstripe on 127.0.0.1:$STRIPE_PORT (default 8420) in the
# background, points portald's Stripe settings at it, runs the command given
# (portald), and stops localstripe when the command ends.
#   scripts/run-with-localstripe.sh swift run portald --listen 127.0.0.1:7420 --db var/portal.sqlite
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
port="${STRIPE_PORT:-8420}"
python="$root/.venv/bin/python"
[ -x "$python" ] || { echo "run: $python is missing; run scripts/bootstrap.sh" >&2; exit 1; }
mkdir -p "$root/var"

"$python" "$root/scripts/serve_localstripe.py" "$port" "$root/var/localstripe" >"$root/var/localstripe.log" 2>&1 &
stripe_pid=$!
trap 'kill "$stripe_pid" 2>/dev/null || true; wait "$stripe_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$stripe_pid" 2>/dev/null || { echo "run: localstripe did not start; see var/localstripe.log" >&2; exit 1; }
  sleep 0.1
done
echo "run: localstripe on http://127.0.0.1:$port (log: var/localstripe.log)"

# localstripe accepts any key that starts with sk_; this one is not a secret.
export PORTAL_STRIPE_API_KEY="sk_test_portal_make_run"
export PORTAL_STRIPE_API_BASE="http://127.0.0.1:$port"
"$@"
