#!/usr/bin/env bash
# End-to-end benchmark: installs the scikit-image peer's Python packages,
# builds follicount, then runs examples/bench.rs (see README, Performance).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet numpy scipy scikit-image tifffile imagecodecs
cargo build --release
cargo run --release --example bench -- "$@"
