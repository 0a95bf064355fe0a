#!/usr/bin/env bash
# W4 of shared/BENCHMARKS.md: 50 sequential triggers by REST and 50 by signed
# webhook (alternating), each timed from the call to its first step's start,
# against a release `baton serve` on a fresh database; prints one JSON line.
# Env: BACKEND (sqlite), NODES (1), STEP (noop|shell).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p baton -p baton-bench
exec timeout 600 target/release/baton-bench W4
