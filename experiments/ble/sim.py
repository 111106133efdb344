"""A virtual BLE neighbourhood on Google's Bumble stack, behind bleak's ``backend=`` seam.

What it models
    * :class:`World`: one in-process Bumble ``LocalLink`` joining full Bumble hosts and
      controllers: a *central* (the "dongle" bleak drives), *advertisers* (beacons, Sidewalk
      style endpoints) and *NUS peripherals* (a GATT server with the Nordic UART Service that
      echoes what is written to RX back as TX notifications, and can send its own or drop the
      link). Both sides run a real BLE host stack (HCI, L2CAP, ATT/GATT, legacy advertising).
    * RSSI: the central's controller (:class:`PathLossController`) stamps every advertising
      report with ``tx_power_dbm - PL(d) + X``: ``PL`` the given
      :class:`radios.propagation.LogDistance` model at the advertiser's distance from the
      central, ``X`` a seeded normal draw of ``shadowing_sigma_db`` per report, rounded to a
      whole dBm like a controller's report (Core Spec v5.3 Vol 4 Part E 7.7.65.2). Bumble's own
      controller reports a fixed -50 dBm. :meth:`World.move` moves a device (a walk-away test).
    * :meth:`World.scanner_backend` / :meth:`World.client_backend`: ``BaseBleakScanner`` and
      ``BaseBleakClient`` implementations bound to the world, for bleak's ``backend=``. Like
      BlueZ, the scanner refuses a second concurrent scan (``org.bluez.Error.InProgress``).

    Used by the tier-2 tests and by ``--backend bumble`` (hidden CLI option) to try
    ``sidemesh ble ...`` without hardware on :func:`demo_world`.

Sources: Bumble (github.com/google/bumble; this module follows its ``testing`` helpers: one
``Controller`` per ``Device`` on a ``LocalLink``, ``Host`` over ``AsyncPipeSink``; pinned
version in pyproject: its API moves); bleak 3.x ``bleak.backends.scanner.BaseBleakScanner``,
``bleak.backends.client.BaseBleakClient``; advertising data types: Core Specification
Supplement v11 Part A; NUS UUIDs: Nordic nRF Connect SDK documentation.

Leaves out: timing of the air interface (Bumble's link delivers PDUs through the event loop,
without airtime or loss), extended advertising, pairing, and RSSI of connections.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import struct
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDBusError, BleakDeviceNotFoundError, BleakError
from bumble import gatt, hci
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Connection, Device, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from experiments.ble.adverts import NUS_RX_UUID, NUS_SERVICE_UUID, NUS_TX_UUID
from radios.ble import FREQUENCY_HZ as BLE_FREQUENCY_HZ
from radios.propagation import LogDistance

SIG_BASE = "-0000-1000-8000-00805f9b34fb"
CENTRAL_ADDRESS = "F0:00:00:00:00:01"


@dataclass(frozen=True)
class VirtualAdvertiser:
    """A beacon: legacy, non-connectable-in-practice advertising every ``interval_ms``."""

    address: str
    x_m: float
    y_m: float
    name: str | None = None
    tx_power_dbm: int = 0
    advertise_tx_power: bool = True
    service_uuids16: tuple[int, ...] = ()
    service_data16: tuple[tuple[int, bytes], ...] = ()
    manufacturer_data: tuple[tuple[int, bytes], ...] = ()
    interval_ms: float = 20.0


@dataclass(frozen=True)
class VirtualNus:
    """A Nordic UART Service peripheral (a dev board) that echoes what it receives."""

    address: str
    x_m: float
    y_m: float
    name: str = "nus"
    tx_power_dbm: int = 0
    echo_prefix: bytes | None = b"echo:"  # None: no echo
    interval_ms: float = 20.0


@dataclass(frozen=True)
class WorldConfig:
    advertisers: tuple[VirtualAdvertiser, ...] = ()
    peripherals: tuple[VirtualNus, ...] = ()
    propagation: LogDistance = field(
        default_factory=lambda: LogDistance(
            exponent=2.5, reference_loss_db=45.0, shadowing_sigma_db=3.0
        )
    )
    central_x_m: float = 0.0
    central_y_m: float = 0.0
    seed: int = 1


def advertising_data(
    name: str | None,
    tx_power_dbm: int | None,
    uuids16: tuple[int, ...] = (),
    service_data16: tuple[tuple[int, bytes], ...] = (),
    manufacturer: tuple[tuple[int, bytes], ...] = (),
    uuids128: tuple[str, ...] = (),
) -> bytes:
    """Legacy advertising data (at most 31 bytes: Linux drops longer legacy data)."""
    ads: list[tuple[int, bytes]] = [(AdvertisingData.FLAGS, bytes([0x06]))]
    if uuids16:
        ads.append(
            (
                AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                b"".join(struct.pack("<H", u) for u in uuids16),
            )
        )
    for u in uuids128:
        ads.append(
            (
                AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                uuidlib.UUID(u).bytes[::-1],
            )
        )
    for u16, data in service_data16:
        ads.append((AdvertisingData.SERVICE_DATA_16_BIT_UUID, struct.pack("<H", u16) + data))
    for company, data in manufacturer:
        ads.append((AdvertisingData.MANUFACTURER_SPECIFIC_DATA, struct.pack("<H", company) + data))
    if tx_power_dbm is not None:
        ads.append((AdvertisingData.TX_POWER_LEVEL, struct.pack("<b", tx_power_dbm)))
    if name:
        ads.append((AdvertisingData.COMPLETE_LOCAL_NAME, name.encode("utf-8")))
    raw = b"".join(bytes([len(v) + 1, t]) + v for t, v in ads)
    if len(raw) > 31:
        raise ValueError(f"advertising data of {len(raw)} bytes is over the legacy 31 bytes")
    return raw


def parse_advertising_data(raw_ads: list[tuple[int, bytes]]) -> dict[str, Any]:
    """bleak's ``AdvertisementData`` fields from raw AD structures (type, value)."""
    out: dict[str, Any] = {
        "local_name": None,
        "manufacturer_data": {},
        "service_data": {},
        "service_uuids": [],
        "tx_power": None,
    }
    for ad_type, value in raw_ads:
        t = int(ad_type)
        if t in (0x08, 0x09):
            out["local_name"] = value.decode("utf-8", "replace")
        elif t == 0x0A and value:
            out["tx_power"] = struct.unpack("<b", value[:1])[0]
        elif t in (0x02, 0x03):
            for k in range(0, len(value) - 1, 2):
                (u,) = struct.unpack_from("<H", value, k)
                out["service_uuids"].append(f"0000{u:04x}{SIG_BASE}")
        elif t in (0x06, 0x07):
            for k in range(0, len(value) - 15, 16):
                out["service_uuids"].append(str(uuidlib.UUID(bytes=value[k : k + 16][::-1])))
        elif t == 0x16 and len(value) >= 2:
            (u,) = struct.unpack_from("<H", value)
            out["service_data"][f"0000{u:04x}{SIG_BASE}"] = bytes(value[2:])
        elif t == 0xFF and len(value) >= 2:
            (company,) = struct.unpack_from("<H", value)
            out["manufacturer_data"][company] = bytes(value[2:])
    return out


