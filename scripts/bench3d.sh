#!/usr/bin/env bash
# The 3D benchmark of README.md (issue 19), side by side in one run:
#   - 4 stacks of 512² × 40 (the 3D simulator, tools/stacks): follicount
#     (-j 2) and the scipy / scikit-image 3D peer (scripts/peer3d.py, 2
#     processes) — time, voxels per second, peak RSS, the ratio, F1;
#   - one stack of 2048² × 100 (2.5 GB decoded): follicount -j 1, time,
#     voxels per second, peak RSS against the decoded size; the peer too
#     with BIG_PEER=1 (about 15 minutes and tens of GB);
#   - the 3D kernels' throughput (tools/label3d.rs), beside cc3d's
#     published labelling figures.
#
#   scripts/bench3d.sh [WORK_DIR]
#
# Needs python3 with numpy, scipy, scikit-image and tifffile. Writing the
# big stack takes about 7 minutes and 10 GB the first time.
set -euo pipefail
work=${1:-target/bench3d}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cargo build --release --features dev --bin follicount --bin stacks --bin label3d >/dev/null
fc=target/release/follicount
mkdir -p "$work"
[ -f "$work/small/truth.csv" ] || target/release/stacks "$work/small" 4 512 90000 40 >/dev/null
[ -f "$work/big/truth.csv" ] || target/release/stacks "$work/big" 1 2048 777 100 >/dev/null
run() { # name command... -> "seconds peak_kib"
  /usr/bin/time -f "%e %M" -o "$work/$1.time" "${@:2}" >/dev/null 2>&1
  cat "$work/$1.time"
}
mvx() { python3 -c "print(f'{$1 / 1e6 / $2:.1f}')"; }
small_vx=$((4 * 512 * 512 * 40))
big_vx=$((2048 * 2048 * 100))
rm -rf "$work/small-fc" "$work/small-peer" "$work/big-fc" "$work/big-peer"
read -r fc_s fc_kb < <(run small-fc "$fc" count "$work/small" -o "$work/small-fc" -j 2)
read -r pe_s pe_kb < <(run small-peer python3 scripts/peer3d.py "$work/small" --jobs 2 --out "$work/small-peer")
f1() { "$fc" score "$1" --truth "$2/truth.csv" --json | python3 -c "import json,sys; print(f\"{json.load(sys.stdin)['f1']:.3f}\")"; }
echo "## 4 stacks of 512² × 40 ($((small_vx / 1000000)) MVx), 2 cores"
echo "| tool | seconds | MVx/s | peak RSS | F1 |"
echo "|---|---|---|---|---|"
echo "| follicount -j 2 | $fc_s | $(mvx $small_vx "$fc_s") | $((fc_kb / 1024)) MiB | $(f1 "$work/small-fc" "$work/small") |"
echo "| scipy/scikit-image peer, 2 processes | $pe_s | $(mvx $small_vx "$pe_s") | $((pe_kb / 1024)) MiB (one process) | $(f1 "$work/small-peer" "$work/small") |"
echo "peer / follicount time: $(python3 -c "print(f'{$pe_s / $fc_s:.1f}x')")"
echo
read -r big_s big_kb < <(run big-fc "$fc" count "$work/big" -o "$work/big-fc" -j 1)
decoded=$((big_vx * 3 * 2 / 1024))
echo "## one stack of 2048² × 100 ($((big_vx / 1000000)) MVx, $((decoded / 1024)) MiB decoded), -j 1"
echo "| tool | seconds | MVx/s | peak RSS | RSS / decoded | F1 |"
echo "|---|---|---|---|---|---|"
echo "| follicount | $big_s | $(mvx $big_vx "$big_s") | $((big_kb / 1024)) MiB | $(python3 -c "print(f'{$big_kb / $decoded:.2f}')") | $(f1 "$work/big-fc" "$work/big") |"
if [ "${BIG_PEER:-0}" = 1 ]; then
  read -r bp_s bp_kb < <(run big-peer python3 scripts/peer3d.py "$work/big" --jobs 1 --out "$work/big-peer")
  echo "| peer | $bp_s | $(mvx $big_vx "$bp_s") | $((bp_kb / 1024)) MiB | $(python3 -c "print(f'{$bp_kb / $decoded:.2f}')") | $(f1 "$work/big-peer" "$work/big") |"
fi
echo
echo "## 3D kernels, one core (cc3d publishes tens to hundreds of MVx/s for 26-connected labelling)"
target/release/label3d
