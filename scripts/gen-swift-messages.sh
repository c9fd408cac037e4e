#!/usr/bin/env bash
# Regenerates the Swift message bridges committed under
# Sources/PortalMessages/Generated from the contract in proto/.
# Usage: scripts/gen-swift-messages.sh [OUTPUT_DIR]
# With OUTPUT_DIR the files are written there instead (used by the sync check).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/Sources/PortalMessages/Generated}"

python3 "$root/scripts/gen_swift_messages.py" \
  --proto-root "$root/proto" --out "$out" "$root"/proto/portal/v1/*.proto
