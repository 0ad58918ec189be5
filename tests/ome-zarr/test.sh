#!/usr/bin/env bash
# OME-Zarr written by an independent writer: the fixtures' TIFFs saved by
# ome-zarr-py (from PyPI, in a virtual environment under target/) as
# NGFF 0.4 (Zarr v2, Blosc) and 0.5 (Zarr v3, Zstd in shards), a
# multi-series file as a bioformats2raw layout; `follicount count` must
# give each Zarr copy the TIFF's rows in fields.csv and follicles.csv.
#
#   tests/ome-zarr/test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
work=$root/target/ome-zarr-test
fail() {
  echo "ome-zarr-test: FAILED: $*" >&2
  exit 1
}
venv=$root/target/ome-zarr-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import ome_zarr, imagecodecs" 2>/dev/null; then
  echo "ome-zarr-test: installing ome-zarr, tifffile and imagecodecs from PyPI into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "ome-zarr==0.18.*" "zarr==3.*" tifffile imagecodecs
fi
cargo build -q --release --bin follicount
bin=$root/target/release/follicount
rm -rf "$work"
mkdir -p "$work/tif" "$work/zarr"
tifs=(imagej_cyx_deflate.tif imagej_zcyx_lzw.tif ome_two_series.ome.tif rgb8_lzw.tif
  bigtiff_deflate.tif hard/hard_00.tif hard/hard_03.tif)
for t in "${tifs[@]}"; do
  cp "fixtures/$t" "$work/tif/"
done
"$venv/bin/python" tests/ome-zarr/write.py "$work/zarr" "$work"/tif/*.tif* 2>/dev/null >/dev/null \
  || fail "the writer failed"
"$bin" count "$work/tif" -o "$work/out-tif" 2>/dev/null || fail "count on the TIFFs exited $?"
"$bin" count "$work/zarr" -o "$work/out-zarr" 2>/dev/null || fail "count on the Zarrs exited $?"
n=0
for t in "$work"/tif/*; do
  name=$(basename "$t")
  stem=${name%%.*}
  for v in v04 v05; do
    z=$stem.$v.ome.zarr
    for table in fields.csv follicles.csv; do
      a=$(grep "^$name," "$work/out-tif/$table" | cut -d, -f2-)
      b=$(grep "^$z," "$work/out-zarr/$table" | cut -d, -f2-)
      [ -n "$a" ] || fail "no rows for $name in $table"
      [ "$a" == "$b" ] || fail "$z differs from $name in $table: $(diff <(echo "$a") <(echo "$b") | head -5)"
    done
    n=$((n + 1))
  done
done
rows=$(($(wc -l <"$work/out-zarr/follicles.csv") - 1))
echo "ome-zarr-test: PASSED ($n OME-Zarr images, $rows follicle rows, identical to their TIFFs')"
