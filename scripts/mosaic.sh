#!/usr/bin/env bash
# Mosaic benchmark (issue 21; docs/mosaic.md). Writes its output to
# docs/mosaic-bench.txt when given --save.
#  1. Block analysis equals whole-plane analysis: tiled mosaics of 4096²
#     and 8192² (16 and 64 broad-simulator tiles of 1024², follicles
#     crossing every block border), counted whole and in blocks of 1024,
#     2048 and 3000 px: fields.csv and follicles.csv must be identical.
#  2. A 30000² mosaic (900 tiles of 1000², 60 distinct fields repeated,
#     tiled pyramidal BigTIFF OME-TIFF, 5.4 GB decoded) counted at -j 2:
#     wall time, peak RSS, MPix/s per thread, against the flat-field
#     benchmark's (tools/bench.rs --quick, 32 fields of 2048², -j 2) and
#     the whole-plane analysis of the 8192² mosaic at -j 1, both in the
#     same run; then the same mosaic saved as OME-Zarr, whose tables must
#     be the OME-TIFF's.
# Needs about 16 GB of disk under $TMPDIR and 8 GB of memory to generate.
set -euo pipefail
cd "$(dirname "$0")/.."
save=0
[ "${1:-}" = "--save" ] && save=1
cargo build --release --features dev --bins 2>/dev/null
bin=target/release/follicount
gen=target/release/mosaic
work=$(mktemp -d "${TMPDIR:-/tmp}/follicount-mosaic-XXXX")
trap 'rm -rf "$work"' EXIT
report=$work/report.txt
say() { echo "$*" | tee -a "$report"; }
timed() { # label, then the command: prints wall s and peak RSS MiB
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || {
    local rc=$?
    [ "$rc" -eq 1 ] || { cat "$work/err"; exit "$rc"; }
  }
  read -r wall kib < "$work/time"
  echo "$wall $((kib / 1024))"
}

say "# scripts/mosaic.sh at $(git rev-parse --short HEAD), $(date -u +%F), $(nproc) cores"

say ""
say "== 1. blocks against the whole plane"
for n in 4 8; do
  dir=$work/m$n
  $gen "$dir" "$n" 1024 1 330000 tiled-only >/dev/null
  side=$((n * 1024))
  read -r wall rss < <(timed whole $bin count "$dir/mosaic" -o "$dir/whole" -j 1 --force)
  follicles=$(($(wc -l < "$dir/whole/follicles.csv") - 1))
  say "${side}²: whole plane ${wall} s, ${rss} MiB, $follicles follicles"
  for core in 1024 2048 3000; do
    printf 'max_plane_pixels = 16000000\nblock_px = %s\n' "$core" > "$dir/blocks.toml"
    read -r wall rss < <(timed blocks $bin count "$dir/mosaic" -o "$dir/b$core" -j 2 --force --config "$dir/blocks.toml")
    same=identical
    for t in fields.csv follicles.csv; do
      cmp -s "$dir/whole/$t" "$dir/b$core/$t" || same="DIFFERENT ($t)"
    done
    say "  blocks of $core px (-j 2): ${wall} s, ${rss} MiB: tables $same"
    [ "$same" = identical ] || exit 1
  done
done
ref_wall=$(awk '/^8192²: whole plane/ {print $4}' "$report")
ref=$(echo "8192 * 8192 / 1000000 / $ref_wall" | bc -l)

say ""
say "== 2. a 30000² mosaic"
big=$work/big
/usr/bin/time -f "%e" -o "$work/time" $gen "$big" 30 1000 1 320000 tiled+zarr-only 60 >/dev/null
say "generated in $(cat "$work/time") s: $(du -h "$big/mosaic/mosaic_0.ome.tif" | cut -f1) OME-TIFF, $(du -sh "$big/zarr/mosaic_0.ome.zarr" | cut -f1) OME-Zarr on disk"
read -r wall rss < <(timed big $bin count "$big/mosaic" -o "$big/out" -j 2 --force)
follicles=$(($(wc -l < "$big/out/follicles.csv") - 1))
per_thread=$(echo "30000 * 30000 / 1000000 / $wall / 2" | bc -l)
say "30000² at -j 2: ${wall} s, peak RSS ${rss} MiB, $follicles follicles"
say "  against its truth: $($bin score "$big/out" --truth "$big/mosaic/truth.csv" | tail -1)"
# The flat-field benchmark, in this run (its line at -j one per core:
# MPix/s ÷ cores).
flat=$(cargo run --release --features dev --bin bench -- --quick 2>/dev/null |
  awk -v n="$(nproc)" '/^== flat/ {f = 1} f && $1 == "follicount" && $3 == n {print $8 / n; exit}')
printf 'throughput: %.1f MPix/s per thread; flat-field benchmark (-j %s): %.1f MPix/s per thread, ratio %.2f (the issue: at least 0.75); whole 8192² plane at -j 1: %.1f MPix/s, ratio %.2f\n' \
  "$per_thread" "$(nproc)" "$flat" "$(echo "$per_thread / $flat" | bc -l)" "$ref" "$(echo "$per_thread / $ref" | bc -l)" | tee -a "$report"
read -r wall rss < <(timed zarr $bin count "$big/zarr" -o "$big/out-zarr" -j 2 --force)
same=identical
for t in fields.csv follicles.csv; do
  cmp -s <(sed 's/mosaic_0.ome.tif,/mosaic_0.ome.zarr,/' "$big/out/$t") "$big/out-zarr/$t" || same="DIFFERENT ($t)"
done
say "the same mosaic as OME-Zarr (NGFF 0.5, 512² Zstd chunks) at -j 2: ${wall} s, peak RSS ${rss} MiB: tables $same"
[ "$save" = 1 ] && cp "$report" docs/mosaic-bench.txt
[ "$same" = identical ] || exit 1
exit 0
