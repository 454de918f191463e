#!/usr/bin/env bash
# Builds every function with the deploy profile (the release profile: fat LTO, one codegen unit,
# stripped) and prints each bootstrap's size and start-up times against a local runtime-API stub
# (examples/lambda_init_time.rs). docs/lambda.md shows its output.
#
#   functions/measure.sh            # x86_64, the architecture this machine can run
#
# Needs cargo-lambda and zig on PATH (tests/requirements-aws.txt). Builds into target/deploy so
# that it does not replace the CI-profile build of tests/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy_target=target/deploy
started=$SECONDS
CARGO_TARGET_DIR=$deploy_target cargo lambda build --release -p scim-functions
echo "deploy-profile build of every function: $((SECONDS - started)) s"
echo
cargo run --quiet -p scim-functions --example lambda_init_time -- "$deploy_target/lambda"
