#!/usr/bin/env bash
# Side-by-side timing of two follicount binaries on the same folder,
# alternating runs so that the machine's drift hits both alike.
#
#   scripts/ab.sh OLD_BIN NEW_BIN DIR [ROUNDS] [JOBS]
#
# Prints each run's wall time and the ratio of the medians (new / old).
set -euo pipefail
old=$1 new=$2 dir=$3 rounds=${4:-5} jobs=${5:-2}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
run() { local s e; s=$(date +%s.%N); "$1" count "$dir" -o "$out/o" --force -j "$jobs" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc; }
run "$old" >/dev/null; run "$new" >/dev/null   # warm the page cache
a=(); b=()
for _ in $(seq "$rounds"); do a+=("$(run "$old")"); b+=("$(run "$new")"); done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
echo "old: ${a[*]}"; echo "new: ${b[*]}"
echo "median old $ma s, new $mb s, new/old $(echo "scale=3; $mb / $ma" | bc)"
