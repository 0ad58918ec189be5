#!/usr/bin/env bash
# End-to-end benchmark: installs the scikit-image peer's Python packages,
# builds follicount, then runs tools/bench.rs (see docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet numpy scipy scikit-image tifffile imagecodecs
cargo build --release --features dev --bins
cargo run --release --features dev --bin bench -- "$@"