class PathLossController(Controller):
    """The central's controller: advertising reports carry the RSSI of the world's model."""

    def __init__(self, world: World, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.world = world

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if isinstance(
            packet,
            hci.HCI_LE_Advertising_Report_Event | hci.HCI_LE_Extended_Advertising_Report_Event,
        ):
            reports = [
                dataclasses.replace(r, rssi=self.world.rssi_dbm(str(r.address)))
                for r in packet.reports
            ]
            packet = type(packet)(reports)  # type: ignore[arg-type]
        super().send_hci_packet(packet)


def _bare(address: str) -> str:
    """``F1:..:F1/P`` (Bumble's public suffix) -> ``F1:..:F1``."""
    return address.split("/")[0].upper()


class World:
    """The virtual neighbourhood (``async with World(config) as world``)."""

    def __init__(self, config: WorldConfig) -> None:
        self.config = config
        # one stream, for the RSSI reports' shadowing draws
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(config.seed)))
        self.positions: dict[str, tuple[float, float]] = {}
        self.tx_power: dict[str, int] = {}
        self.link: LocalLink | None = None
        self.central: Device | None = None
        self.devices: dict[str, Device] = {}
        self.received: dict[str, list[bytes]] = {}  # NUS peripheral address -> RX writes
        self._tx: dict[str, gatt.Characteristic] = {}
        self._echoes: set[asyncio.Task[None]] = set()  # notifications on their way
        self.scanning = False

    # -- world ---------------------------------------------------------------------------

    def distance_m(self, address: str) -> float:
        x, y = self.positions[_bare(address)]
        return math.hypot(x - self.config.central_x_m, y - self.config.central_y_m)

    def rssi_dbm(self, address: str) -> int:
        key = _bare(address)
        if key not in self.positions:
            return -127
        model = self.config.propagation
        loss = float(model.median_loss_db(self.distance_m(key), BLE_FREQUENCY_HZ))
        shadow = model.shadowing_sigma_db * float(self.rng.standard_normal())
        return int(max(-127, min(20, round(self.tx_power[key] - loss + shadow))))

    def move(self, address: str, x_m: float, y_m: float) -> None:
        self.positions[_bare(address)] = (x_m, y_m)

    async def __aenter__(self) -> World:
        self.link = LocalLink()
        controller = PathLossController(
            self, "central", link=self.link, public_address=CENTRAL_ADDRESS
        )
        self.central = Device(
            name="central",
            address=hci.Address(CENTRAL_ADDRESS),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        await self.central.power_on()
        for adv in self.config.advertisers:
            device = await self._device(adv.address, adv.name or "beacon", adv.x_m, adv.y_m)
            self.tx_power[_bare(adv.address)] = adv.tx_power_dbm
            data = advertising_data(
                adv.name,
                adv.tx_power_dbm if adv.advertise_tx_power else None,
                adv.service_uuids16,
                adv.service_data16,
                adv.manufacturer_data,
            )
            await device.start_advertising(
                advertising_data=data,
                scan_response_data=b"",
                advertising_interval_min=adv.interval_ms,
                advertising_interval_max=adv.interval_ms,
            )
        for nus in self.config.peripherals:
            await self._nus(nus)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._echoes):
            task.cancel()
        if self._echoes:
            await asyncio.wait(self._echoes)
        for device in [*self.devices.values(), self.central]:
            if device is None:
                continue
            for connection in list(device.connections.values()):
                try:
                    await connection.disconnect()
                except Exception:
                    pass  # already gone
            if device.is_advertising:
                await device.stop_advertising()
            if device.is_scanning:
                await device.stop_scanning()
            await device.power_off()

    async def _device(self, address: str, name: str, x_m: float, y_m: float) -> Device:
        assert self.link is not None
        controller = Controller(name, link=self.link, public_address=address)
        device = Device(
            name=name,
            address=hci.Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        await device.power_on()
        self.devices[_bare(address)] = device
        self.positions[_bare(address)] = (x_m, y_m)
        return device

    async def _nus(self, nus: VirtualNus) -> None:
        device = await self._device(nus.address, nus.name, nus.x_m, nus.y_m)
        key = _bare(nus.address)
        self.tx_power[key] = nus.tx_power_dbm
        self.received[key] = []
        tx = gatt.Characteristic(
            NUS_TX_UUID.upper(),
            gatt.Characteristic.Properties.NOTIFY,
            gatt.Characteristic.READABLE,
            b"",
        )

        def on_write(connection: Connection, value: bytes) -> None:
            self.received[key].append(bytes(value))
            if nus.echo_prefix is not None:
                echo = asyncio.get_running_loop().create_task(
                    self._notify(device, tx, nus.echo_prefix + bytes(value))
                )
                self._echoes.add(echo)
                echo.add_done_callback(self._echoes.discard)

        rx: gatt.Characteristic[Any] = gatt.Characteristic(
            NUS_RX_UUID.upper(),
            gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=on_write),
        )
        device.add_service(gatt.Service(NUS_SERVICE_UUID.upper(), [rx, tx]))
        self._tx[key] = tx
        await device.start_advertising(
            advertising_data=advertising_data(
                nus.name, nus.tx_power_dbm, uuids128=(NUS_SERVICE_UUID,)
            ),
            scan_response_data=b"",
            auto_restart=True,
            advertising_interval_min=nus.interval_ms,
            advertising_interval_max=nus.interval_ms,
        )

    @staticmethod
    async def _notify(device: Device, tx: gatt.Characteristic, data: bytes) -> None:
        await device.notify_subscribers(tx, data)

    async def notify(self, address: str, data: bytes) -> None:
        """The NUS peripheral at ``address`` sends ``data`` on TX (to every subscriber)."""
        key = _bare(address)
        await self.devices[key].notify_subscribers(self._tx[key], data)

    async def drop(self, address: str) -> None:
        """The peripheral at ``address`` drops its link to the central (it keeps advertising
        and accepts a new connection)."""
        device = self.devices[_bare(address)]
        for connection in list(device.connections.values()):
            await connection.disconnect()

    # -- bleak backends ------------------------------------------------------------------

    def scanner_backend(self) -> type[BaseBleakScanner]:
        return type("BumbleScanner", (BumbleScanner,), {"world": self})

    def client_backend(self) -> type[BaseBleakClient]:
        return type("BumbleClient", (BumbleClient,), {"world": self})


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend on the world's central (bound by :meth:`World.scanner_backend`)."""

    world: ClassVar[World]

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._active = scanning_mode == "active"
        self._listening = False

    async def start(self) -> None:
        world = self.world
        central = world.central
        if central is None:
            raise BleakError("the virtual world is not started")
        if world.scanning:
            raise BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"])
        self.seen_devices = {}
        central.on(central.EVENT_ADVERTISEMENT, self._on_advertisement)
        world.scanning = True
        await central.start_scanning(active=self._active, filter_duplicates=False)

    async def stop(self) -> None:
        world = self.world
        central = world.central
        if central is None or not world.scanning:
            return
        central.remove_listener(central.EVENT_ADVERTISEMENT, self._on_advertisement)
        world.scanning = False
        await central.stop_scanning()

    def _on_advertisement(self, advertisement: Any) -> None:
        if advertisement.is_scan_response:
            return  # the virtual devices send empty scan responses
        fields = parse_advertising_data(list(advertisement.data.ad_structures))
        if not self.is_allowed_uuid(fields["service_uuids"]):
            return
        address = _bare(str(advertisement.address))
        data = AdvertisementData(
            rssi=int(advertisement.rssi), platform_data=(advertisement,), **fields
        )
        device = self.create_or_update_device(
            address, address, fields["local_name"], advertisement, data
        )
        self.call_detection_callbacks(device, data)


