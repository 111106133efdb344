"""The radio side of the real-BlueZ tier: a Bumble controller on /dev/vhci and Bumble peripherals.

What it does
    :class:`VirtualStreet` runs Bumble on its own thread and event loop (the "air", independent of
    the code under test, which runs bleak on another loop). It opens a Bumble software
    controller on ``/dev/vhci``: to the kernel, and so to bluetoothd, that is a new adapter
    (``hciN``), which unmodified bleak then drives over D-Bus. Peripherals are Bumble devices,
    each on its own Bumble controller, joined to the vhci controller by a Bumble ``LocalLink``:
    their advertising PDUs become the adapter's advertising reports and their ACL data its
    connections. Bumble reports every advertisement at -50 dBm; the vhci controller here
    (:class:`VhciController`) rewrites the RSSI of each report to the value set for its
    advertiser (:meth:`VirtualStreet.peripheral`), so a test can check that RSSI is carried end
    to end.
    :class:`NusPeripheral` serves the Nordic UART Service (RX write / write without response,
    TX notify) and records every write it receives.

Sources: Bumble 0.0.236 (``controller.Controller``, ``link.LocalLink``, ``transport.vhci``,
``device.Device``, ``gatt``); Bluetooth Core Specification Supplement v11 Part A (advertising
data structures: 1.1 service UUIDs, 1.2 local name, 1.3 flags, 1.11 service data); Nordic
Semiconductor, nRF Connect SDK "Nordic UART Service" (UUIDs and properties); Linux
``/sys/class/bluetooth`` and BlueZ doc/org.bluez.Adapter.rst (``Powered``).

Leaves out: radio timing and loss (Bumble's link delivers every PDU at once, to every
controller), scan responses distinct from the advertising data (Bumble's controller reports its
advertising data twice, once as ADV_IND and once as SCAN_RSP), non-connectable advertising
(Bumble's legacy advertiser only sends ADV_IND), extended advertising, and pairing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from bumble import hci
from bumble.controller import Controller
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import Transport, open_transport
from bumble.transport.common import AsyncPipeSink
from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

T = TypeVar("T")

SYSFS_BLUETOOTH = Path("/sys/class/bluetooth")
VHCI = Path("/dev/vhci")

SIDEWALK_UUID16 = 0xFE03
SIDEWALK_UUID = "0000fe03-0000-1000-8000-00805f9b34fb"
NUS_SERVICE_UUID = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX_UUID = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NUS_TX_UUID = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"

# Advertising data types, Core Specification Supplement Part A / Assigned Numbers 2.3.
AD_FLAGS = 0x01
AD_COMPLETE_UUIDS_16 = 0x03
AD_COMPLETE_UUIDS_128 = 0x07
AD_COMPLETE_LOCAL_NAME = 0x09
AD_SERVICE_DATA_16 = 0x16
FLAGS_LE_GENERAL_NO_BREDR = 0x06
LEGACY_ADV_DATA_MAX_BYTES = 31  # Core v5.3 Vol 6 Part B 2.3.1.1; Linux drops longer data
# Bumble's advertiser waits this many 0.625 ms units as milliseconds (0.8 s). Every advert costs
# an HCI event, a bluetoothd update and a D-Bus signal, all emulated: at 100 ms, scans in the
# guest fell seconds behind.
ADVERTISING_INTERVAL_MS = 500.0


def ad_structure(ad_type: int, data: bytes) -> bytes:
    """One advertising data structure: length (type + data), type, data."""
    return bytes([len(data) + 1, ad_type]) + data


def sidewalk_advert(name: str, service_data: bytes) -> bytes:
    """A Sidewalk-style advert: flags, the 16-bit service UUID 0xFE03 listed and carrying
    ``service_data``, and the complete local name."""
    uuid = SIDEWALK_UUID16.to_bytes(2, "little")
    return _legacy(
        ad_structure(AD_FLAGS, bytes([FLAGS_LE_GENERAL_NO_BREDR]))
        + ad_structure(AD_COMPLETE_UUIDS_16, uuid)
        + ad_structure(AD_SERVICE_DATA_16, uuid + service_data)
        + ad_structure(AD_COMPLETE_LOCAL_NAME, name.encode())
    )


def nus_advert(name: str) -> bytes:
    """A Nordic UART Service peripheral's advert: flags, the 128-bit NUS UUID, the name."""
    return _legacy(
        ad_structure(AD_FLAGS, bytes([FLAGS_LE_GENERAL_NO_BREDR]))
        + ad_structure(AD_COMPLETE_UUIDS_128, UUID(NUS_SERVICE_UUID).bytes[::-1])
        + ad_structure(AD_COMPLETE_LOCAL_NAME, name.encode())
    )


