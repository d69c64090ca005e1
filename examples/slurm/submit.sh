#!/bin/bash
# Queues the sweep array, then the report, which starts only when every array task succeeded.
set -euo pipefail
cd "$(dirname "$0")"
job=$(sbatch --parsable sweep.sbatch)
sbatch --dependency=afterok:"${job%%;*}" report.sbatch
