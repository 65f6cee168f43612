#!/usr/bin/env bash
# Starts a one-node Slurm cluster on localhost (munged, slurmctld, slurmd) with all its state in
# DIR: for tests and for trying the sbatch templates without a real cluster.
#   slurm/local/start.sh DIR [CPUS]      (CPUS default: nproc)
#   export SLURM_CONF=DIR/slurm.conf     (then sbatch/srun/sinfo talk to it)
#   slurm/local/stop.sh DIR
# The daemons run as the current user (root in CI containers). cred_expire=10: a requeued job
# may start again 10 s after it stopped (Slurm's default, 120 s, suits real clusters; starting
# it sooner by hand fails with "Job credential revoked"). Ports 16817/16818, or
# $GEOSHARD_SLURM_PORT and the next one. PIDs are kept in DIR/run/*.pid; stop.sh stops them by
# PID, never by name (other clusters on the machine are left alone).
set -euo pipefail
B=$(mkdir -p "$1" && cd "$1" && pwd)
CPUS=${2:-$(nproc)}
PORT=${GEOSHARD_SLURM_PORT:-16817}
HOST=$(hostname -s)
USER_NAME=$(id -un)
for t in munged slurmctld slurmd sinfo; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "start.sh: $t not found (apt install slurm-wlm munge)" >&2; exit 1; }
done
export PATH=$PATH:/usr/sbin
mkdir -p "$B"/{munge,state,spool,run,log}
chmod 700 "$B/munge"
cat > "$B/slurm.conf" <<CONF
ClusterName=geoshard-local
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=$USER_NAME
SlurmdUser=$USER_NAME
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$B/munge/munge.socket.2,cred_expire=10
StateSaveLocation=$B/state
SlurmdSpoolDir=$B/spool/slurmd-%n
SlurmctldPidFile=$B/run/slurmctld.pid
SlurmdPidFile=$B/run/slurmd.pid
SlurmctldLogFile=$B/log/slurmctld.log
SlurmdLogFile=$B/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
[ -f "$B/munge/munge.key" ] || mungekey --create --keyfile="$B/munge/munge.key" 2>/dev/null
chmod 600 "$B/munge/munge.key"
munged --key-file="$B/munge/munge.key" --socket="$B/munge/munge.socket.2" --pid-file="$B/run/munged.pid" \
  --log-file="$B/log/munged.log" --seed-file="$B/munge/munged.seed" --force
export SLURM_CONF=$B/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" >>"$B/log/slurmctld.out" 2>&1 &
echo $! >"$B/run/slurmctld.daemon.pid"
slurmd -D -f "$SLURM_CONF" >>"$B/log/slurmd.out" 2>&1 &
echo $! >"$B/run/slurmd.daemon.pid"
for _ in $(seq 1 100); do
  state=$(sinfo -h -o %T 2>/dev/null | head -1 || true)
  if [ "$state" = idle ]; then
    echo "local Slurm cluster up: export SLURM_CONF=$SLURM_CONF" >&2
    exit 0
  fi
  sleep 0.2
done
echo "start.sh: the cluster did not become idle in 20 s (state '${state:-none}'); logs in $B/log" >&2
exit 1
