#!/usr/bin/env bash
# The project's test command (README, .ci/run): formatting, lints, the Rust test suites, and the
# scim2-tester conformance run against a real `scimctl serve` on a loopback port.
# Installs what it needs itself under .tools/ (a Python venv with scim2-tester, DynamoDB Local),
# starts servers on free loopback ports and stops them by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
workdir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
}
trap cleanup EXIT

# The Python tools install in the background while Rust compiles (the installs wait on the
# network, the compiler on the CPU); the steps that need them wait for their install.
aws_venv="$root/.tools/aws-venv"
venv="$root/.tools/venv"
install_aws_tools() {
  if [ ! -x "$aws_venv/bin/sam" ] || ! cmp -s tests/requirements-aws.txt "$aws_venv/requirements-aws.txt"; then
    rm -rf "$aws_venv"
    python3 -m venv "$aws_venv"
    "$aws_venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements-aws.txt
    cp tests/requirements-aws.txt "$aws_venv/requirements-aws.txt"
  fi
}
install_scim2_tester() {
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import scim2_tester' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
  fi
}
install_aws_tools >"$workdir/install-aws-tools.log" 2>&1 &
aws_tools=$!
install_scim2_tester >"$workdir/install-scim2-tester.log" 2>&1 &
scim2_tester_tools=$!
pids+=("$aws_tools" "$scim2_tester_tools")
# Waits for a background install; on failure prints its output and stops the run.
await_install() {
  local pid=$1 name=$2
  wait "$pid" || { cat "$workdir/install-$name.log"; echo "installing $name failed" >&2; exit 1; }
}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace (embedded store)"
cargo test --workspace

step "DynamoDB Local (AWS's emulator, from the npm package amplify-dynamodb-simulator)"
ddb_dir="$root/.tools/dynamodb-local"
if [ ! -f "$ddb_dir/DynamoDBLocal.jar" ]; then
  mkdir -p "$ddb_dir"
  (cd "$workdir" && npm pack --silent amplify-dynamodb-simulator@2.9.30 >/dev/null && tar xzf amplify-dynamodb-simulator-*.tgz)
  cp -r "$workdir/package/emulator/." "$ddb_dir/"
fi
if ! command -v java >/dev/null; then
  echo "java is missing: installing openjdk-17-jre-headless" >&2
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
# Starts a DynamoDB Local in memory on a free loopback port (stopped by PID on exit) and points
# the AWS environment at it.
start_dynamodb() {
  local name=$1 port
  port=$(free_port)
  (cd "$ddb_dir" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -port "$port") \
    >"$workdir/dynamodb-$name.log" 2>&1 &
  ddb_pid=$!
  pids+=($!)
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "$AWS_ENDPOINT_URL" && return 0
    sleep 0.2
  done
  cat "$workdir/dynamodb-$name.log"; echo "DynamoDB Local did not start" >&2; exit 1
}
# Stops the DynamoDB Local started last.
stop_dynamodb() {
  kill "$ddb_pid" 2>/dev/null || true
  wait "$ddb_pid" 2>/dev/null || true
}

step "Store conformance and end-to-end suites against DynamoDB Local"
# DynamoDB Local slows down with the work it has done, its tables deleted or not (the same 69
# tests took 39 s, then 67 s, then 80 s on one emulator), so each area of the end-to-end suite
# (a module of tests/tests/it) gets a fresh one; the gateway area has its own step below.
dynamodb_started=$SECONDS
start_dynamodb crates
SCIM_TEST_BACKEND=dynamodb cargo test --workspace --exclude scim-tests
for area in $(sed -n 's/^mod \([a-z_]*\);$/\1/p' tests/tests/it/main.rs); do
  [ "$area" = gateway ] && continue
  stop_dynamodb
  start_dynamodb "it-$area"
  SCIM_TEST_BACKEND=dynamodb cargo test -p scim-tests --test it -- "$area::"
done
stop_dynamodb
echo "DynamoDB Local suites: $((SECONDS - dynamodb_started)) s"