_PROPERTY_NAMES = (
    (gatt.Characteristic.Properties.BROADCAST, "broadcast"),
    (gatt.Characteristic.Properties.READ, "read"),
    (gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE, "write-without-response"),
    (gatt.Characteristic.Properties.WRITE, "write"),
    (gatt.Characteristic.Properties.NOTIFY, "notify"),
    (gatt.Characteristic.Properties.INDICATE, "indicate"),
)


class BumbleClient(BaseBleakClient):
    """bleak client backend on the world's central (bound by :meth:`World.client_backend`)."""

    world: ClassVar[World]

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.pop("disconnected_callback", None),
            timeout=kwargs.pop("timeout", 10.0),
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._solicited = False

    @property
    def name(self) -> str:
        return self.address

    @property
    def mtu_size(self) -> int:
        return int(self._connection.att_mtu) if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        central = self.world.central
        if central is None:
            raise BleakError("the virtual world is not started")
        if _bare(self.address) not in self.world.devices:
            raise BleakDeviceNotFoundError(self.address, f"Device {self.address} not found")
        connection = await central.connect(hci.Address(self.address), timeout=self._timeout)
        self._connection = connection
        self._solicited = False
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            self.services = await self._discover(connection)
        except BaseException:
            await self.disconnect()  # no half-open connection left behind
            raise

    async def _discover(self, connection: Connection) -> BleakGATTServiceCollection:
        peer = Peer(connection)
        self._peer = peer
        await peer.discover_services()
        collection = BleakGATTServiceCollection()
        for service in peer.services:
            await service.discover_characteristics()
            bleak_service = BleakGATTService(service, service.handle, _uuid(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in service.characteristics:
                await characteristic.discover_descriptors()
                props = [name for flag, name in _PROPERTY_NAMES if characteristic.properties & flag]
                bleak_char = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    _uuid(characteristic.uuid),
                    props,  # type: ignore[arg-type]
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in characteristic.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, _uuid(descriptor.type), bleak_char
                        )
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._peer = None
        self.services = None
        if not self._solicited and self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        self._solicited = True
        await connection.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairing is not modelled")

    async def unpair(self) -> None:
        raise NotImplementedError("pairing is not modelled")

    def _need_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kw: Any
    ) -> bytearray:
        return bytearray(await self._need_peer().read_value(characteristic.obj))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kw: Any
    ) -> bytearray:
        return bytearray(await self._need_peer().read_value(descriptor.obj))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        await self._need_peer().write_value(characteristic.obj, bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        await self._need_peer().write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kw: Any
    ) -> None:
        await self._need_peer().subscribe(
            characteristic.obj, lambda value: callback(bytearray(value))
        )

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        await self._need_peer().unsubscribe(characteristic.obj)


