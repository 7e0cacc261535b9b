#!/usr/bin/env bash
# A real one-node (Son of) Grid Engine cell on this machine for the tests, without systemd.
#
# Idempotent: installs Debian's gridengine-master/-exec/-client when missing (debconf
# preseeded, so the package itself creates the cell "default" under /var/lib/gridengine),
# starts sge_qmaster and sge_execd unless they already run (by their pid files), and
# makes one queue, all.q, on this host. Three things differ from a real site, all for a
# container: this host's name is aliased to localhost (127.0.0.1 resolves to
# "localhost", which Grid Engine would otherwise refuse as a different host), root may
# run jobs (min_uid 0), the scheduler runs every second instead of every 15 s, and the
# queue has no load thresholds (a busy CI machine must not put it in alarm).
# scripts/gridengine-down.sh stops exactly those pids.
set -euo pipefail
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
host=$(hostname)
common=$SGE_ROOT/$SGE_CELL/common
run=/var/run/gridengine

if ! command -v qsub >/dev/null || [[ ! -x /usr/sbin/sge_qmaster || ! -x /usr/sbin/sge_execd ]] || [[ ! -s $common/act_qmaster ]]; then
  debconf-set-selections <<SEL
gridengine-common shared/gridenginemaster string $host
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridengineconfig boolean true
SEL
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends gridengine-master gridengine-exec gridengine-client >/dev/null
fi

echo "$host localhost $(hostname -s)" > "$common/host_aliases"
mkdir -p "$run" /var/spool/gridengine/execd
chown sgeadmin:sgeadmin "$run" /var/spool/gridengine/execd

running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
# The daemons write their pid files into their spool directories.
qmaster_pid=/var/spool/gridengine/qmaster/qmaster.pid
# execd spools under the name the host resolves to (here "localhost"), so look for it.
execd_pid=$(ls /var/spool/gridengine/execd/*/execd.pid 2>/dev/null | head -n1 || true)
running "$qmaster_pid" || /usr/sbin/sge_qmaster
for _ in $(seq 1 60); do qstat >/dev/null 2>&1 && break; sleep 0.5; done
qstat >/dev/null || { echo "gridengine-up: sge_qmaster does not answer; see /var/spool/gridengine/qmaster/messages" >&2; exit 1; }

# qconf -m* edits through $EDITOR; this one applies the sed program in $GE_SED.
editor=$(mktemp)
trap 'rm -f "$editor"' EXIT
printf '#!/bin/sh\nsed -i "$GE_SED" "$1"\n' > "$editor"
chmod +x "$editor"
edit() { GE_SED=$1 EDITOR=$editor qconf "${@:2}" >/dev/null; }

qconf -sh 2>/dev/null | grep -qx "$host" || qconf -ah "$host" >/dev/null
qconf -ss 2>/dev/null | grep -qx "$host" || qconf -as "$host" >/dev/null
edit 's/^min_uid .*/min_uid 0/; s/^min_gid .*/min_gid 0/' -mconf global
edit 's/^schedule_interval .*/schedule_interval 0:0:1/; s/^flush_submit_sec .*/flush_submit_sec 1/;
      s/^flush_finish_sec .*/flush_finish_sec 1/; s/^job_load_adjustments .*/job_load_adjustments NONE/;
      s/^load_adjustment_decay_time .*/load_adjustment_decay_time 0:0:0/' -msconf
[[ -n $execd_pid ]] && running "$execd_pid" || /usr/sbin/sge_execd
# Several blocks share the host, as several pools would share a laptop.
qconf -sql 2>/dev/null | grep -qx all.q || \
  edit "s/^hostlist .*/hostlist $host/; s/^slots .*/slots 8/; s/^pe_list .*/pe_list NONE/" -aq all.q
# No load alarm: the default (np_load_avg=1.75) puts the queue in state "a" and sends no job
# while a shared CI machine is busy, which is not what the tests are about. Set on every start,
# so a queue made by an older version of this script is fixed too.
edit 's/^load_thresholds .*/load_thresholds NONE/; s/^suspend_thresholds .*/suspend_thresholds NONE/' -mq all.q

for _ in $(seq 1 120); do
  if qstat -f 2>/dev/null | grep -q "^all.q@" && ! qstat -f 2>/dev/null | grep "^all.q@" | grep -qE ' [auE]+$'; then
    echo "grid engine up: queue all.q on $host (logs in /var/spool/gridengine/*/messages)"
    exit 0
  fi
  sleep 0.5
done
echo "gridengine-up: queue all.q@$host did not become available within 60 s" >&2
qstat -f >&2 || true
exit 1
