#!/usr/bin/env bash
# Two complete runs from scratch must be byte-identical (issue 20), whatever the state
# of the numba cache.
#
#   benchmarks/rerun_identity.sh [CONFIGFILE] [CORES]     (defaults: config/test.yaml, 2)
#
# Clones the committed HEAD of this repository into a fresh temporary directory and runs
# `snakemake --cores CORES --configfile CONFIGFILE` there twice from scratch (no results/,
# logs/ or .snakemake/): the first run with an empty numba cache (NUMBA_CACHE_DIR a new
# directory, so every kernel is compiled in the run), the second with the cache the first
# run filled (every kernel loaded from it). The clone's code is used (PYTHONPATH=clone/src);
# the Python environment is the one whose snakemake is first on PATH, or $ALPSCAN_PYTHON's
# directory. Every file under results/ of the two runs is compared by sha256; the differing
# files are printed and the exit status is 1 if there are any.
#
# Excluded, and only these, because their content is a measurement of the run itself:
#   results/benchmarks/**.tsv   Snakemake `benchmark:` tables (wall time, CPU time, memory
#                               of each job)
# The wall time and peak memory of each run (/usr/bin/time -v, when present) and the
# machine load before and after it are printed.
# Logs are written to logs/, outside results/, and are not compared (they hold timings).
# Uncommitted changes are not part of the check: commit first.
set -euo pipefail

config=${1:-config/test.yaml}
cores=${2:-2}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
if [[ -n ${ALPSCAN_PYTHON:-} ]]; then
    bindir=$(dirname "$ALPSCAN_PYTHON")
else
    bindir=$(dirname "$(command -v snakemake)")
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/rerun_identity.XXXXXX")
echo "work directory: $work"
git clone --quiet "$repo" "$work/tree"
echo "commit: $(git -C "$work/tree" rev-parse HEAD)"
export NUMBA_CACHE_DIR="$work/numba_cache"
export PYTHONPATH="$work/tree/src"
mkdir "$NUMBA_CACHE_DIR"

for run in cold warm; do
    echo "== run '$run': numba cache holds $(find "$NUMBA_CACHE_DIR" -name '*.nbc' | wc -l) kernels"
    (
        cd "$work/tree"
        rm -rf results logs .snakemake
        echo "   load before: $(uptime)"
        timer=()
        [[ -x /usr/bin/time ]] && timer=(/usr/bin/time -v -o "$work/time_$run.txt")
        "${timer[@]}" "$bindir/snakemake" --cores "$cores" --configfile "$config" \
            > "$work/snakemake_$run.out" 2>&1 \
            || { tail -40 "$work/snakemake_$run.out"; exit 1; }
        echo "   load after:  $(uptime)"
        [[ -f $work/time_$run.txt ]] && grep -E 'Elapsed|Maximum resident' "$work/time_$run.txt" | sed 's/^\s*/   /' 
        mv results "$work/results_$run"
        mv logs "$work/logs_$run"
    )
    echo "   done: $(find "$work/results_$run" -type f | wc -l) files under results/"
done

excluded='^\./benchmarks/.*\.tsv$'
sums() {
    (cd "$1" && find . -type f | LC_ALL=C sort | grep -Ev "$excluded" | xargs -d '\n' sha256sum)
}
sums "$work/results_cold" > "$work/sha256_cold.txt"
sums "$work/results_warm" > "$work/sha256_warm.txt"
n_files=$(wc -l < "$work/sha256_cold.txt")
n_excluded=$(cd "$work/results_cold" && find . -type f | grep -Ec "$excluded" || true)
echo "compared $n_files files under results/ ($n_excluded benchmark tables excluded)"
if diff "$work/sha256_cold.txt" "$work/sha256_warm.txt" > "$work/sha256.diff"; then
    echo "identical: every compared file has the same sha256 in both runs"
else
    echo "DIFFERENT files (< cold run, > warm run):"
    grep '^[<>]' "$work/sha256.diff" | awk '{print $1, $3}' | sort -k2 -u
    exit 1
fi
