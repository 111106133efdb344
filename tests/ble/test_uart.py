"""Tier 1: the Nordic UART Service link (experiments.ble.uart) through real bleak ``BleakClient``
objects on a scripted in-memory backend (bleak's ``backend=`` seam): whole messages in order
when writes are awaited, chunk size from the RX characteristic, reconnection with backoff
(through the injectable sleep), outages, a board without NUS, and giving up on a missing
adapter."""

from __future__ import annotations

import asyncio
import math
import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

pytest.importorskip("bleak")  # in the test extra; the CLI tests cover a missing bleak

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakError,
)

from experiments.ble.adverts import NUS_RX_UUID, NUS_SERVICE_UUID, NUS_TX_UUID
from experiments.ble.errors import BleUnavailable
from experiments.ble.uart import Backoff, NusMissing, UartLink

BOARD = "C0:FF:EE:00:02:01"
# one line the bridge routes to the board: 32 bytes, two chunks at the default ATT_MTU of 23
LINE_A = b"C0:FF:EE:00:00:01 0142 rssi=-67\n"
LINE_B = b"C0:FF:EE:00:00:02 0242 rssi=-80\n"


class Board:
    """What the scripted backend does: one outcome per connection attempt ("ok", "no_nus" or
    an exception to raise), the RX size it reports, and what was written to RX."""

    def __init__(self, outcomes: list[Any], write_size: int = 20) -> None:
        self.outcomes = outcomes
        self.write_size = write_size
        self.attempts = 0
        self.writes: list[bytes] = []
        self.disconnects = 0
        self.client: ScriptedClient | None = None

    def drop(self) -> None:
        """The board drops the link (an unsolicited disconnect)."""
        client = self.client
        assert client is not None and client.connected
        client.connected = False
        assert client._disconnected_callback is not None
        client._disconnected_callback()


class ScriptedClient(BaseBleakClient):
    board: ClassVar[Board]

    def __init__(self, address: Any, **kwargs: Any) -> None:
        super().__init__(
            address,
            disconnected_callback=kwargs.get("disconnected_callback"),
            timeout=kwargs.get("timeout", 10.0),
        )
        self.connected = False

    @property
    def mtu_size(self) -> int:  # like BlueZ without _acquire_mtu(): a warning, and 23
        warnings.warn("Using default MTU value", UserWarning, stacklevel=2)
        return 23

    @property
    def is_connected(self) -> bool:
        return self.connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        board = self.board
        board.attempts += 1
        outcome = board.outcomes.pop(0) if board.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        collection = BleakGATTServiceCollection()
        uuid = NUS_SERVICE_UUID if outcome == "ok" else "0000180a-0000-1000-8000-00805f9b34fb"
        service = BleakGATTService(None, 1, uuid)
        collection.add_service(service)
        if outcome == "ok":
            for handle, char_uuid, props in (
                (2, NUS_RX_UUID, ["write", "write-without-response"]),
                (4, NUS_TX_UUID, ["notify"]),
            ):
                collection.add_characteristic(
                    BleakGATTCharacteristic(
                        None,
                        handle,
                        char_uuid,
                        props,  # type: ignore[arg-type]
                        lambda: board.write_size,
                        service,
                    )
                )
        self.services = collection
        self.connected = True
        board.client = self

    async def disconnect(self) -> None:
        self.board.disconnects += 1
        self.connected = False

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    async def unpair(self) -> None:
        raise NotImplementedError

    async def read_gatt_char(self, *args: Any, **kwargs: Any) -> bytearray:
        raise NotImplementedError

    async def read_gatt_descriptor(self, *args: Any, **kwargs: Any) -> bytearray:
        raise NotImplementedError

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        if not self.connected:
            raise BleakError("not connected")
        await asyncio.sleep(0)  # every write is awaited (a D-Bus call on BlueZ)
        assert len(data) <= self.board.write_size
        self.board.writes.append(bytes(data))

    async def write_gatt_descriptor(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        pass

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        pass


class Scanner:
    """The shared scanner as the link uses it: the board is away for the first ``away``
    looks."""

    def __init__(self, away: int = 0) -> None:
        self.away = away

    async def wait_for(self, address: str, timeout_s: float) -> str:
        if self.away > 0:
            self.away -= 1
            raise TimeoutError
        return address


def make_link(
    board: Board, scanner: Scanner | None = None, **kwargs: Any
) -> tuple[UartLink, list[float]]:
    delays: list[float] = []

    async def sleep(delay_s: float) -> None:  # the backoff, without waiting
        delays.append(delay_s)
        await asyncio.sleep(0)

    backend = type("Scripted", (ScriptedClient,), {"board": board})
    link = UartLink(
        scanner or Scanner(),  # type: ignore[arg-type]
        BOARD,
        lambda message: None,
        backoff=Backoff(initial_s=0.5, factor=2.0, max_s=1.5),
        backend=backend,
        sleep=sleep,
        **kwargs,
    )
    return link, delays


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0)


