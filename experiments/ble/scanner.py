"""The one long-lived scanner of an adapter, shared by everything that listens to it.

What it does
    :class:`Scanner` opens one ``bleak.BleakScanner`` (active scanning, duplicates reported)
    on one adapter for as long as a command runs, and fans its advertisements out to any
    number of subscribers (the scan table, the RSSI recorder, the bridge). It also keeps the
    last ``BLEDevice`` seen per address, so that a connection (``experiments.ble.uart``) is
    made from it instead of from an address string: bleak would otherwise start a second scan
    to find the device, and BlueZ refuses a second concurrent scan on one adapter
    (org.bluez.Error.InProgress). A command therefore opens exactly one :class:`Scanner` per
    adapter and hands it to the parts that need one.

    ``backend`` is bleak's own ``backend=`` argument (a ``BaseBleakScanner`` subclass), passed
    through untouched: tests and demos supply a backend on another BLE stack
    (``experiments.ble.sim``, on Bumble) and run the same code as with an adapter.

Sources: bleak 3.x ``BleakScanner`` (``detection_callback``, ``scanning_mode``, ``bluez=``
``{"adapter": ...}``, ``backend=``); BlueZ doc/org.bluez.Adapter.rst (StartDiscovery).

Leaves out: passive scanning and service-UUID filters (every advertiser is of interest), and
the platform-specific scanning parameters (interval, window) that bleak does not expose.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from experiments.ble.adverts import Advertisement, from_bleak
from experiments.ble.errors import explain, require_bleak

Subscriber = Callable[[Advertisement], None]


class Scanner:
    """``async with Scanner(adapter, backend) as scanner:`` scans until the block ends."""

    def __init__(
        self,
        adapter: str | None = None,
        backend: type | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.adapter = adapter
        self.backend = backend
        self._clock = clock
        self._started_s = 0.0
        self._subscribers: dict[object, Subscriber] = {}
        self._devices: dict[str, Any] = {}  # address -> last BLEDevice
        self._seen: dict[str, asyncio.Event] = {}
        self.latest: dict[str, Advertisement] = {}  # address -> last advertisement
        self.count = 0
        self._scanner: Any = None

    async def __aenter__(self) -> Scanner:
        bleak = require_bleak()
        kwargs: dict[str, Any] = {"scanning_mode": "active"}
        if self.adapter:
            kwargs["bluez"] = {"adapter": self.adapter}
        if self.backend is not None:
            kwargs["backend"] = self.backend
        self._started_s = self._clock()
        try:
            self._scanner = bleak.BleakScanner(self._on_advertisement, **kwargs)
            await self._scanner.start()
        except Exception as err:
            raise (explain(err) or err) from err
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._scanner is not None:
            try:
                await self._scanner.stop()
            except Exception as stop_err:
                if err is None:  # report a failing stop only when nothing else went wrong
                    raise (explain(stop_err) or stop_err) from stop_err

    def elapsed_s(self) -> float:
        """Seconds since scanning started (the ``time_s`` of advertisements)."""
        return self._clock() - self._started_s

    def _on_advertisement(self, device: Any, data: Any) -> None:
        adv = from_bleak(device, data, self.elapsed_s())
        self._devices[adv.address] = device
        self.latest[adv.address] = adv
        self.count += 1
        event = self._seen.get(adv.address)
        if event is not None:
            event.set()
        for callback in list(self._subscribers.values()):
            callback(adv)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(advertisement)`` for every advertisement; returns the unsubscriber."""
        token = object()
        self._subscribers[token] = callback

        def remove() -> None:
            self._subscribers.pop(token, None)

        return remove

    def device(self, address: str) -> Any | None:
        """The last ``BLEDevice`` seen at ``address`` (None: not seen yet)."""
        return self._devices.get(address.upper())

    async def wait_for(self, address: str, timeout_s: float) -> Any:
        """The ``BLEDevice`` at ``address``, waiting up to ``timeout_s`` for it to advertise;
        raises ``TimeoutError``."""
        address = address.upper()
        if address in self._devices:
            return self._devices[address]
        event = self._seen.setdefault(address, asyncio.Event())
        await asyncio.wait_for(event.wait(), timeout_s)
        return self._devices[address]
