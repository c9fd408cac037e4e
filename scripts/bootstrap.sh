#!/usr/bin/env bash
# Installs what this project needs on a fresh machine, and nothing that is
# already there. Safe to run again: it only acts on what is missing.
#   - Debian packages: protobuf-c (library + protoc-c), SQLite, libcurl,
#     jemalloc (portald's malloc), pkg-config, and stock protoc (to check the contract compiles for others).
#   - A Python virtual environment in .venv/ (ignored) with the tools in
#     scripts/requirements-dev.txt: localstripe (a local Stripe-compatible
#     server for the tests) and protobuf (for the Python interop client).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

packages=(libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev libcurl4-openssl-dev libjemalloc-dev pkg-config protobuf-compiler)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv="$root/.venv"
requirements="$root/scripts/requirements-dev.txt"
stamp="$venv/.requirements-installed"
if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
  echo "bootstrap: installing Python tools into $venv (scripts/requirements-dev.txt)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi

command -v swift >/dev/null || { echo "bootstrap: swift is not on PATH (expected the machine's toolchain at /opt/swift)" >&2; exit 1; }
