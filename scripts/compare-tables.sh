#!/usr/bin/env bash
# Runs two follicount binaries on the same inputs and compares their
# tables byte for byte: the proof that a change left behaviour alone.
#
#   scripts/compare-tables.sh OLD_BIN NEW_BIN INPUT_DIR... [-- COUNT_FLAGS...]
#
# Exit 0 when fields.csv and follicles.csv are identical for every input
# folder, 1 when any differs (the diff's first lines are shown).
set -uo pipefail
old=$1 new=$2; shift 2
dirs=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do dirs+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
status=0
for d in "${dirs[@]}"; do
  for side in old new; do
    bin=$old; [ $side = new ] && bin=$new
    "$bin" count "$d" -o "$work/$side" --force "$@" >/dev/null 2>&1
  done
  for t in fields.csv follicles.csv; do
    rows=$(($(wc -l < "$work/new/$t") - 1))
    if cmp -s "$work/old/$t" "$work/new/$t"; then
      echo "identical  $d/$t ($rows rows)"
    else
      echo "DIFFERENT  $d/$t"; diff "$work/old/$t" "$work/new/$t" | head -5; status=1
    fi
  done
done
exit $status
