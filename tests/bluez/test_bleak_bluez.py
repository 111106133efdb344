"""Unmodified bleak against real BlueZ (bluetoothd over D-Bus, kernel HCI, a vhci controller).

What it checks, with Bumble peripherals on the air (tests/bluez/virtual.py):
    * scanning reports a Sidewalk-style advert (0xFE03 listed and as service data) and a Nordic
      UART Service advert (128-bit UUID) with name, service data, service UUIDs and the RSSI
      the advertiser is heard at;
    * a scanner left running past the kernel's LE discovery window (10.24 s, after which
      bluetoothd starts discovery again) still reports an advertiser's new data;
    * a NUS peripheral: connect, service discovery, notifications subscribed, the ATT MTU that
      BlueZ exchanged (bleak learns it only through ``_acquire_mtu``), a value over 512 bytes
      refused, a message written in min(ATT_MTU - 3, 512)-byte chunks without response (and a
      write with response), notifications received in order, the disconnect callback when
      the peripheral drops the link, and the services discovered over GATT showing in the
      device's later adverts (bleak's ``service_uuids`` is BlueZ's ``UUIDs`` property);
    * BlueZ refuses a second concurrent scan from one D-Bus client (bleak shares one D-Bus
      connection per process: org.bluez.Error.InProgress) while another client may scan at
      the same time: why experiments.ble keeps one long-lived scanner per adapter.

Sources: bleak 3.x (BleakScanner, BleakClient, BleakDBusError); BlueZ 5.66
doc/org.bluez.Adapter.rst (StartDiscovery: InProgress) and src/adapter.c (one discovery session
per D-Bus sender); Core v5.3 Vol 3 Part F 3.2.8, 3.2.9 and 3.4.5 (ATT_MTU, 512-byte attribute
values, 3-byte write header).

Leaves out: pairing and encryption, MTU exchange beyond what BlueZ does on its own, extended
advertising, several adapters at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError, BleakGATTProtocolError, BleakGATTProtocolErrorCode
from bumble.device import Device
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

from tests.bluez.virtual import (
    NUS_RX_UUID,
    NUS_SERVICE_UUID,
    NUS_TX_UUID,
    SIDEWALK_UUID,
    NusPeripheral,
    VirtualStreet,
    nus_advert,
    sidewalk_advert,
    virtual_street,
)

pytestmark = pytest.mark.bluez

TIMEOUT_S = 30.0
SW_NAME, SW_ADDRESS, SW_RSSI = "SW-0001", "C0:5A:00:00:00:01", -63
SW_DATA = bytes.fromhex("4101a0b1c2d3e4f5")
NUS_NAME, NUS_ADDRESS, NUS_RSSI = "NUS-01", "C0:5A:00:00:00:02", -71
ATT_WRITE_HEADER_BYTES = 3  # Core v5.3 Vol 3 Part F 3.4.5: opcode and handle
ATT_MAX_VALUE_BYTES = 512  # Core v5.3 Vol 3 Part F 3.2.9
GAP_UUID = "00001800-0000-1000-8000-00805f9b34fb"
GATT_UUID = "00001801-0000-1000-8000-00805f9b34fb"

Seen = dict[str, tuple[BLEDevice, AdvertisementData]]
OnAdvert = Callable[[BLEDevice, AdvertisementData], None]


def recorder(wanted: set[str]) -> tuple[Seen, asyncio.Event, OnAdvert]:
    """A detection callback keeping the last named advert of each wanted address; the event is
    set once every wanted address has been seen."""
    seen: Seen = {}
    done = asyncio.Event()

    def on_advert(device: BLEDevice, data: AdvertisementData) -> None:
        if device.address in wanted and data.local_name:
            seen[device.address] = (device, data)
            if wanted <= seen.keys():
                done.set()

    return seen, done, on_advert


async def scan_until_seen(adapter: str, wanted: set[str]) -> Seen:
    seen, done, on_advert = recorder(wanted)
    async with BleakScanner(on_advert, bluez={"adapter": adapter}):
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
    return seen


def test_scan_reports_sidewalk_and_nus_adverts_with_name_service_data_and_rssi() -> None:
    with virtual_street() as street:
        street.peripheral(SW_NAME, SW_ADDRESS, sidewalk_advert(SW_NAME, SW_DATA), SW_RSSI)
        street.peripheral(NUS_NAME, NUS_ADDRESS, nus_advert(NUS_NAME), NUS_RSSI, nus=True)
        seen = asyncio.run(scan_until_seen(street.adapter, {SW_ADDRESS, NUS_ADDRESS}))

    device, sidewalk = seen[SW_ADDRESS]
    assert device.name == SW_NAME
    assert sidewalk.local_name == SW_NAME
    assert sidewalk.service_data == {SIDEWALK_UUID: SW_DATA}
    assert sidewalk.service_uuids == [SIDEWALK_UUID]
    assert sidewalk.manufacturer_data == {}
    assert sidewalk.rssi == SW_RSSI

    device, nus = seen[NUS_ADDRESS]
    assert device.name == NUS_NAME
    assert nus.local_name == NUS_NAME
    assert nus.service_uuids == [NUS_SERVICE_UUID]
    assert nus.service_data == {}
    assert nus.rssi == NUS_RSSI


def test_a_long_lived_scanner_reports_new_advert_data_after_the_kernel_scan_window() -> None:
    rotated = bytes.fromhex("4102ffeeddccbbaa")
    with virtual_street() as street:
        device, _ = street.peripheral(
            SW_NAME, SW_ADDRESS, sidewalk_advert(SW_NAME, SW_DATA), SW_RSSI
        )
        payloads = asyncio.run(long_scan(street, device, sidewalk_advert(SW_NAME, rotated)))
    assert payloads[0] == SW_DATA
    assert payloads[-1] == rotated
    assert set(payloads) == {SW_DATA, rotated}


async def long_scan(street: VirtualStreet, device: Device, new_advert: bytes) -> list[bytes]:
    payloads: list[bytes] = []
    changed = asyncio.Event()
    first = asyncio.Event()

    def on_advert(found: BLEDevice, data: AdvertisementData) -> None:
        payload = data.service_data.get(SIDEWALK_UUID)
        if found.address != SW_ADDRESS or payload is None:
            return
        if not payloads or payloads[-1] != payload:
            payloads.append(payload)
        first.set()
        if payload != SW_DATA:
            changed.set()

    async with BleakScanner(on_advert, bluez={"adapter": street.adapter}):
        await asyncio.wait_for(first.wait(), TIMEOUT_S)
        await asyncio.sleep(12.0)  # past the kernel's 10.24 s LE discovery window
        await asyncio.to_thread(street.readvertise, device, new_advert)
        await asyncio.wait_for(changed.wait(), TIMEOUT_S)
    return payloads


def test_nus_connect_notify_chunked_write_and_disconnect_by_the_peripheral() -> None:
    with virtual_street() as street:
        _, nus = street.peripheral(NUS_NAME, NUS_ADDRESS, nus_advert(NUS_NAME), NUS_RSSI, nus=True)
        assert nus is not None
        mtu, refused, writes, notifications, still_connected, uuids_after = asyncio.run(
            nus_session(street, nus)
        )

    # BlueZ asks for an ATT_MTU of 517 and Bumble's server accepts it; a write then carries at
    # most min(ATT_MTU - 3, 512) bytes: 512 is the longest attribute value (Core v5.3 Vol 3
    # Part F 3.2.9), and a longer write with response is refused.
    assert mtu == 517
    assert refused == BleakGATTProtocolErrorCode.INVALID_ATTRIBUTE_VALUE_LENGTH
    assert writes == [*chunked(message_for(mtu), mtu), b"with response"]
    assert len(writes) == 4
    assert notifications == [b"hello ", b"from ", b"the board\n"]
    assert still_connected is False
    # BlueZ keeps what it learnt over GATT: the next advert of this device reports the services
    # it discovered (GAP 0x1800, GATT 0x1801) besides the advertised NUS UUID.
    assert uuids_after == [GAP_UUID, GATT_UUID, NUS_SERVICE_UUID]


def chunk_bytes(mtu: int) -> int:
    return min(mtu - ATT_WRITE_HEADER_BYTES, ATT_MAX_VALUE_BYTES)


def message_for(mtu: int) -> bytes:
    """Two and a half chunks of a counting pattern."""
    size = chunk_bytes(mtu)
    return bytes(i % 251 for i in range(2 * size + size // 2))


def chunked(message: bytes, mtu: int) -> list[bytes]:
    size = chunk_bytes(mtu)
    return [message[i : i + size] for i in range(0, len(message), size)]


async def nus_session(
    street: VirtualStreet, nus: NusPeripheral
) -> tuple[int, BleakGATTProtocolErrorCode | None, list[bytes], list[bytes], bool, list[str]]:
    seen = await scan_until_seen(street.adapter, {NUS_ADDRESS})
    notifications: list[bytes] = []
    three = asyncio.Event()
    disconnected = asyncio.Event()

    def on_notify(_: BleakGATTCharacteristic, data: bytearray) -> None:
        notifications.append(bytes(data))
        if len(notifications) == 3:
            three.set()

    client = BleakClient(seen[NUS_ADDRESS][0], disconnected_callback=lambda _: disconnected.set())
    await client.connect(timeout=TIMEOUT_S)
    try:
        assert client.services.get_service(NUS_SERVICE_UUID) is not None
        rx = client.services.get_characteristic(NUS_RX_UUID)
        tx = client.services.get_characteristic(NUS_TX_UUID)
        assert rx is not None and tx is not None
        assert {"write", "write-without-response"} <= set(rx.properties)
        assert "notify" in tx.properties
        await client.start_notify(tx, on_notify)
        await street.acall(nus.wait_subscribed(TIMEOUT_S))

        # BlueZ exchanges the ATT MTU on its own, but bleak only learns it by acquiring a
        # characteristic (bleak's examples/mtu_size.py); until then it warns and says 23.
        with pytest.warns(UserWarning, match="default MTU"):
            assert client.mtu_size == 23
        await client._backend._acquire_mtu()  # type: ignore[attr-defined]
        mtu = client.mtu_size

        refused = None
        try:
            await client.write_gatt_char(rx, bytes(ATT_MAX_VALUE_BYTES + 1), response=True)
        except BleakGATTProtocolError as err:
            refused = err.code
        for chunk in chunked(message_for(mtu), mtu):
            await client.write_gatt_char(rx, chunk, response=False)
        # A write with response is answered after every earlier write on the bearer was served.
        await client.write_gatt_char(rx, b"with response", response=True)
        writes = await street.acall(nus.written())

        for part in (b"hello ", b"from ", b"the board\n"):
            await street.acall(nus.notify(part))
        await asyncio.wait_for(three.wait(), TIMEOUT_S)

        await street.acall(nus.drop_link())
        await asyncio.wait_for(disconnected.wait(), TIMEOUT_S)
        still_connected = client.is_connected
    finally:
        # Also after the peripheral dropped the link: only disconnect() releases the client's
        # own D-Bus connection (bleak 3.1 BleakClientBlueZDBus.disconnect).
        await client.disconnect()
    again = await scan_until_seen(street.adapter, {NUS_ADDRESS})
    uuids_after = sorted(again[NUS_ADDRESS][1].service_uuids)
    return mtu, refused, writes, notifications, still_connected, uuids_after


def test_bluez_refuses_a_second_scan_from_one_client_but_not_from_another() -> None:
    with virtual_street() as street:
        street.peripheral(SW_NAME, SW_ADDRESS, sidewalk_advert(SW_NAME, SW_DATA), SW_RSSI)
        error, other_client_reply, seen_after = asyncio.run(two_scans(street.adapter))
    assert error == "org.bluez.Error.InProgress"
    assert other_client_reply == (MessageType.METHOD_RETURN, MessageType.METHOD_RETURN)
    assert seen_after is True


async def two_scans(adapter: str) -> tuple[str, tuple[MessageType, MessageType], bool]:
    seen, done, on_advert = recorder({SW_ADDRESS})
    first = BleakScanner(on_advert, bluez={"adapter": adapter})
    await first.start()
    try:
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
        second = BleakScanner(bluez={"adapter": adapter})
        with pytest.raises(BleakDBusError) as refused:
            await second.start()

        # Another D-Bus connection is another discovery client to bluetoothd.
        bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        try:
            replies = []
            for member in ("StartDiscovery", "StopDiscovery"):
                reply = await bus.call(
                    Message(
                        destination="org.bluez",
                        path=f"/org/bluez/{adapter}",
                        interface="org.bluez.Adapter1",
                        member=member,
                    )
                )
                assert reply is not None
                replies.append(reply.message_type)
        finally:
            bus.disconnect()
            await bus.wait_for_disconnect()

        # The first scanner is unharmed by the refused one.
        seen.clear()
        done.clear()
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
        return refused.value.dbus_error, (replies[0], replies[1]), SW_ADDRESS in seen
    finally:
        await first.stop()