step "AWS deployment: cfn-lint, sam validate --lint, sam build (cargo-lambda, x86_64, no Docker)"
aws_started=$SECONDS
await_install "$aws_tools" aws-tools
(
  # cargo-lambda finds zig through the venv's python (ziglang); no AWS account or network needed.
  export PATH="$aws_venv/bin:$PATH" SAM_CLI_TELEMETRY=0
  # CI links without LTO to keep the step short; deployments use the full release profile
  # (docs/deploy.md, docs/lambda.md).
  export CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
  cfn-lint template.yaml
  echo "cfn-lint: clean"
  sam validate --lint
  build_started=$SECONDS
  # sam build runs `cargo lambda build --release --bin <name>` once per function, one after the
  # other; building all of them first in one cargo run links them in parallel, and sam build's
  # own runs then find them up to date.
  bins=()
  for f in functions/src/bin/*.rs; do bins+=(--bin "$(basename "$f" .rs)"); done
  cargo lambda build --release "${bins[@]}" >"$workdir/cargo-lambda.log" 2>&1 \
    || { cat "$workdir/cargo-lambda.log"; echo "cargo lambda build failed" >&2; exit 1; }
  echo "cargo lambda build: $(( ${#bins[@]} / 2 )) binaries in $((SECONDS - build_started)) s"
  sam build >"$workdir/sam-build.log" 2>&1 \
    || { cat "$workdir/sam-build.log"; echo "sam build failed" >&2; exit 1; }
  echo "sam build: $(grep -c 'Running RustCargoLambdaBuilder:CargoLambdaBuild' "$workdir/sam-build.log") functions in $((SECONDS - build_started)) s"
  # Every bootstrap starts against a runtime-API stub and answers its fixture's event.
  cargo run --quiet -p scim-functions --example lambda_init_time -- .aws-sam/build
)
echo "AWS step: $((SECONDS - aws_started)) s"

await_install "$scim2_tester_tools" scim2-tester
cargo build --quiet -p scimctl -p scim-tests --bin scimctl --bin local-gateway

# Starts a server on a free port (the command's arguments follow the port placeholder PORT), runs
# scim2-tester against the Tenant URL and Secret Token it prints, prints every result that is not
# a pass and the counts, and stops the server; a server that exits non-zero on stop fails too.
scim2_tester() {
  local name=$1 port server_pid url token status=0 stopped=0
  shift
  port=$(free_port)
  RUST_LOG=warn "${@//PORT/$port}" >"$workdir/serve-$name.out" 2>"$workdir/serve-$name.err" &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 1 300); do
    grep -q "Secret Token" "$workdir/serve-$name.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$workdir/serve-$name.err"; echo "$name: the server exited" >&2; exit 1; }
    sleep 0.1
  done
  url=$(awk '/Tenant URL/ {print $3}' "$workdir/serve-$name.out")
  token=$(awk '/Secret Token/ {print $3}' "$workdir/serve-$name.out")
  [ -n "$token" ] && [ -n "$url" ] || { echo "$name: the server printed no Tenant URL or token" >&2; cat "$workdir/serve-$name.err"; exit 1; }
  # Checks of features /ServiceProviderConfig declares unsupported would be listed here with
  # --allow CHECK=REASON; at present none is needed.
  "$venv/bin/python" tests/scim2_tester.py --url "$url" --token "$token" \
    >"$workdir/scim2-tester-$name.out" 2>&1 || status=$?
  kill -TERM "$server_pid"; wait "$server_pid" 2>/dev/null || stopped=$?
  grep -v '^PASS' "$workdir/scim2-tester-$name.out" || true
  [ "$status" -eq 0 ] || { echo "scim2-tester reported failures against $name (exit $status)" >&2; exit 1; }
  # 143: ended by the TERM above (scimctl serve); anything else non-zero is the server's verdict.
  if [ "$stopped" -ne 0 ] && [ "$stopped" -ne 143 ]; then
    cat "$workdir/serve-$name.err" >&2
    echo "$name failed on stop (exit $stopped)" >&2
    exit 1
  fi
}

step "scim2-tester against scimctl serve, embedded file store"
scim2_tester embedded ./target/debug/scimctl --store "$workdir/data" serve --addr "127.0.0.1:PORT"

step "scim2-tester against scimctl serve, DynamoDB Local"
start_dynamodb conformance
./target/debug/scimctl --store dynamodb://scim-conformance table create
scim2_tester dynamodb ./target/debug/scimctl --store dynamodb://scim-conformance serve --addr "127.0.0.1:PORT"

step "The deployed shape: the Lambda bootstraps behind the local API Gateway, IAM enforced at the table"
gateway_started=$SECONDS
# A DynamoDB Local of its own.
stop_dynamodb
start_dynamodb gateway
# template.yaml's routes, authorizer and gateway responses; each function's policy checked on
# every DynamoDB, stream and EventBridge call; a refused call fails the run.
SCIM_LAMBDA_BOOTSTRAPS=target/lambda cargo test -p scim-tests --test it -- --ignored gateway::
scim2_tester local-gateway ./target/debug/local-gateway --bootstraps target/lambda \
  --table scim-gateway-conformance --port PORT --logs "$workdir/gateway-logs"
echo "local API Gateway step: $((SECONDS - gateway_started)) s"

step "all tests passed in $((SECONDS - started)) s"
