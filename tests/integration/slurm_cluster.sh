#!/usr/bin/env bash
# Start/inspect/stop a throwaway single-node SLURM cluster (loopback only, config in a temp folder).
#
#   tests/integration/slurm_cluster.sh start   # installs slurmctld/slurmd/slurm-client/munge if missing,
#                                              # prints `export SLURM_CONF=...`
#   eval "$(tests/integration/slurm_cluster.sh start)"
#   tests/integration/slurm_cluster.sh status
#   tests/integration/slurm_cluster.sh stop    # cancels jobs, stops the daemons by PID, removes the folder
#
# The folder defaults to /tmp/clocslurm (override with SLURM_TEST_DIR). Needs root.
# Exit codes: 0 ok, 1 error, 2 SLURM cannot run here (not root, no apt-get).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${SLURM_TEST_DIR:-/tmp/clocslurm}"
py="${PYTHON:-python3}"
case "${1:-}" in
  start|stop|status) exec "$py" "$here/slurm.py" "$1" --dir "$dir" "${@:2}" ;;
  *) echo "usage: $0 start|status|stop [--timeout SECONDS]" >&2; exit 64 ;;
esac