def _legacy(data: bytes) -> bytes:
    if len(data) > LEGACY_ADV_DATA_MAX_BYTES:
        raise ValueError(f"{len(data)} bytes of advertising data; legacy adverts carry 31")
    return data


class VhciController(Controller):
    """The Bumble controller that the kernel sees on /dev/vhci; its advertising reports carry a
    per-advertiser RSSI (Bumble's own report -50 dBm for every advertiser)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rssi_dbm: dict[str, int] = {}  # advertiser address (upper case) -> RSSI

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if isinstance(
            packet,
            hci.HCI_LE_Advertising_Report_Event | hci.HCI_LE_Extended_Advertising_Report_Event,
        ):
            reports = [
                dataclasses.replace(r, rssi=self.rssi_dbm.get(str(r.address), r.rssi))
                for r in packet.reports
            ]
            packet = dataclasses.replace(packet, reports=reports)
        super().send_hci_packet(packet)


class NusPeripheral:
    """A Bumble device serving the Nordic UART Service. Its methods run on the street's loop."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.writes: list[bytes] = []  # every value written to RX, in order
        self.connections: list[Connection] = []
        self.subscribed = asyncio.Event()
        self.tx = Characteristic(
            NUS_TX_UUID,
            Characteristic.Properties.NOTIFY,
            Characteristic.Permissions.READABLE,
            b"",
        )
        self.rx = Characteristic(
            NUS_RX_UUID,
            Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            Characteristic.Permissions.WRITEABLE,
            CharacteristicValue(write=self._on_write),
        )
        self.tx.on(self.tx.EVENT_SUBSCRIPTION, self._on_subscription)
        device.add_service(Service(NUS_SERVICE_UUID, [self.rx, self.tx]))
        device.on(device.EVENT_CONNECTION, self._on_connection)

    def _on_write(self, connection: Connection, value: bytes) -> None:
        self.writes.append(bytes(value))

    def _on_subscription(self, bearer: Any, notify: bool, indicate: bool) -> None:
        if notify:
            self.subscribed.set()
        else:
            self.subscribed.clear()

    def _on_connection(self, connection: Connection) -> None:
        self.connections.append(connection)
        connection.on(connection.EVENT_DISCONNECTION, lambda *_: self.subscribed.clear())

    async def written(self) -> list[bytes]:
        return list(self.writes)

    async def wait_subscribed(self, timeout_s: float) -> None:
        await asyncio.wait_for(self.subscribed.wait(), timeout_s)

    async def notify(self, value: bytes) -> None:
        await self.device.notify_subscribers(self.tx, value)

    async def drop_link(self) -> None:
        """Disconnect every connection from the peripheral's side (as a board that resets)."""
        for connection in list(self.device.connections.values()):
            await connection.disconnect()


