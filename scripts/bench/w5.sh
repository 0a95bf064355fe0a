#!/usr/bin/env bash
# W5 of shared/BENCHMARKS.md: 1,000 every-minute schedules for three minutes
# (lateness of fires, server CPU and RSS); with SCHEDULES=N (e.g. 1000000),
# the time to load N schedules at start, and RSS. Prints one JSON line.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p baton -p baton-bench
exec timeout 900 target/release/baton-bench W5
