#!/usr/bin/env bash
# The 3D accuracy table of README.md (issue 19): the 3D simulator's stacks
# (tools/stacks: 384², 30/40/60 slices, 1.5-3.5 µm z steps, densities
# 0.5-1.5x; every setting drawn from its range) scored in 3D (15 µm) for
# follicount's 3D analysis, its projection (--mode 2d, matched in x-y) and
# the scipy / scikit-image 3D peer; and, of the pairs drawn one over the
# other (overlapping in the projection), how many each separates (both
# follicles of the pair matched).
#
#   scripts/accuracy3d.sh [WORK_DIR] [STACKS]
#
# About 8 minutes for 100 stacks on 2 cores (the peer is most of it).
set -euo pipefail
work=${1:-target/accuracy3d} n=${2:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cargo build --release --features dev --bin follicount --bin stacks >/dev/null
fc=target/release/follicount
mkdir -p "$work"
if [ "$(ls "$work/stacks"/*.tif 2>/dev/null | wc -l)" != "$n" ]; then
  rm -rf "$work/stacks"
  target/release/stacks "$work/stacks" "$n" 384 90000 >/dev/null
fi
"$fc" count "$work/stacks" -o "$work/3d" --force >/dev/null || true
"$fc" count "$work/stacks" -o "$work/2d" --mode 2d --force >/dev/null || true
python3 scripts/peer3d.py "$work/stacks" --out "$work/peer" >/dev/null
python3 - "$work" <<'PY'
import csv, math, sys, collections
work = sys.argv[1]
truth = collections.defaultdict(list)
for r in csv.DictReader(open(f"{work}/stacks/truth.csv")):
    truth[r["file"]].append(r)
print(f"| analysis | follicles | F1 | precision | recall | count error | stacked pairs separated |")
print("|---|---|---|---|---|---|---|")
for name, label in [("3d", "follicount 3D"), ("2d", "follicount projection (--mode 2d)"), ("peer", "scipy/scikit-image 3D peer")]:
    det = collections.defaultdict(list)
    for r in csv.DictReader(open(f"{work}/{name}/follicles.csv")):
        det[r["file"]].append(r)
    px = {r["file"]: float(r["pixel_size_um"]) for r in csv.DictReader(open(f"{work}/{name}/fields.csv"))}
    tp = nd = nt = 0
    pairs = collections.defaultdict(list)
    rel = []
    for f, T in truth.items():
        D = det[f]
        p = px[f]
        def dist(t, d):
            xy = math.hypot(float(t["x"]) - float(d["x"]), float(t["y"]) - float(d["y"])) * p
            z = d.get("z") or ""
            return math.hypot(xy, float(t["z"]) - float(z)) if z else xy
        cand = sorted((dist(t, d), i, j) for i, t in enumerate(T) for j, d in enumerate(D))
        mt, md = set(), set()
        for dd, i, j in cand:
            if dd <= 15 and i not in mt and j not in md:
                mt.add(i); md.add(j)
        tp += len(mt); nd += len(D); nt += len(T)
        rel.append(abs(len(D) - len(T)) / max(1, len(T)))
        for i, t in enumerate(T):
            if t["pair"]:
                pairs[(f, t["pair"])].append(i in mt)
    P, R = tp / max(1, nd), tp / max(1, nt)
    F = 2 * tp / max(1, nd + nt)
    sep = sum(all(v) for v in pairs.values())
    print(f"| {label} | {nt} | {F:.3f} | {P:.3f} | {R:.3f} | {100 * sum(rel) / len(rel):.1f} % | {sep} of {len(pairs)} |")
PY
