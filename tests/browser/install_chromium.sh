#!/usr/bin/env bash
# Installs Debian's chromium (headless browser for tests/test_report.py) if it is missing, as
# tests/slurm/start_cluster.sh installs the SLURM packages: from the Debian archive, no services.
set -euo pipefail
command -v chromium >/dev/null && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends chromium >/dev/null \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; }
command -v chromium >/dev/null
