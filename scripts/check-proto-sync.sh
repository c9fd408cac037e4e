#!/usr/bin/env bash
# Fails when the committed generated code differs from a fresh regeneration of
# proto/ (protobuf-c C output and the Swift message bridges).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
status=0

"$root/scripts/gen-proto-c.sh" "$tmp/c"
if ! diff -r "$root/Sources/PortalProtoC" "$tmp/c" >"$tmp/c.diff"; then
  echo "error: Sources/PortalProtoC is out of date with proto/; run scripts/gen-proto-c.sh" >&2
  head -40 "$tmp/c.diff" >&2
  status=1
fi

if [ -x "$root/scripts/gen-swift-messages.sh" ]; then
  "$root/scripts/gen-swift-messages.sh" "$tmp/swift"
  if ! diff -r "$root/Sources/PortalMessages/Generated" "$tmp/swift" >"$tmp/s.diff"; then
    echo "error: Sources/PortalMessages/Generated is out of date with proto/; run scripts/gen-swift-messages.sh" >&2
    head -40 "$tmp/s.diff" >&2
    status=1
  fi
fi
[ $status -eq 0 ] && echo "generated code is in sync with proto/"
exit $status
