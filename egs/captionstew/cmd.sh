#!/usr/bin/env bash
# How stage 4 launches training (torchrun), as Kaldi's cmd.sh says how jobs run. Sourced by the stage
# template before the command line is read, so --nproc_per_node etc. on the command line win.
# Every variable can also be set in the environment.
#   one machine:       nproc_per_node = its devices (GPUs; 1 on a CPU machine), nnodes=1
#   N machines:        run the same command on each with nnodes=N and one rdzv_endpoint host:port
#                      that all of them reach (torchrun's c10d rendezvous; docs/training.md)
#   SLURM:             NNODES=$SLURM_NNODES RDZV_ENDPOINT=$(scontrol show hostnames | head -1):29500
# shellcheck disable=SC2034  # read by ../TEMPLATE/pretrain.sh
nproc_per_node="${NPROC_PER_NODE:-1}"
nnodes="${NNODES:-1}"
rdzv_endpoint="${RDZV_ENDPOINT:-}"   # host:port, needed when nnodes > 1
max_restarts="${MAX_RESTARTS:-0}"    # torchrun restarts after a failed worker; restarted workers resume
threads="${THREADS:-0}"              # torch CPU threads per process (0: torch default)
