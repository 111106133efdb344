"""The project's own BLE code (experiments.ble, ``sidemesh ble scan``) through real BlueZ.

What it checks, with Bumble peripherals on a vhci adapter (tests/bluez/virtual.py) and bleak
unmodified underneath the project's code:
    * ``experiments.ble.scanner.Scanner`` and ``experiments.ble.adverts`` classify a Sidewalk
      advert as ``sidewalk`` and a Nordic UART Service advert as ``nus``, with name, RSSI,
      service data and payload as BlueZ reported them;
    * ``sidemesh ble scan --json --duration 8s --adapter hciN`` prints both devices;
    * adapter problems become the project's messages (``BleUnavailable``): a second scanner in
      the process (BlueZ InProgress) is ``busy``, an adapter that does not exist is
      ``no_adapter`` (exit status 2 at the command line), a powered-off adapter is
      ``powered_off``;
    * ``experiments.ble.uart.UartLink`` against a NUS peripheral, connected from the device the
      product's Scanner saw: a message longer than one attribute value (512 bytes) written in
      chunks that each fit the exchanged ATT MTU and the 512-byte limit, newline framing of
      notifications, and the peripheral dropping the link noticed and recorded as an outage;
      no warning (warnings are errors here).

Sources: the modules under test; bleak 3.x; BlueZ 5.66 doc/org.bluez.Adapter.rst (Powered,
StartDiscovery errors); Core v5.3 Vol 3 Part F 3.2.9 (512-byte attribute values).

Leaves out: connecting while the Scanner is still discovering (the bridge does; on this vhci
controller BlueZ's connect during discovery fails now and then and can wedge the adapter, so the
UART test stops the scan first); UartLink's reconnection through BlueZ (it worked in 8 of 8
isolated runs but once, in a full run, bluetoothd dropped the new link right after the first
notification; not understood yet, so not a test); ``sidemesh ble record``, ``calibrate`` and
``bridge`` (they run on the same Scanner and UartLink and are covered on the Bumble backend by
tests/ble); several adapters; pairing.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from experiments.ble.adverts import Advertisement
from experiments.ble.errors import BleUnavailable
from experiments.ble.scanner import Scanner
from experiments.ble.uart import Backoff, Outage, UartLink
from experiments.cli import main
from tests.bluez.virtual import (
    NUS_SERVICE_UUID,
    SIDEWALK_UUID,
    NusPeripheral,
    VirtualStreet,
    nus_advert,
    sidewalk_advert,
    virtual_street,
)

pytestmark = pytest.mark.bluez

TIMEOUT_S = 30.0
# Addresses of their own: test_bleak_bluez connects to its NUS peripheral, and BlueZ would list
# the services it found then in this module's adverts (see VirtualStreet.close).
SW_NAME, SW_ADDRESS, SW_RSSI = "SW-0001", "C0:5A:00:00:01:01", -63
SW_DATA = bytes.fromhex("4101a0b1c2d3e4f5")
NUS_NAME, NUS_ADDRESS, NUS_RSSI = "NUS-01", "C0:5A:00:00:01:02", -71
EXCHANGED_ATT_MTU = 517  # what BlueZ asks for and Bumble's server accepts
ATT_MAX_VALUE_BYTES = 512


def street_with_both(street: VirtualStreet) -> NusPeripheral:
    street.peripheral(SW_NAME, SW_ADDRESS, sidewalk_advert(SW_NAME, SW_DATA), SW_RSSI)
    _, nus = street.peripheral(NUS_NAME, NUS_ADDRESS, nus_advert(NUS_NAME), NUS_RSSI, nus=True)
    assert nus is not None
    return nus


async def named_adverts(scanner: Scanner, addresses: set[str]) -> dict[str, Advertisement]:
    """The latest advertisement of each address, once each has one with a name."""

    async def poll() -> dict[str, Advertisement]:
        while True:
            latest = {a: scanner.latest.get(a) for a in addresses}
            if all(adv is not None and adv.name for adv in latest.values()):
                return {a: adv for a, adv in latest.items() if adv is not None}
            await asyncio.sleep(0.1)

    return await asyncio.wait_for(poll(), TIMEOUT_S)


def test_scanner_classifies_sidewalk_and_nus_adverts_and_refuses_a_second_scanner() -> None:
    async def scan(adapter: str) -> tuple[dict[str, Advertisement], BleUnavailable]:
        async with Scanner(adapter) as scanner:
            seen = await named_adverts(scanner, {SW_ADDRESS, NUS_ADDRESS})
            with pytest.raises(BleUnavailable) as refused:
                async with Scanner(adapter):
                    pass
            return seen, refused.value

    with virtual_street() as street:
        street_with_both(street)
        seen, refused = asyncio.run(scan(street.adapter))

    sidewalk, nus = seen[SW_ADDRESS], seen[NUS_ADDRESS]
    assert sidewalk.kinds == ("sidewalk",)
    assert (sidewalk.name, sidewalk.rssi_dbm) == (SW_NAME, SW_RSSI)
    assert sidewalk.service_data == ((SIDEWALK_UUID, SW_DATA),)
    assert sidewalk.service_uuids == (SIDEWALK_UUID,)
    assert sidewalk.payload == SW_DATA
    assert nus.kinds == ("nus",)
    assert (nus.name, nus.rssi_dbm) == (NUS_NAME, NUS_RSSI)
    assert nus.service_uuids == (NUS_SERVICE_UUID,)
    assert refused.kind == "busy"


def test_cli_scan_json_lists_both_devices_and_an_unknown_adapter_exits_2() -> None:
    runner = CliRunner()
    with virtual_street() as street:
        street_with_both(street)
        args = ["ble", "scan", "--json", "--duration", "8s", "--adapter", street.adapter]
        result = runner.invoke(main, args)
        missing = runner.invoke(main, ["ble", "scan", "--duration", "1s", "--adapter", "hci99"])

    assert result.exit_code == 0, result.output
    devices = {d["address"]: d for d in json.loads(result.stdout)}
    assert set(devices) == {SW_ADDRESS, NUS_ADDRESS}, result.output
    sidewalk, nus = devices[SW_ADDRESS], devices[NUS_ADDRESS]
    assert (sidewalk["name"], sidewalk["rssi_dbm"], sidewalk["kinds"]) == (
        SW_NAME,
        SW_RSSI,
        ["sidewalk"],
    )
    assert sidewalk["service_data"] == {SIDEWALK_UUID: SW_DATA.hex()}
    assert (nus["name"], nus["rssi_dbm"], nus["kinds"]) == (NUS_NAME, NUS_RSSI, ["nus"])
    assert sidewalk["advertisements"] >= 1 and nus["advertisements"] >= 1
    assert missing.exit_code == 2, missing.output
    assert "no Bluetooth adapter found" in missing.output


def test_a_powered_off_adapter_is_reported_as_such() -> None:
    async def scan_powered_off(adapter: str) -> BleUnavailable:
        await set_powered(adapter, False)
        with pytest.raises(BleUnavailable) as refused:
            async with Scanner(adapter):
                pass
        return refused.value

    with virtual_street() as street:
        problem = asyncio.run(scan_powered_off(street.adapter))
    assert problem.kind == "powered_off"


async def set_powered(adapter: str, on: bool) -> None:
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path=f"/org/bluez/{adapter}",
                interface="org.freedesktop.DBus.Properties",
                member="Set",
                signature="ssv",
                body=["org.bluez.Adapter1", "Powered", Variant("b", on)],
            )
        )
        assert reply is not None and reply.message_type == MessageType.METHOD_RETURN, reply
    finally:
        bus.disconnect()
        await bus.wait_for_disconnect()


def test_uart_link_writes_chunks_frames_lines_and_notices_a_drop() -> None:
    with virtual_street() as street:
        _, nus = street.peripheral(NUS_NAME, NUS_ADDRESS, nus_advert(NUS_NAME), NUS_RSSI, nus=True)
        assert nus is not None
        message, writes, messages, outages, link = asyncio.run(uart_session(street, nus))
    # A BleakClient left behind after a drop without disconnect() keeps its D-Bus connection
    # open; collecting now makes its ResourceWarning fail this test, not the end of the session.
    gc.collect()

    # Every chunk must fit the exchanged MTU and the 512-byte attribute value limit; a longer
    # write without response is dropped by the peripheral without a word.
    assert max(len(w) for w in writes) <= min(EXCHANGED_ATT_MTU - 3, ATT_MAX_VALUE_BYTES)
    assert b"".join(writes) == message
    assert messages == [b"hello", b"world"]
    assert (link.writes, link.unsent) == (1, 0)
    # The link reconnects at once after a drop; whether that is done before close() is timing,
    # so only the outage's start and reason are checked here.
    assert [(o.address, o.reason) for o in outages] == [(NUS_ADDRESS, "disconnected")]
    assert 0 < outages[0].start_s < link.now_s()


async def uart_session(
    street: VirtualStreet, nus: NusPeripheral
) -> tuple[bytes, list[bytes], list[bytes], list[Outage], UartLink]:
    messages: list[bytes] = []
    message = bytes(i % 251 for i in range(1300))  # over two 512-byte attribute values
    # The link is made from the device the scanner saw, with discovery stopped: connecting while
    # BlueZ discovers on this vhci controller fails now and then (see the README, Test tiers).
    async with Scanner(street.adapter) as scanner:
        await scanner.wait_for(NUS_ADDRESS, TIMEOUT_S)
    link = UartLink(
        scanner,
        NUS_ADDRESS,
        messages.append,
        framing="line",
        backoff=Backoff(initial_s=0.2, max_s=1.0),
        connect_timeout_s=TIMEOUT_S,
    )
    running = asyncio.create_task(link.run())
    try:
        await asyncio.wait_for(link.connected.wait(), TIMEOUT_S)
        await street.acall(nus.wait_subscribed(TIMEOUT_S))
        assert link.mtu >= 23  # without a warning: bleak on BlueZ warns until it knows
        assert await link.send(message), "UartLink.send refused a message while connected"
        writes = await writes_of(street, nus, len(message))
        await street.acall(nus.notify(b"hello\nwor"))
        await street.acall(nus.notify(b"ld\n"))
        await wait_until(lambda: len(messages) == 2)
        await street.acall(nus.drop_link())
        await wait_until(lambda: not link.connected.is_set())
    finally:
        outages = await link.close()
        await asyncio.wait_for(running, TIMEOUT_S)
    return message, writes, messages, outages, link


async def wait_until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), TIMEOUT_S)


async def writes_of(street: VirtualStreet, nus: NusPeripheral, total_bytes: int) -> list[bytes]:
    """The peripheral's writes once ``total_bytes`` have arrived, or after 5 s (writes without
    response are not acknowledged: a dropped one is only seen as missing)."""
    deadline = asyncio.get_running_loop().time() + 5.0
    while True:
        writes = await street.acall(nus.written())
        if sum(map(len, writes)) >= total_bytes or asyncio.get_running_loop().time() > deadline:
            return writes
        await asyncio.sleep(0.05)
