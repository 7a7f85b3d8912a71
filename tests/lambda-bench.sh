#!/usr/bin/env bash
# Benchmark of the Lambda functions: package size, init time (process start to the first
# Runtime API /next call), first invocation and peak memory (tests/src/bin/lambda-bench.rs).
# Builds the packages as the test command does (cargo lambda build --release, x86_64), then
# measures them; arguments are passed on (see --help), e.g. --runs 20 --functions completions.
# cargo-lambda comes from PATH, else from the test command's tools cache.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${LLM_GATEWAY_TOOLS_DIR:-$HOME/.cache/llm-gateway-tools}"
cargo_lambda=$(command -v cargo-lambda || echo "$tools/sam-venv/bin/cargo-lambda")
target_dir="${CARGO_TARGET_DIR:-target}"
bins=()
for f in completions admin dashboard recommendations spend-alerts; do
    [ -f "functions/$f/Cargo.toml" ] && bins+=(--bin "$f")
done
"$cargo_lambda" lambda build --release --config infra/lambda-release.toml --compiler cargo \
    --x86-64 "${bins[@]}"
cargo build -p gateway-tests --bin lambda-bench
exec "$target_dir/debug/lambda-bench" --lambda-dir "$target_dir/lambda" "$@"
