#!/usr/bin/env bash
# Runs inside the freshly created conda environment, from the workflow's working directory.
set -euo pipefail
python -m pip install --quiet -r requirements.lock
python -m pip install --quiet --no-deps -e .