class VirtualStreet:
    """Bumble on a background thread: one vhci adapter and the peripherals around it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="bumble", daemon=True)
        self._thread.start()
        self.adapter = ""  # hciN, once open
        self._transport: Transport | None = None
        self._link: LocalLink | None = None
        self._controller: VhciController | None = None
        self.devices: list[Device] = []

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout_s: float = 60.0) -> T:
        """Run ``coro`` on the street's loop and wait for it (from a thread without a loop)."""
        return self.submit(coro).result(timeout_s)

    async def acall(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the street's loop and await it (from another event loop)."""
        return await asyncio.wrap_future(self.submit(coro))

    def open(self, timeout_s: float = 60.0) -> str:
        """Open the vhci adapter; wait until bluetoothd has it powered; return its name."""
        before = set(os.listdir(SYSFS_BLUETOOTH)) if SYSFS_BLUETOOTH.exists() else set()
        self.call(self._open_vhci())
        deadline = time.monotonic() + timeout_s
        while True:
            new = sorted(set(os.listdir(SYSFS_BLUETOOTH)) - before)
            if new:
                self.adapter = new[0]
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the vhci controller did not appear in /sys/class/bluetooth")
            time.sleep(0.05)
        self.call(_wait_powered(self.adapter, deadline))
        return self.adapter

    async def _open_vhci(self) -> None:
        self._transport = await open_transport("vhci")
        self._link = LocalLink()
        # No fixed public address: bluetoothd then gives the adapter a static random one.
        self._controller = VhciController(
            "vhci",
            host_source=self._transport.source,
            host_sink=self._transport.sink,
            link=self._link,
        )

    def peripheral(
        self,
        name: str,
        address: str,
        advert: bytes,
        rssi_dbm: int,
        nus: bool = False,
    ) -> tuple[Device, NusPeripheral | None]:
        """A Bumble device at ``address`` (random static) advertising ``advert`` every 500 ms,
        connectable, re-advertising after a disconnect; heard by the adapter at ``rssi_dbm``."""
        return self.call(self._peripheral(name, address, advert, rssi_dbm, nus))

    async def _peripheral(
        self, name: str, address: str, advert: bytes, rssi_dbm: int, nus: bool
    ) -> tuple[Device, NusPeripheral | None]:
        assert self._link is not None and self._controller is not None, "open() first"
        controller = Controller(f"peer-{name}", link=self._link)
        device = Device(
            name=name,
            address=hci.Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        service = NusPeripheral(device) if nus else None
        await device.power_on()
        self._controller.rssi_dbm[address.upper()] = rssi_dbm
        await device.start_advertising(
            advertising_data=advert,
            auto_restart=True,
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
        )
        self.devices.append(device)
        return device, service

    def readvertise(self, device: Device, advert: bytes) -> None:
        """Change what ``device`` advertises (as a Sidewalk device rotating its payload)."""

        async def change() -> None:
            await device.stop_advertising()
            await device.start_advertising(
                advertising_data=advert,
                auto_restart=True,
                advertising_interval_min=ADVERTISING_INTERVAL_MS,
            )

        self.call(change())

    def close(self) -> None:
        """Close the vhci adapter (the kernel removes hciN) and stop the loop.

        bluetoothd gives every vhci adapter the same static address, so the next test's adapter
        inherits what BlueZ learnt about a peripheral address (its name, the services found over
        GATT): tests that must not see that use addresses of their own (simpler than making
        bluetoothd forget them with Adapter1.RemoveDevice, which was tried and is not needed)."""

        async def shutdown() -> None:
            for device in self.devices:
                await device.stop_advertising()
                for connection in list(device.connections.values()):
                    await connection.disconnect()
            if self._transport is not None:
                await self._transport.close()
            # Let handlers Bumble spawned for the last PDUs run to completion (a task cancelled
            # before it starts leaves its coroutine never awaited), then cancel what is left.
            await asyncio.sleep(0.2)
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.call(shutdown(), timeout_s=30.0)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10.0)
            self.loop.close()


@contextmanager
def virtual_street() -> Iterator[VirtualStreet]:
    """``with virtual_street() as street:`` a powered vhci adapter (``street.adapter``)."""
    street = VirtualStreet()
    try:
        street.open()
        yield street
    finally:
        street.close()


async def _wait_powered(adapter: str, deadline: float) -> None:
    """Wait until bluetoothd exports ``adapter`` and it is powered (power it on if needed)."""
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    path = f"/org/bluez/{adapter}"
    asked = False
    try:
        while True:
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path=path,
                    interface="org.freedesktop.DBus.Properties",
                    member="Get",
                    signature="ss",
                    body=["org.bluez.Adapter1", "Powered"],
                )
            )
            assert reply is not None
            if reply.message_type == MessageType.METHOD_RETURN:
                if reply.body[0].value:
                    return
                if not asked:
                    asked = True
                    await bus.call(
                        Message(
                            destination="org.bluez",
                            path=path,
                            interface="org.freedesktop.DBus.Properties",
                            member="Set",
                            signature="ssv",
                            body=["org.bluez.Adapter1", "Powered", Variant("b", True)],
                        )
                    )
            if time.monotonic() > deadline:
                raise TimeoutError(f"bluetoothd did not power {adapter} on (last reply: {reply})")
            await asyncio.sleep(0.1)
    finally:
        bus.disconnect()
        await bus.wait_for_disconnect()
