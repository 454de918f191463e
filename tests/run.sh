#!/usr/bin/env bash
# The project's test command (README, .ci/run): formatting, lints, the Rust test suites, and the
# scim2-tester conformance run against a real `scimctl serve` on a loopback port.
# Installs what it needs itself (a Python venv with scim2-tester under .tools/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
cargo test --workspace

step "scim2-tester conformance against scimctl serve"
venv="$root/.tools/venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import scim2_tester' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
fi
cargo build --quiet -p scimctl
workdir=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn ./target/debug/scimctl --store "$workdir/data" serve --addr "127.0.0.1:$port" >"$workdir/serve.out" 2>"$workdir/serve.err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "Secret Token" "$workdir/serve.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$workdir/serve.err"; echo "scimctl serve exited" >&2; exit 1; }
  sleep 0.1
done
token=$(awk '/Secret Token/ {print $3}' "$workdir/serve.out")
[ -n "$token" ] || { echo "scimctl serve printed no token" >&2; cat "$workdir/serve.err"; exit 1; }
# Checks of features /ServiceProviderConfig declares unsupported would be listed here with
# --allow CHECK=REASON; at present none is needed.
status=0
"$venv/bin/python" tests/scim2_tester.py --url "http://127.0.0.1:$port/scim/v2" --token "$token" \
  >"$workdir/scim2-tester.out" 2>&1 || status=$?
grep -v '^PASS' "$workdir/scim2-tester.out" || true
[ "$status" -eq 0 ] || { echo "scim2-tester reported failures (exit $status)" >&2; exit 1; }

step "all tests passed in $((SECONDS - started)) s"
