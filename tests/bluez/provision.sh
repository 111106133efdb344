#!/usr/bin/env bash
# Provision the tier-3 "real BlueZ" runner: a Debian kernel that has Bluetooth (hci_vhci) plus a
# small initramfs, so that run-in-vm.sh can boot a QEMU guest on a host whose own kernel has none.
#
# Adapted from the shared bluez-vm recipe (shared/bluez-vm/provision.sh): the same idea (Debian 12
# apt packages, Debian's stock linux-image unpacked without installing it, a busybox initramfs
# that mounts the host root read-only over 9p and loads the rest on demand with the host's
# modprobe), made idempotent: it does nothing when the cache holds a kernel and an initramfs built
# by this same script (a stamp with the script's hash), and skips apt when the tools are there.
# The init also gives the guest tmpfs on /run, /var/tmp and /var/lib/bluetooth.
#
# Needs root and Debian 12 apt (as CI has). Cache: $SIDEMESH_BLUEZ_VM_DIR, default
# /tmp/sidemesh-bluez-vm (about 400 MB: the unpacked kernel package). Leaves out: other
# distributions, non-x86-64 hosts, kernel updates (the cached kernel is kept until the cache is
# deleted or this script changes).
set -euo pipefail

DIR=${SIDEMESH_BLUEZ_VM_DIR:-/tmp/sidemesh-bluez-vm}
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPT_HASH=$(sha256sum "$HERE/provision.sh" | cut -c1-16)
mkdir -p "$DIR"
cd "$DIR"

have_tools() {
  command -v qemu-system-x86_64 >/dev/null && [ -x /usr/libexec/bluetooth/bluetoothd ] &&
    command -v dbus-daemon >/dev/null && [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 &&
    command -v depmod >/dev/null && command -v cpio >/dev/null
}

if [ -f stamp ] && [ "$(cat stamp)" = "$SCRIPT_HASH" ] && [ -f vmlinuz ] && [ -f initrd.gz ] &&
  have_tools; then
  echo "[provision] up to date in $DIR"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ ! -f apt-updated ] || ! have_tools; then
  echo "[provision] apt-get install qemu-system-x86 bluez dbus busybox-static kmod cpio"
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends \
    qemu-system-x86 bluez dbus busybox-static kmod cpio; } >apt.log 2>&1; then
    tail -n 30 apt.log >&2
    exit 1
  fi
  touch apt-updated
fi

# Debian's stock kernel has CONFIG_BT=m, CONFIG_BT_HCIVHCI=m and 9p/virtio as modules.
KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$KPKG" ]; then
  echo "[provision] cannot resolve linux-image-amd64 (apt lists missing?)" >&2
  exit 1
fi
KVER=${KPKG#linux-image-}
if [ ! -d "kern/lib/modules/$KVER" ]; then
  echo "[provision] unpacking $KPKG"
  rm -rf kern ./*.deb
  # apt-get download as root warns that it runs unsandboxed; that warning is expected here.
  apt-get download "$KPKG" 2>&1 | { grep -v unsandboxed || true; }
  dpkg -x ./"${KPKG}"_*.deb kern
  rm -f ./"${KPKG}"_*.deb
  depmod -b "$DIR/kern" "$KVER"
fi
cp "kern/boot/vmlinuz-$KVER" vmlinuz

R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/{bin,proc,sys,dev,newroot,mods}
cp /bin/busybox "$R/bin/"
# Modules the init loads itself: 9p over virtio for the root, hci_vhci for /dev/vhci, and the
# crypto that Bluetooth's SMP and the kernel's ECDH use. Others load on demand via modprobe-host.
MODS=$(for m in virtio_pci 9pnet_virtio 9p drbg hci_vhci algif_hash algif_skcipher ecb cmac; do
  modprobe -d "$DIR/kern" -S "$KVER" --show-depends "$m"
done | awk '{print $2}' | awk '!s[$0]++')
for f in $MODS; do cp "$f" "$R/mods/"; done
for f in $MODS; do basename "$f" .ko; done >"$R/mods/ORDER"
cat >"$R/init" <<'INIT'
#!/bin/busybox sh
# Guest init: load modules, mount the host root read-only and the run's out folder read-write,
# run $OUT/guest.sh in a chroot of the host root, power off.
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/ORDER); do insmod /mods/$m.ko || echo "insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose hostroot /newroot
OUT=$(sed -n 's/.*vmout=\([^ ]*\).*/\1/p' /proc/cmdline)
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=524288 vmout /newroot$OUT
mount -t proc proc /newroot/proc; mount -t sysfs sys /newroot/sys; mount -t devtmpfs dev /newroot/dev
mount -t devpts devpts /newroot/dev/pts 2>/dev/null
for d in /run /var/lib/bluetooth /var/tmp; do mount -t tmpfs tmpfs /newroot$d 2>/dev/null; done
# on-demand module loading: kernel request_module -> host kmod on the unpacked Debian modules
KDIR=$(sed -n 's/.*kdir=\([^ ]*\).*/\1/p' /proc/cmdline)
printf '#!/bin/sh\nexec /bin/chroot /newroot /usr/sbin/modprobe -d %s "$@"\n' "$KDIR" > /bin/modprobe-host
chmod +x /bin/modprobe-host; echo /bin/modprobe-host > /proc/sys/kernel/modprobe
chroot /newroot /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
   HOME=/run TMPDIR=/var/tmp TERM=dumb /bin/bash $OUT/guest.sh
echo "[guest] guest.sh exit code: $?"
sync; echo o > /proc/sysrq-trigger; sleep 10
INIT
chmod +x "$R/init"
(cd "$R" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$DIR/initrd.gz")
echo "$SCRIPT_HASH" >stamp
echo "[provision] provisioned $KPKG in $DIR"
