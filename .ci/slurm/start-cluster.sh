#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine (Debian's slurm-wlm + munge), for the SLURM tests.
#
#   sudo bash .ci/slurm/start-cluster.sh        # idempotent: does nothing when `sinfo` already answers
#
# munged runs as user munge; slurmctld and slurmd run as root with a one-node slurm.conf sized to this
# machine. Exits 0 without starting anything where the packages are missing or we are not root, so the
# tests that need the cluster skip themselves (tests/runtime/test_slurm.py).
set -uo pipefail

if timeout 5 sinfo >/dev/null 2>&1; then
  echo "slurm: a cluster is already up"
  exit 0
fi
for bin in munged slurmctld slurmd sinfo; do
  if ! command -v "$bin" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$bin" ]; then
    echo "slurm: $bin not installed (apt-get install slurm-wlm munge); not starting a cluster"
    exit 0
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "slurm: starting the daemons needs root; not starting a cluster"
  exit 0
fi

set -e
host=$(hostname -s)
conf_dir=/etc/slurm
state=/var/spool/slurmctld
spool=/var/spool/slurmd
logs=/var/log/slurm
mkdir -p "$conf_dir" "$state" "$spool" "$logs" /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge

# munge: a key readable by munge alone, then the daemon as user munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
if ! pgrep -u munge -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi

cat >"$conf_dir/slurm.conf" <<EOF
ClusterName=artworks
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state
SlurmdSpoolDir=$spool
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Jobs whose time limit is up are killed; requeue on node failure / preemption is allowed.
JobRequeue=1
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF

pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd

for _ in $(seq 1 30); do
  if timeout 5 sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "slurm: one-node cluster up ($host, $(nproc) CPUs)"
    exit 0
  fi
  sleep 1
done
echo "slurm: the cluster did not come up; see $logs/slurmctld.log and $logs/slurmd.log" >&2
timeout 5 sinfo >&2 || true
exit 1
