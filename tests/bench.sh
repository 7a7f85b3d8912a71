#!/usr/bin/env bash
# Benchmark: the latency, throughput and memory the gateway adds over a provider.
# Builds the release binaries, then runs gateway-bench (arguments are passed on; see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p llm-gateway -p gateway-tests --bin llm-gateway --bin gateway-bench --bin bare-proxy
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/gateway-bench" --gateway-bin "$target_dir/release/llm-gateway" "$@"
