#!/usr/bin/env bash
# Tier 3, real BlueZ: provision the VM runner if needed (tests/bluez/provision.sh, idempotent),
# then run `pytest -m bluez tests/bluez` inside a QEMU guest that has /dev/vhci, dbus and
# bluetoothd (tests/bluez/run-in-vm.sh), with the project's .venv seen read-only. Prints the time
# of each stage; exits non-zero when provisioning fails, when a test fails, when the guest has
# no /dev/vhci (an error there, not a skip) or when no test ran; run-in-vm.sh prints
# bluetoothd's log on failure.
#
# Usage: tests/bluez/run-tier3.sh [PYTEST ARGS...]   (e.g. -k scan). Needs root for the first
# provisioning (apt-get) and a .venv with the pinned bleak and bumble ('.[dev]' or '.[test]').
# Environment: SIDEMESH_BLUEZ_VM_DIR (cache, default /tmp/sidemesh-bluez-vm), SIDEMESH_PYTHON
# (default .venv/bin/python), and run-in-vm.sh's SIDEMESH_BLUEZ_VM_TIMEOUT (900 s here) / _MEM.
# Leaves out: running without root on a machine that was never provisioned; other distributions.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
PY=${SIDEMESH_PYTHON:-$REPO/.venv/bin/python}
export SIDEMESH_BLUEZ_VM_DIR=${SIDEMESH_BLUEZ_VM_DIR:-/tmp/sidemesh-bluez-vm}
export SIDEMESH_BLUEZ_VM_TIMEOUT=${SIDEMESH_BLUEZ_VM_TIMEOUT:-900}  # 3-6 min measured

now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

T0=$(now)
"$PY" -c 'import bleak, bumble' || {
  echo "[tier3] $PY lacks bleak or bumble: pip install -e '.[dev]'" >&2
  exit 2
}
bash tests/bluez/provision.sh
T_PROVISION=$(took "$T0")
echo "[tier3] provision: ${T_PROVISION} s"

# In the guest the tree and the .venv are read-only: no bytecode, no pytest cache, temporary
# files on the guest's tmpfs (TMPDIR=/var/tmp). SIDEMESH_BLUEZ_REQUIRED=1 turns a missing
# /dev/vhci into an error instead of skips.
T1=$(now)
set +e
bash tests/bluez/run-in-vm.sh env PYTHONDONTWRITEBYTECODE=1 SIDEMESH_BLUEZ_REQUIRED=1 \
  "$PY" -m pytest -p no:cacheprovider -m bluez -rs -v --durations=0 tests/bluez "$@"
RC=$?
set -e
T_VM=$(took "$T1")
echo "[tier3] VM run (boot, pytest, power-off): ${T_VM} s; total $(took "$T0") s; exit code $RC"
exit "$RC"