def test_two_messages_sent_together_arrive_whole_and_in_order() -> None:
    board = Board([])

    async def go() -> list[bool]:
        link, _ = make_link(board)
        task = asyncio.create_task(link.run())
        await until(link.connected.is_set)
        sent = await asyncio.gather(link.send(LINE_A), link.send(LINE_B), link.send(LINE_A))
        await link.close()
        await task
        return list(sent)

    assert asyncio.run(go()) == [True, True, True]
    assert [len(w) for w in board.writes] == [20, 12] * 3
    assert b"".join(board.writes) == LINE_A + LINE_B + LINE_A


def test_chunks_follow_the_rx_characteristic_not_the_client_mtu() -> None:
    """The RX characteristic says 244 bytes (ATT_MTU 247): one write per line, and the client's
    mtu_size (a warning on BlueZ, an error under pytest) is never read."""
    board = Board([], write_size=244)

    async def go() -> int:
        link, _ = make_link(board)
        task = asyncio.create_task(link.run())
        await until(link.connected.is_set)
        mtu = link.mtu
        assert await link.send(LINE_A + LINE_B)
        await link.close()
        await task
        return mtu

    assert asyncio.run(go()) == 247
    assert board.writes == [LINE_A + LINE_B]


def test_failed_attempts_back_off_then_connect_and_reconnect_after_a_drop() -> None:
    board = Board([BleakError("le-connection-abort-by-local")])

    async def go() -> tuple[UartLink, list[float], bool]:
        link, delays = make_link(board, Scanner(away=2))
        task = asyncio.create_task(link.run())
        await until(link.connected.is_set)
        board.drop()
        assert not link.connected.is_set()
        unsent = await link.send(LINE_A)  # while disconnected: counted, not queued
        await until(lambda: link.connections == 2)
        outages = await link.close()
        await task
        assert outages is link.outages
        return link, delays, unsent

    link, delays, sent_while_down = asyncio.run(go())
    assert not sent_while_down and link.unsent == 1 and link.writes == 0
    # scanner timeout, scanner timeout, refused connection, then connected: three backoffs,
    # 0.5 s doubling up to its cap of 1.5 s; the drop reconnects at the first try
    assert delays == [0.5, 1.0, 1.5]
    assert board.attempts == 3  # refused, connected, reconnected (the scanner missed two)
    first, second = link.outages
    assert first.attempts == 4 and first.reason.startswith("connect failed: BleakError")
    assert second.attempts == 1 and second.reason == "disconnected"
    assert first.end_s >= first.start_s and second.end_s >= second.start_s
    # the dropped link's client is disconnected too (on BlueZ that closes its D-Bus socket),
    # then the live one at close
    assert board.disconnects == 2


def test_a_board_without_nus_is_refused_and_disconnected() -> None:
    board = Board(["no_nus"])

    async def go() -> UartLink:
        link, _ = make_link(board)
        with pytest.raises(NusMissing) as info:
            await link.run()
        assert isinstance(info.value, BleUnavailable) and info.value.kind == "no_nus"
        assert NUS_SERVICE_UUID in str(info.value) and BOARD in str(info.value)
        await link.close()
        return link

    link = asyncio.run(go())
    assert board.disconnects == 1 and link.connections == 0
    (outage,) = link.outages  # never connected: one open outage from the start
    assert math.isnan(outage.end_s)


def test_a_missing_adapter_is_not_retried_for_ever() -> None:
    no_adapter = BleakBluetoothNotAvailableError(
        "No Bluetooth adapters found.", BleakBluetoothNotAvailableReason.NO_BLUETOOTH
    )
    board = Board([no_adapter] * 10)

    async def go() -> tuple[UartLink, list[float]]:
        link, delays = make_link(board, max_adapter_failures=3)
        with pytest.raises(BleUnavailable) as info:
            await asyncio.wait_for(link.run(), timeout=10)
        assert info.value.kind == "no_adapter"
        message = str(info.value)
        assert "no Bluetooth adapter found" in message and "after 3 attempts" in message
        assert "No Bluetooth adapters found." in message and "<" not in message
        await link.close()
        return link, delays

    link, delays = asyncio.run(go())
    assert board.attempts == 3 and delays == [0.5, 1.0]
    (outage,) = link.outages
    assert outage.attempts == 3 and math.isnan(outage.end_s)
    assert "No Bluetooth adapters found" in outage.reason


def test_adapter_off_or_denied_stops_the_link_at_once() -> None:
    off = BleakBluetoothNotAvailableError("off", BleakBluetoothNotAvailableReason.POWERED_OFF)
    board = Board([off])

    async def go() -> None:
        link, delays = make_link(board)
        with pytest.raises(BleUnavailable, match="powered off") as info:
            await asyncio.wait_for(link.run(), timeout=10)
        assert info.value.kind == "powered_off" and delays == []
        await link.close()

    asyncio.run(go())
