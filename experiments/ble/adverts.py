"""Advertisements as seen by an adapter: a frozen record, its classification and its JSON form.

What it models
    One advertising report (the advertising data and the scan response merged, as bleak hands
    them over) as an :class:`Advertisement`: address, local name, RSSI, TX Power Level,
    manufacturer specific data, service data, service UUIDs and the time it was received.
    :func:`kinds` recognises Sidewalk-style advertisements (the 16-bit service UUID 0xFE03 in
    the service UUID list or as service data) and Nordic UART Service peripherals (NUS service
    UUID advertised).

Sources
    * bleak 3.x ``bleak.backends.scanner.AdvertisementData`` (local_name, manufacturer_data,
      service_data, service_uuids, tx_power, rssi) and ``BLEDevice.address``.
    * Bluetooth Core Specification Supplement v11, Part A, 1.3 (service UUIDs), 1.4 (local
      name), 1.5 (TX Power Level), 1.4/1.11 (service data), 1.4 (manufacturer specific data).
    * 0xFE03: 16-bit UUID assigned by the Bluetooth SIG to Amazon.com Services, Inc., the UUID
      Sidewalk BLE advertisements carry (Amazon Sidewalk Protocol Specification, BLE link
      layer).
    * Nordic UART Service: nRF Connect SDK documentation, "Nordic UART Service (NUS)": service
      6E400001-B5A3-F393-E0A9-E50E24DCCA9E, RX characteristic ...0002 (write, central to
      peripheral), TX characteristic ...0003 (notify, peripheral to central).

Leaves out: decoding the Sidewalk payload (frames, keys and IDs are not modelled) and other
well-known formats (iBeacon, Eddystone), which show as raw manufacturer or service data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

SIDEWALK_SERVICE_UUID: Final = "0000fe03-0000-1000-8000-00805f9b34fb"
NUS_SERVICE_UUID: Final = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX_UUID: Final = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # write (central -> peripheral)
NUS_TX_UUID: Final = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"  # notify (peripheral -> central)
SIDEWALK: Final = "sidewalk"
NUS: Final = "nus"


@dataclass(frozen=True)
class Advertisement:
    """One received advertisement. Mappings are kept as sorted tuples (the record is hashable)."""

    address: str
    name: str | None
    rssi_dbm: int
    tx_power_dbm: int | None
    manufacturer_data: tuple[tuple[int, bytes], ...] = ()
    service_data: tuple[tuple[str, bytes], ...] = ()
    service_uuids: tuple[str, ...] = ()
    time_s: float = 0.0

    @property
    def kinds(self) -> tuple[str, ...]:
        return kinds(self)

    @property
    def payload(self) -> bytes:
        """The advertised data as the bytes an uplink carries: service data first, then
        manufacturer data (each without its UUID / company header), else the name."""
        parts = [data for _uuid, data in self.service_data]
        parts += [data for _company, data in self.manufacturer_data]
        if parts:
            return b"".join(parts)
        return (self.name or "").encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "name": self.name,
            "rssi_dbm": self.rssi_dbm,
            "tx_power_dbm": self.tx_power_dbm,
            "manufacturer_data": {str(k): v.hex() for k, v in self.manufacturer_data},
            "service_data": {k: v.hex() for k, v in self.service_data},
            "service_uuids": list(self.service_uuids),
            "kinds": list(self.kinds),
            "time_s": round(self.time_s, 6),
        }


def make(
    address: str,
    rssi_dbm: int,
    *,
    name: str | None = None,
    tx_power_dbm: int | None = None,
    manufacturer_data: Mapping[int, bytes] | None = None,
    service_data: Mapping[str, bytes] | None = None,
    service_uuids: tuple[str, ...] | list[str] = (),
    time_s: float = 0.0,
) -> Advertisement:
    """An :class:`Advertisement` from plain values (UUIDs lower-cased, mappings sorted)."""
    return Advertisement(
        address=address.upper(),
        name=name,
        rssi_dbm=int(rssi_dbm),
        tx_power_dbm=None if tx_power_dbm is None else int(tx_power_dbm),
        manufacturer_data=tuple(
            sorted((int(k), bytes(v)) for k, v in (manufacturer_data or {}).items())
        ),
        service_data=tuple(sorted((k.lower(), bytes(v)) for k, v in (service_data or {}).items())),
        service_uuids=tuple(sorted(u.lower() for u in service_uuids)),
        time_s=float(time_s),
    )


def from_bleak(device: Any, data: Any, time_s: float) -> Advertisement:
    """From bleak's ``BLEDevice`` and ``AdvertisementData`` (duck-typed: bleak not imported)."""
    return make(
        str(device.address),
        data.rssi,
        name=data.local_name or getattr(device, "name", None),
        tx_power_dbm=data.tx_power,
        manufacturer_data=data.manufacturer_data,
        service_data=data.service_data,
        service_uuids=list(data.service_uuids),
        time_s=time_s,
    )


def kinds(adv: Advertisement) -> tuple[str, ...]:
    """What ``adv`` is recognised as: ``("sidewalk",)``, ``("nus",)``, both, or ``()``."""
    uuids = set(adv.service_uuids) | {uuid for uuid, _data in adv.service_data}
    out = []
    if SIDEWALK_SERVICE_UUID in uuids:
        out.append(SIDEWALK)
    if NUS_SERVICE_UUID in uuids:
        out.append(NUS)
    return tuple(out)


def table_row(adv: Advertisement) -> str:
    """One line of the ``sidemesh ble scan`` table."""
    manufacturer = " ".join(f"{k:04x}:{v.hex()}" for k, v in adv.manufacturer_data)
    service = " ".join(f"{_short(k)}:{v.hex()}" for k, v in adv.service_data)
    tx = "-" if adv.tx_power_dbm is None else f"{adv.tx_power_dbm:d}"
    return (
        f"{adv.address:<17}  {(adv.name or '-')[:20]:<20}  {adv.rssi_dbm:>5d}  {tx:>4}  "
        f"{','.join(adv.kinds) or '-':<12}  {manufacturer or '-'}  {service or '-'}"
    )


TABLE_HEADER = (
    f"{'address':<17}  {'name':<20}  {'rssi':>5}  {'tx':>4}  {'recognised':<12}  "
    "manufacturer data  service data"
)


def _short(uuid: str) -> str:
    """``0000fe03-0000-1000-8000-00805f9b34fb`` -> ``fe03`` (SIG base UUID), else as is."""
    if uuid.startswith("0000") and uuid.endswith("-0000-1000-8000-00805f9b34fb"):
        return uuid[4:8]
    return uuid