def _uuid(value: Any) -> str:
    """A Bumble UUID as bleak's lower-case 128-bit string."""
    text = str(value.to_hex_str("-") if hasattr(value, "to_hex_str") else value)
    text = text.lower()
    if len(text) == 4:
        return f"0000{text}{SIG_BASE}"
    return text


def demo_world(distances_m: tuple[float, ...] = (2.0, 8.0, 25.0), seed: int = 1) -> WorldConfig:
    """A small street for ``--backend bumble``: Sidewalk-style beacons at ``distances_m`` from
    the dongle, one plain beacon and one NUS board, under a log-distance model with
    n = 2.5, PL(1 m) = 45 dB, sigma = 3 dB."""
    advertisers = [
        VirtualAdvertiser(
            address=f"C0:FF:EE:00:00:{k + 1:02X}",
            x_m=d,
            y_m=0.0,
            name=f"sidewalk-{k + 1}",
            service_uuids16=(0xFE03,),
            service_data16=((0xFE03, bytes([k + 1, 0x42])),),
        )
        for k, d in enumerate(distances_m)
    ]
    advertisers.append(
        VirtualAdvertiser(
            address="C0:FF:EE:00:01:01",
            x_m=5.0,
            y_m=5.0,
            name="thermo",
            manufacturer_data=((0x0059, b"\x01\x17"),),
        )
    )
    board = VirtualNus(address="C0:FF:EE:00:02:01", x_m=3.0, y_m=0.0)
    return WorldConfig(advertisers=tuple(advertisers), peripherals=(board,), seed=seed)


BackendPair = tuple[type[BaseBleakScanner], type[BaseBleakClient]]
WorldFactory = Callable[[], WorldConfig]
