#!/usr/bin/env bash
# Assert, from Slurm accounting, that a Snakemake run really went through
# Slurm and that every job it submitted succeeded.
#
# usage: .ci/check-sacct.sh RUN_START_TIME MIN_JOBS
#   RUN_START_TIME  anything `sacct --starttime` accepts, e.g. the output of
#                   `date +%Y-%m-%dT%H:%M:%S` taken just before the run
#   MIN_JOBS        minimum number of Snakemake jobs expected
#
# Snakemake jobs are recognised by their job comment `rule_<rule>[...]`, which
# the slurm executor plugin sets and slurmdbd stores thanks to
# AccountingStoreFlags=job_comment (see .ci/slurm-up.sh). Other jobs in the
# window (smoke tests, ...) are shown but ignored.
#
# Passes (exit 0) if at least MIN_JOBS such jobs are found and all of them
# are COMPLETED; otherwise prints why and exits 1 (2 on bad usage).
# Jobs reach the accounting DB a second or two after they end, so the script
# polls up to SACCT_WAIT seconds (default 30) until no job is still pending or
# running and MIN_JOBS have shown up.
# ALLOW_RETRIED=1 tolerates a failed job if a later job with the same comment
# (a Snakemake retry of that job) COMPLETED.
set -uo pipefail

if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 RUN_START_TIME MIN_JOBS" >&2
  exit 2
fi
START=$1 MIN=$2
WAIT=${SACCT_WAIT:-30}
ALLOW_RETRIED=${ALLOW_RETRIED:-0}

query() {
  sacct -X -n -P --starttime "$START" -o JobID,JobName,State,Comment
}

table="" rc=0
for i in $(seq 0 "$WAIT"); do
  table=$(query 2>&1); rc=$?
  if [ $rc -eq 0 ]; then
    rule_rows=$(printf '%s\n' "$table" | awk -F'|' '$4 ~ /^rule_/')
    n=$(printf '%s\n' "$rule_rows" | grep -c . || true)
    busy=$(printf '%s\n' "$rule_rows" \
      | awk -F'|' '{split($3, s, " ")} s[1] ~ /^(PENDING|RUNNING|COMPLETING|CONFIGURING|REQUEUED|RESIZING|SUSPENDED)$/' \
      | grep -c . || true)
    [ "$n" -ge "$MIN" ] && [ "$busy" -eq 0 ] && break
  fi
  [ "$i" -lt "$WAIT" ] && sleep 1
done

echo "sacct -X -n -P --starttime $START -o JobID,JobName,State,Comment"
echo "JobID|JobName|State|Comment"
printf '%s\n' "$table"
echo

if [ $rc -ne 0 ]; then
  echo "check-sacct: FAIL: sacct failed (exit $rc); is slurmdbd running?" >&2
  exit 1
fi

# Verdict. The state column may read e.g. "CANCELLED by 0": use its first word.
printf '%s\n' "$table" | awk -F'|' -v min="$MIN" -v allow="$ALLOW_RETRIED" '
  $4 !~ /^rule_/ { next }
  {
    split($3, s, " "); st = s[1]
    n++; order[n] = $1; comment[$1] = $4; state[$1] = st
    if (st == "COMPLETED") { ok++; done[$4] = 1 }
  }
  END {
    bad = 0
    for (i = 1; i <= n; i++) {
      id = order[i]
      if (state[id] == "COMPLETED") continue
      if (allow == 1 && (comment[id] in done)) {
        printf "check-sacct: note: job %s (%s) %s, retried and COMPLETED later\n", id, comment[id], state[id]
        continue
      }
      printf "check-sacct: job %s (%s) is %s, not COMPLETED\n", id, comment[id], state[id] > "/dev/stderr"
      bad++
    }
    if (n < min) {
      printf "check-sacct: FAIL: %d Snakemake (rule_*) jobs found, expected at least %d\n", n, min > "/dev/stderr"
      exit 1
    }
    if (bad > 0) {
      printf "check-sacct: FAIL: %d of %d Snakemake jobs did not complete\n", bad, n > "/dev/stderr"
      exit 1
    }
    printf "check-sacct: OK: %d Snakemake jobs via Slurm, %d COMPLETED (minimum %d)\n", n, ok, min
  }'
