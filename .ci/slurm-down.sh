#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by .ci/slurm-up.sh.
#
# Daemons are stopped one by one, by the PID in their pid file (never by
# name), in reverse start order: slurmd, slurmctld, slurmdbd, MariaDB, munged.
# Idempotent: pid files that are missing or point at dead processes are
# skipped. Stale pid files are removed (a stale /run/slurmctld.pid makes
# `apt-get purge slurmctld` fail). Packages, configs and the accounting DB
# are left in place so that the next slurm-up.sh is fast.
set -uo pipefail

[ "$(id -u)" = 0 ] || { echo "slurm-down.sh: must run as root" >&2; exit 1; }

stop_pidfile() {  # stop_pidfile <pidfile> <name>
  local pf=$1 name=$2 pid
  [ -s "$pf" ] || { rm -f "$pf"; return 0; }
  pid=$(cat "$pf")
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    echo "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "$name (pid $pid) still alive after 30 s, sending SIGKILL" >&2
      kill -9 "$pid" 2>/dev/null || true
      sleep 1
    fi
  fi
  rm -f "$pf"
}

stop_pidfile /run/slurmd.pid          slurmd
stop_pidfile /run/slurmctld.pid       slurmctld
stop_pidfile /run/slurmdbd.pid        slurmdbd
stop_pidfile /run/mysqld/mysqld.pid   mariadbd
stop_pidfile /run/munge/munged.pid    munged
exit 0
