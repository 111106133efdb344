"""Adapter problems turned into one clear message each (exit status 2 at the command line).

What it does
    :func:`require_bleak` imports bleak or says to install the extra; :func:`explain` maps an
    exception raised while opening or using an adapter to a :class:`BleUnavailable` naming
    what is wrong and what to do: the extra missing, no adapter (or no BlueZ / D-Bus to reach
    one), the adapter powered off, permission denied, or a second scan from the same program.

Sources
    bleak 3.x exceptions (``bleak.exc``): ``BleakBluetoothNotAvailableError`` and its
    ``BleakBluetoothNotAvailableReason`` (NO_BLUETOOTH, NO_BLE_CENTRAL_ROLE, POWERED_OFF,
    DENIED_BY_USER / SYSTEM / UNKNOWN), ``BleakDBusError.dbus_error``; BlueZ D-Bus error names
    (doc/org.bluez.Adapter.rst: org.bluez.Error.NotReady, NotPermitted, InProgress); the D-Bus
    specification (org.freedesktop.DBus.Error.AccessDenied, ServiceUnknown). Matching is on
    class names and error names, so it works without bleak installed (for tests) and across
    bleak versions.

Leaves out: Windows and macOS specific wording (their bleak errors fall under the generic
reasons above).
"""

from __future__ import annotations

from types import ModuleType
from typing import Final

EXTRA_HINT: Final = "install the BLE extra: pip install 'sidemesh[ble]'"
NO_ADAPTER: Final = (
    "no Bluetooth adapter found: plug in a BLE dongle (Linux: check `bluetoothctl list`)"
)
NO_BLUEZ: Final = (
    "cannot reach BlueZ: the system D-Bus or bluetoothd is not running "
    "(Linux: `sudo systemctl start bluetooth`)"
)
POWERED_OFF: Final = "the Bluetooth adapter is powered off: turn it on (`bluetoothctl power on`)"
PERMISSION: Final = (
    "permission denied by the Bluetooth stack: on Linux add yourself to the `bluetooth` group "
    "(`sudo usermod -aG bluetooth $USER`, then log in again) or allow BlueZ access in its "
    "D-Bus policy; on macOS allow Bluetooth for the terminal"
)
BUSY: Final = (
    "the adapter is busy: a scan is already running from this program's D-Bus connection "
    "(BlueZ refuses a second one); stop the other sidemesh ble command and try again"
)


class BleUnavailable(Exception):
    """The BLE stack cannot be used. ``str(err)`` is the whole message; exit status 2."""

    exit_code = 2

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # extra | no_adapter | powered_off | permission | busy | no_nus | other


def require_bleak() -> ModuleType:
    """bleak, or :class:`BleUnavailable` saying how to install it."""
    try:
        import bleak
    except ImportError:
        raise BleUnavailable(f"bleak is not installed: {EXTRA_HINT}", "extra") from None
    return bleak


def _class_names(err: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(err).__mro__}


def explain(err: BaseException) -> BleUnavailable | None:
    """The :class:`BleUnavailable` that ``err`` means, or None if it is not an adapter problem."""
    if isinstance(err, BleUnavailable):
        return err
    names = _class_names(err)
    if "BleakBluetoothNotAvailableError" in names:
        reason = getattr(getattr(err, "reason", None), "name", "UNKNOWN")
        # bleak keeps (message, reason) in args: str(err) would show the tuple
        text = str(err.args[0]) if err.args else str(err)
        if reason in ("NO_BLUETOOTH", "NO_BLE_CENTRAL_ROLE"):
            return BleUnavailable(f"{NO_ADAPTER} ({text})", "no_adapter")
        if reason == "POWERED_OFF":
            return BleUnavailable(POWERED_OFF, "powered_off")
        if reason.startswith("DENIED"):
            return BleUnavailable(PERMISSION, "permission")
        return BleUnavailable(f"Bluetooth is not available: {text}", "other")
    if "BleakDBusError" in names:
        name = str(getattr(err, "dbus_error", ""))
        if name == "org.bluez.Error.NotReady":
            return BleUnavailable(POWERED_OFF, "powered_off")
        if name in ("org.bluez.Error.NotPermitted", "org.freedesktop.DBus.Error.AccessDenied"):
            return BleUnavailable(PERMISSION, "permission")
        if name == "org.bluez.Error.InProgress":
            return BleUnavailable(BUSY, "busy")
        if name in ("org.freedesktop.DBus.Error.ServiceUnknown", "org.bluez.Error.NoSuchAdapter"):
            return BleUnavailable(NO_ADAPTER if "Adapter" in name else NO_BLUEZ, "no_adapter")
        return None
    if isinstance(err, PermissionError):
        return BleUnavailable(PERMISSION, "permission")
    if isinstance(err, FileNotFoundError | ConnectionRefusedError):
        # bleak's BlueZ backend opens the system bus socket first
        return BleUnavailable(NO_BLUEZ, "no_adapter")
    if "BleakError" in names and "adapter" in str(err).lower():
        text = str(err).lower()
        if "powered" in text:
            return BleUnavailable(POWERED_OFF, "powered_off")
        if "no bluetooth adapter" in text or "not found" in text:
            return BleUnavailable(f"{NO_ADAPTER} ({err})", "no_adapter")
    return None
