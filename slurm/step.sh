#!/usr/bin/env bash
# One geoshard step inside a Slurm batch job (the sbatch templates here end with it):
#   step.sh SUBCOMMAND ARGS...   runs  srun --mpi=pmix $GEOSHARD SUBCOMMAND ARGS...
# srun --mpi=pmix is the launcher that works with Debian's Open MPI (pmi2/none fail in MPI_Init).
# Graceful stop: the templates ask for --signal=B:USR1@120, so the batch shell gets SIGUSR1 two
# minutes before the time limit (and scancel --signal=USR1 --batch, or SIGTERM, at any time);
# it is forwarded to srun and by srun to every rank: the engine finishes the task in hand,
# commits its shard and exits with code 4 ("interrupted"). The job then requeues itself
# (scontrol requeue) while SLURM_RESTART_COUNT < GEOSHARD_MAX_RESTARTS (default 3); the
# requeued job reruns the same command into the same run folder and resumes from the committed
# shards. Any other exit code is the job's exit code (a failed step stops an afterok chain).
# Environment: GEOSHARD (the binary; default: geoshard on PATH), GEOSHARD_MAX_RESTARTS.
set -uo pipefail
G=${GEOSHARD:-geoshard}
MAX=${GEOSHARD_MAX_RESTARTS:-3}
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
srun_pid=""
forward() { [ -n "$srun_pid" ] && kill -s "$1" "$srun_pid" 2>/dev/null; return 0; }
trap 'forward USR1' USR1
trap 'forward TERM' TERM
echo "[step] job ${SLURM_JOB_ID:-?} restart ${SLURM_RESTART_COUNT:-0}: srun --mpi=pmix $G $*" >&2
srun --mpi=pmix "$G" "$@" &
srun_pid=$!
# A trapped signal ends `wait` early (status > 128): wait again until srun has ended.
while :; do
  wait "$srun_pid"
  rc=$?
  kill -0 "$srun_pid" 2>/dev/null || break
done
if [ "$rc" -eq 4 ]; then
  n=${SLURM_RESTART_COUNT:-0}
  if [ -n "${SLURM_JOB_ID:-}" ] && [ "$n" -lt "$MAX" ]; then
    echo "[step] interrupted (exit 4): requeueing job $SLURM_JOB_ID (restart $((n + 1)) of at most $MAX)" >&2
    scontrol requeue "$SLURM_JOB_ID"
    exit 4
  fi
  echo "[step] interrupted (exit 4) and not requeued (restart $n of at most $MAX)" >&2
fi
exit "$rc"
