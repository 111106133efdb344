#!/usr/bin/env bash
# usage: run-in-vm.sh CMD...  -- run CMD (in the current directory) inside a QEMU guest booted from
# the Debian kernel that provision.sh unpacked, with /dev/vhci (hci_vhci), dbus-daemon --system and
# bluetoothd running, and the host's root filesystem mounted read-only; exit with CMD's status.
#
# Adapted from the shared bluez-vm recipe (shared/bluez-vm/run-in-vm.sh): the same software-emulated
# (TCG) guest, plus `-cpu max` (numpy's wheels need at least x86-64-v2 and die with an illegal
# instruction on QEMU's default CPU), bluetoothd with debug logging, an HCI trace (btmon, in
# hci.btsnoop), the guest console kept in the run folder, and on failure the tail of bluetoothd's
# log and of the console printed. These machines show a /dev/kvm, but a KVM guest hangs in the
# BIOS or fails to set MSRs, so there is no KVM option. The only writable places in the guest are
# the run folder ($OUT, shared with the host), /run, /var/tmp (TMPDIR) and /var/lib/bluetooth
# (tmpfs each, lost at power-off).
#
# Environment: SIDEMESH_BLUEZ_VM_DIR (cache, as provision.sh), SIDEMESH_BLUEZ_VM_TIMEOUT (s, 600),
# SIDEMESH_BLUEZ_VM_MEM (MiB, 2048). Leaves out: networking in the guest, bluetoothd state kept
# between runs, a guest kernel other than the one cached.
set -euo pipefail

DIR=${SIDEMESH_BLUEZ_VM_DIR:-/tmp/sidemesh-bluez-vm}
if [ ! -f "$DIR/vmlinuz" ] || [ ! -f "$DIR/initrd.gz" ]; then
  echo "[run-in-vm] no kernel/initramfs in $DIR: run tests/bluez/provision.sh first" >&2
  exit 2
fi
mkdir -p "$DIR/runs"
# keep the folders of the last 10 runs (logs and HCI traces, a few MB each)
ls -1dt "$DIR"/runs/run.* 2>/dev/null | tail -n +10 | xargs -r rm -rf
OUT=$(mktemp -d "$DIR/runs/run.XXXXXX")
printf '%q ' "$@" >"$OUT/cmd"
cat >"$OUT/guest.sh" <<GUEST
mkdir -p /run/dbus && dbus-daemon --system --fork
btmon -w $OUT/hci.btsnoop >/dev/null 2>&1 &
/usr/libexec/bluetooth/bluetoothd -n -d >$OUT/bluetoothd.log 2>&1 &
for i in \$(seq 100); do
  dbus-send --system --print-reply --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.NameHasOwner string:org.bluez 2>/dev/null | grep -q true && break
  sleep 0.1
done
cd $(printf '%q' "$PWD")
bash -c "\$(cat $OUT/cmd)"; echo \$? >$OUT/rc
GUEST

echo "[run-in-vm] out folder $OUT"

set +e
timeout "${SIDEMESH_BLUEZ_VM_TIMEOUT:-600}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 \
  -m "${SIDEMESH_BLUEZ_VM_MEM:-2048}" -nographic -no-reboot -nic none \
  -kernel "$DIR/vmlinuz" -initrd "$DIR/initrd.gz" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 vmout=$OUT kdir=$DIR/kern" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
  -virtfs local,path="$OUT",mount_tag=vmout,security_model=passthrough \
  </dev/null 2>&1 | tee "$OUT/console.log" |
  sed -u -e $'s/\x1b\\[[0-9;?]*[a-zA-Z]//g' -e $'s/\x1bc//g' |
  grep --line-buffered -v -E '^\[ *[0-9.]+\]|SeaBIOS|Booting from ROM|^$'
QEMU_RC=${PIPESTATUS[0]}
set -e
RC=$(cat "$OUT/rc" 2>/dev/null || echo 125)
if [ "$QEMU_RC" = 124 ]; then
  echo "[run-in-vm] timed out after ${SIDEMESH_BLUEZ_VM_TIMEOUT:-600} s" >&2
fi
if [ "$RC" != 0 ]; then
  echo "[run-in-vm] exit code $RC; last lines of bluetoothd's log ($OUT/bluetoothd.log):" >&2
  tail -n 80 "$OUT/bluetoothd.log" >&2 2>/dev/null || echo "(no bluetoothd log)" >&2
  echo "[run-in-vm] last lines of the guest console ($OUT/console.log):" >&2
  tail -n 40 "$OUT/console.log" >&2 || true
else
  echo "[run-in-vm] exit code 0 (logs in $OUT)"
fi
exit "$RC"
