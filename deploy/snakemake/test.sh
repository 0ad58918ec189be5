#!/usr/bin/env bash
# Runs deploy/snakemake/Snakefile on the fixtures in 3 shards (Snakemake
# from PyPI, in a virtual environment under target/ when not installed)
# and compares the merged tables with one `follicount count` byte for byte.
#
#   deploy/snakemake/test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
work=$root/target/snakemake-test
fail() {
  echo "snakemake-test: FAILED: $*" >&2
  exit 1
}
if command -v snakemake >/dev/null; then
  snakemake=snakemake
else
  venv=$root/target/snakemake-venv
  if [ ! -x "$venv/bin/snakemake" ]; then
    echo "snakemake-test: installing snakemake from PyPI into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q snakemake
  fi
  snakemake=$venv/bin/snakemake
fi
cargo build -q --release --bin follicount
bin=$root/target/release/follicount
rm -rf "$work"
mkdir -p "$work"
echo "snakemake-test: snakemake $("$snakemake" --version), 3 shards over fixtures/"
(cd "$work" && "$snakemake" -s "$root/deploy/snakemake/Snakefile" --cores 2 --quiet rules \
  --config input="$root/fixtures" output="$work/out" shards=3 threads=1 follicount="$bin")
for i in 1 2 3; do
  [ -f "$work/out/shards/shard-$i/shard.jsonl" ] || fail "shard $i did not run"
done
set +e
"$bin" count "$root/fixtures" -o "$work/one" 2>/dev/null
rc=$?
set -e
[ "$rc" -le 1 ] || fail "single run exited $rc"
for f in fields.csv follicles.csv; do
  cmp "$work/one/$f" "$work/out/merged/$f" || fail "$f differs from one run"
done
echo "snakemake-test: PASSED (merged tables byte-identical to one run)"
