#!/usr/bin/env bash
# W3 of shared/BENCHMARKS.md against a release `baton serve` on a fresh
# database; prints one JSON line. Env: BACKEND (sqlite), NODES (1), STEP (noop|shell).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p baton -p baton-bench
exec timeout 600 target/release/baton-bench W3
