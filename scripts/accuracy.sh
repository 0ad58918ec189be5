#!/usr/bin/env bash
# The accuracy tables of README.md, reproduced: follicount and the
# scikit-image peer (scripts/skimage_peer.py) on
#   - the broad simulated set (tools/conditions.rs: 200 fields of 512²,
#     every setting drawn from its range), per condition;
#   - ../shared/dev-sample (an independent simulator's sample), if present;
#   - fixtures/hard (our own generator).
#
#   scripts/accuracy.sh [WORK_DIR] [FIELDS]
#
# Needs python3 with numpy, scipy, scikit-image, tifffile and imagecodecs
# for the peer (as scripts/bench.sh installs them). About 6 minutes on 2 cores.
set -euo pipefail
work=${1:-target/accuracy} n=${2:-200}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cargo build --release --features dev --bin follicount --bin conditions >/dev/null
fc=target/release/follicount
mkdir -p "$work"
if [ ! -f "$work/broad/details.csv" ] || [ "$(($(cut -d, -f1 "$work/broad/details.csv" | sort -u | wc -l) - 1))" != "$n" ]; then
  rm -rf "$work/broad"
  target/release/conditions write "$work/broad" "$n" 70000 512
fi
"$fc" count "$work/broad" -o "$work/broad-follicount" --force >/dev/null
python3 scripts/skimage_peer.py "$work/broad" --out "$work/broad-skimage" >/dev/null
echo "## Broad simulated set ($n fields)"
target/release/conditions score "$work/broad" "$work/broad-follicount" "$work/broad-skimage"
dev=../shared/dev-sample
if [ -d "$dev" ]; then
  "$fc" count "$dev" -o "$work/dev-follicount" --force >/dev/null
  python3 scripts/skimage_peer.py "$dev" --out "$work/dev-skimage" >/dev/null
  for tool in follicount skimage; do
    echo "## dev-sample, $tool"
    "$fc" score "$work/dev-$tool" --truth "$dev/truth.csv"
  done
fi
"$fc" count fixtures/hard -o "$work/hard-follicount" --force >/dev/null
python3 scripts/skimage_peer.py fixtures/hard --out "$work/hard-skimage" >/dev/null
for tool in follicount skimage; do
  echo "## fixtures/hard, $tool"
  "$fc" score "$work/hard-$tool" --truth fixtures/hard/truth.csv | tail -1
done
