"""A Nordic UART Service link to a real peripheral: chunked writes, framing, reconnection.

What it models
    * Writes to the RX characteristic are cut into chunks of ``ATT_MTU - 3`` bytes (the ATT
      Write Command / Write Request header is 3 bytes: opcode and handle), sent in order,
      without response when the characteristic allows it. The size comes from the RX
      characteristic's ``max_write_without_response_size`` (bleak's public API; ATT_MTU - 3 as
      negotiated, the same bound for a Write Request), never from ``BleakClient.mtu_size``,
      which on BlueZ warns and reports 23 unless a private ``_acquire_mtu()`` was called.
    * One message is written whole before the next one starts (:meth:`UartLink.send` holds a
      lock over its chunks: every write is awaited, a D-Bus call on BlueZ, so two messages sent
      close together would otherwise interleave their chunks); messages go out in the order
      :meth:`UartLink.send` was called.
    * Notifications from the TX characteristic arrive as chunks of a byte stream that NUS does
      not frame: :class:`LineFramer` rebuilds newline-terminated messages (``framing = "line"``),
      or each notification is one message (``framing = "notification"``).
    * :class:`UartLink` connects through the shared :class:`experiments.ble.scanner.Scanner`
      (from the ``BLEDevice`` it saw: no second scan), discovers the service, subscribes, and
      after an unsolicited disconnect reconnects with exponential backoff
      (:class:`Backoff`), recording each outage (start, end, attempts) as an :class:`Outage`.
      It gives up, raising :class:`~experiments.ble.errors.BleUnavailable`, when the board has
      no NUS (:class:`NusMissing`), when the adapter is off or access is denied, and after
      ``max_adapter_failures`` attempts in a row that found no adapter.

Sources: Nordic Semiconductor, nRF Connect SDK "Nordic UART Service (NUS)" (UUIDs, RX write /
TX notify); Bluetooth Core Spec v5.3 Vol 3 Part F 3.4.5 (ATT Write Request / Command: 3-byte
header, so ATT_MTU - 3 bytes of value) and 3.2.8 (default ATT_MTU 23); bleak 3.x
``BleakClient`` (``connect``, ``start_notify``, ``write_gatt_char``, ``disconnected_callback``)
and ``BleakGATTCharacteristic.max_write_without_response_size`` (BlueZ >= 5.62 reports the
characteristic's MTU; older BlueZ gives 20, the safe minimum).

Leaves out: pairing and encryption (NUS boards usually run without), flow control beyond
write-with-response ordering, and a send queue across outages (a message routed to the board
while it is disconnected is counted as not written).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from experiments.ble.adverts import NUS_RX_UUID, NUS_SERVICE_UUID, NUS_TX_UUID
from experiments.ble.errors import BleUnavailable, explain, require_bleak
from experiments.ble.scanner import Scanner

ATT_HEADER_BYTES = 3
MAX_ATTRIBUTE_VALUE_BYTES = 512
"""Longest attribute value (Bluetooth Core Spec v5.4, Vol 3 Part F 3.2.9): a write carries at
most this much whatever the ATT_MTU (BlueZ negotiates 517 and refuses a 514-byte write)."""
DEFAULT_ATT_MTU = 23


def chunks(data: bytes, mtu: int) -> list[bytes]:
    """``data`` cut into writes of at most ``mtu - 3`` bytes, and never more than the longest
    attribute value (512 bytes); none for empty data."""
    if isinstance(mtu, bool) or not isinstance(mtu, int) or mtu < DEFAULT_ATT_MTU:
        raise ValueError(f"mtu must be an integer >= {DEFAULT_ATT_MTU} (ATT minimum), got {mtu!r}")
    size = min(mtu - ATT_HEADER_BYTES, MAX_ATTRIBUTE_VALUE_BYTES)
    return [bytes(data[i : i + size]) for i in range(0, len(data), size)]


class LineFramer:
    """Newline-terminated messages from a stream of chunks; a message longer than
    ``max_bytes`` is cut there (so a board that never sends a newline cannot grow it)."""

    def __init__(self, max_bytes: int = 244) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes}")
        self.max_bytes = max_bytes
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        self._buffer.extend(chunk)
        while True:
            end = self._buffer.find(b"\n")
            if end < 0 or end > self.max_bytes:
                if len(self._buffer) >= self.max_bytes:
                    out.append(bytes(self._buffer[: self.max_bytes]))
                    del self._buffer[: self.max_bytes]
                    continue
                return out
            message = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            if message:
                out.append(message)


class NotificationFramer:
    """Each notification is one message."""

    def feed(self, chunk: bytes) -> list[bytes]:
        return [bytes(chunk)] if chunk else []


FRAMINGS = ("line", "notification")


def framer(kind: str) -> LineFramer | NotificationFramer:
    if kind == "line":
        return LineFramer()
    if kind == "notification":
        return NotificationFramer()
    raise ValueError(f"framing {kind!r}; allowed: {', '.join(FRAMINGS)}")


@dataclass(frozen=True)
class Backoff:
    """Reconnection delays: ``initial_s``, then times ``factor``, capped at ``max_s``."""

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0

    def __post_init__(self) -> None:
        if not (self.initial_s > 0 and self.factor >= 1 and self.max_s >= self.initial_s):
            raise ValueError("backoff needs initial_s > 0, factor >= 1, max_s >= initial_s")

    def delay_s(self, attempt: int) -> float:
        """Delay before reconnection attempt ``attempt`` (1, 2, ...)."""
        return min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1))


@dataclass(frozen=True)
class Outage:
    """The peripheral was unreachable from ``start_s`` to ``end_s`` (NaN: still down at the
    end), after a disconnect, or from the start when the first connection attempt failed;
    ``attempts`` connections tried."""

    address: str
    start_s: float
    end_s: float
    attempts: int
    reason: str


class NusMissing(BleUnavailable):
    """The peripheral answered but has no Nordic UART Service (kind ``no_nus``; exit status 2
    at the command line)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "no_nus")


