#!/usr/bin/env bash
# Submits a follicount run to SLURM: a job array with one task per shard of
# the inputs, then a merge job that starts when every task has succeeded
# (--dependency=afterok) and writes the tables of the whole run.
#
#   deploy/slurm/submit.sh             # the whole run
#   deploy/slurm/submit.sh --only 3    # shard 3 again (its task failed), then the merge
#
# Results: OUTPUT/merged/ (fields.csv, follicles.csv, report.html, run.json),
# each shard's own folder in OUTPUT/shards/shard-I/, logs in OUTPUT/logs/.
set -euo pipefail

# ---- Edit here (or set these in the environment) --------------------------
: "${INPUT:=/data/day1}"              # folders or files to analyse, space-separated
: "${OUTPUT:=$HOME/follicount/day1}"  # where shards, merged results and logs go
: "${SHARDS:=8}"                      # tasks in the array (shards of the inputs)
: "${CPUS:=4}"                        # CPUs per task (follicount -j)
: "${FIELD_MB:=100}"                  # decoded size of the largest field, MB:
                                      # width × height × channels × slices × 2 / 1e6
                                      # (2048² × 3 plane: 25; 1024² × 3 × 60 stack: 380)
: "${TIME:=04:00:00}"                 # wall-time limit per task
: "${FOLLICOUNT:=follicount}"         # the binary (its full path if not on PATH)
: "${ARGS:=}"                         # more count options: --overlay --config lab.toml
: "${SBATCH_ARGS:=}"                  # more sbatch options: --partition=short --account=lab
# ---------------------------------------------------------------------------

here=$(cd "$(dirname "$0")" && pwd)
# Memory per task from follicount's per-field bound: each worker holds one
# field and peaks at about twice its decoded size (z-stacks in 3D; a 2D
# field needs less), plus 100 MB of buffers per worker and 300 MB for the
# process.
mem=$((300 + CPUS * (2 * FIELD_MB + 100)))
mkdir -p "$OUTPUT/logs"
export FOLLICOUNT ARGS
# shellcheck disable=SC2206 # SBATCH_ARGS is a list of options
common=(--parsable --time="$TIME" $SBATCH_ARGS)
# shellcheck disable=SC2086 # INPUT is a list of paths
if [ "${1:-}" = --only ]; then
  i=${2:?usage: submit.sh --only I}
  shards=$(SHARD="$i/$SHARDS" sbatch "${common[@]}" --job-name=follicount \
    --cpus-per-task="$CPUS" --mem="${mem}M" --output="$OUTPUT/logs/%x-%j.out" \
    "$here/shard.sbatch" "$OUTPUT" $INPUT)
else
  unset SHARD
  shards=$(sbatch "${common[@]}" --job-name=follicount --array="1-$SHARDS" \
    --cpus-per-task="$CPUS" --mem="${mem}M" --output="$OUTPUT/logs/%x-%A_%a.out" \
    "$here/shard.sbatch" "$OUTPUT" $INPUT)
fi
shards=${shards%%;*}
merge=$(sbatch "${common[@]}" --job-name=follicount-merge --cpus-per-task=1 --mem=2000M \
  --dependency="afterok:$shards" --kill-on-invalid-dep=yes \
  --output="$OUTPUT/logs/%x-%j.out" "$here/merge.sbatch" "$OUTPUT" "$SHARDS")
merge=${merge%%;*}
echo "submitted: shards job $shards, merge job $merge (runs once every shard has succeeded)"
echo "watch: squeue -j $shards,$merge   results: $OUTPUT/merged"
