#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine for the tests, without systemd.
#
# Idempotent: installs Debian's slurm-wlm and munge when missing, writes a config
# under $CHERVIL_SLURM_DIR (default /tmp/chervil-slurm), starts munged, slurmctld and
# slurmd unless they already run (by their pid files), and waits for the node to be
# idle. scripts/slurm-down.sh stops exactly those pids.
set -euo pipefail
dir=${CHERVIL_SLURM_DIR:-/tmp/chervil-slurm}
mkdir -p "$dir"/{state,spool,log,run}

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
fi

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))

mkdir -p /etc/munge /var/log/munge /var/lib/munge /run/munge /etc/slurm
if [[ ! -s /etc/munge/munge.key ]]; then
  head -c 1024 /dev/urandom > /etc/munge/munge.key
fi
chmod 400 /etc/munge/munge.key
chown -R munge:munge /etc/munge /var/log/munge /var/lib/munge /run/munge 2>/dev/null || true

# Several blocks share the node (OverSubscribe), as several pools would share a laptop.
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=chervil
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=30
KillWait=5
Waittime=0
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
running /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged --force 2>>"$dir/log/munged.err" \
  || /usr/sbin/munged --force
running "$dir/run/slurmctld.pid" || /usr/sbin/slurmctld -i
running "$dir/run/slurmd.pid" || /usr/sbin/slurmd

for _ in $(seq 1 120); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true)
  case $state in
    idle*|mix*|alloc*) echo "slurm up: node $host is $state (logs in $dir/log)"; exit 0 ;;
  esac
  sleep 0.5
done
echo "slurm-up: the node did not become idle within 60 s; logs are in $dir/log" >&2
sinfo -N -l >&2 || true
exit 1