class UartLink:
    """A Nordic UART Service link kept up until :meth:`close`. Messages from the board go to
    ``on_message``; :meth:`send` writes to it."""

    def __init__(
        self,
        scanner: Scanner,
        address: str,
        on_message: Callable[[bytes], None],
        *,
        framing: str = "line",
        backoff: Backoff | None = None,
        backend: type | None = None,
        connect_timeout_s: float = 10.0,
        max_adapter_failures: int = 5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.scanner = scanner
        self.address = address.upper()
        self.on_message = on_message
        self.framer = framer(framing)
        self.backoff = backoff or Backoff()
        self.backend = backend
        self.connect_timeout_s = connect_timeout_s
        if max_adapter_failures < 1:
            raise ValueError(f"max_adapter_failures must be >= 1, got {max_adapter_failures}")
        self.max_adapter_failures = max_adapter_failures
        self._adapter_failures = 0
        self._clock = clock
        self._sleep = sleep
        self._t0 = clock()
        self.client: Any = None
        self.connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._closing = False
        self.outages: list[Outage] = []
        self._outage_start_s: float | None = None
        self._outage_reason = "not yet connected"
        self._attempts = 0
        self.connections = 0
        self.messages_in = 0
        self.writes = 0
        self.unsent = 0
        self._rx: Any = None
        self._without_response = False
        self._write_lock = asyncio.Lock()
        self._dropped: Any = None  # the client of a dropped link, until released

    def now_s(self) -> float:
        return self._clock() - self._t0

    async def run(self) -> None:
        """Connect, and reconnect after every loss, until :meth:`close`."""
        self._outage_start_s = self.now_s()
        while not self._closing:
            try:
                await self._connect()
            except BleUnavailable:  # no NUS on the board, or no bleak
                raise
            except Exception as err:  # the board is away, out of range, or refused
                problem = explain(err)
                if problem is not None and problem.kind in ("extra", "permission", "powered_off"):
                    raise problem from err
                self._outage_reason = f"connect failed: {type(err).__name__}: {err}".strip()
                if problem is not None and problem.kind == "no_adapter":
                    self._adapter_failures += 1
                    if self._adapter_failures >= self.max_adapter_failures:
                        raise BleUnavailable(
                            f"{problem} (gave up reconnecting to {self.address} after "
                            f"{self._adapter_failures} attempts)",
                            "no_adapter",
                        ) from err
                else:
                    self._adapter_failures = 0
                if self._closing:
                    break
                await self._sleep(self.backoff.delay_s(self._attempts))
                continue
            self._adapter_failures = 0
            await self._lost.wait()
            self._lost.clear()
            await self._release_dropped()

    async def _connect(self) -> None:
        bleak = require_bleak()
        self._attempts += 1
        device = await self.scanner.wait_for(self.address, self.connect_timeout_s)
        kwargs: dict[str, Any] = {"timeout": self.connect_timeout_s}
        if self.backend is not None:
            kwargs["backend"] = self.backend
        client = bleak.BleakClient(device, disconnected_callback=self._on_disconnect, **kwargs)
        await client.connect()
        try:
            service = client.services.get_service(NUS_SERVICE_UUID)
            rx = client.services.get_characteristic(NUS_RX_UUID)
            tx = client.services.get_characteristic(NUS_TX_UUID)
            if service is None or rx is None or tx is None:
                raise NusMissing(
                    f"{self.address} has no Nordic UART Service ({NUS_SERVICE_UUID} with RX "
                    f"{NUS_RX_UUID} and TX {NUS_TX_UUID})"
                )
            await client.start_notify(tx, self._on_notify)
        except BaseException:
            await client.disconnect()
            raise
        self._rx = rx
        self._without_response = "write-without-response" in rx.properties
        self.client = client
        self.connections += 1
        first_at_once = self.connections == 1 and self._attempts == 1
        if self._outage_start_s is not None and not first_at_once:
            self.outages.append(
                Outage(
                    self.address,
                    self._outage_start_s,
                    self.now_s(),
                    self._attempts,
                    self._outage_reason,
                )
            )
        self._outage_start_s = None
        self._attempts = 0
        self.connected.set()

    async def _release_dropped(self) -> None:
        """Disconnect the client of a link the board dropped: on BlueZ only
        ``BleakClient.disconnect()`` closes the client's D-Bus connection (one leaked socket per
        outage otherwise, as the tier-3 tests found)."""
        dropped, self._dropped = self._dropped, None
        if dropped is not None:
            try:
                await dropped.disconnect()
            except Exception:
                pass  # already gone; the socket is what mattered

    def _on_disconnect(self, client: Any) -> None:
        if client is not self.client:
            return
        self.client = None
        self._dropped = client
        self.connected.clear()
        if not self._closing:
            self._outage_start_s = self.now_s()
            self._outage_reason = "disconnected"
        self._lost.set()

    def _on_notify(self, characteristic: Any, data: bytearray) -> None:
        for message in self.framer.feed(bytes(data)):
            self.messages_in += 1
            self.on_message(message)

    @property
    def mtu(self) -> int:
        """The ATT_MTU of the connection as the RX characteristic reports it (its
        ``max_write_without_response_size`` + 3, at least 23); 0 when not connected."""
        if self.client is None or self._rx is None:
            return 0
        size = int(self._rx.max_write_without_response_size)
        return max(DEFAULT_ATT_MTU, size + ATT_HEADER_BYTES)

    async def send(self, data: bytes) -> bool:
        """Write ``data`` to the board's RX characteristic in chunks, after every message sent
        before it and without another message's chunks in between; False when not connected
        (or the link dropped while writing)."""
        async with self._write_lock:
            client, rx = self.client, self._rx
            if client is None:
                self.unsent += 1
                return False
            try:
                for part in chunks(data, self.mtu):
                    await client.write_gatt_char(rx, part, response=not self._without_response)
            except Exception:
                self.unsent += 1
                return False
            self.writes += 1
            return True

    async def close(self) -> list[Outage]:
        """Disconnect for good; an outage still open is closed with end NaN."""
        self._closing = True
        self._lost.set()
        await self._release_dropped()
        client, self.client = self.client, None
        if client is not None:
            try:
                await client.disconnect()
            except Exception:
                pass  # it is gone either way
        if self._outage_start_s is not None:
            self.outages.append(
                Outage(
                    self.address,
                    self._outage_start_s,
                    math.nan,
                    self._attempts,
                    self._outage_reason,
                )
            )
            self._outage_start_s = None
        return self.outages
