"""THE hand-off between bleak's asyncio loop and the SimPy real-time environment.

What it does
    The bridge runs two loops in two threads: bleak's asyncio event loop in the main thread
    (scanner callbacks, the UART link, Ctrl-C) and the SimPy ``RealtimeEnvironment`` in a
    worker thread (``mesh.simulation.simulate`` with ``mesh.external``). They meet here, and
    only here:

    * asyncio -> SimPy: :meth:`Handoff.put` (any thread) appends an
      :class:`mesh.external.Injection` to a lock-protected FIFO, stamped with the monotonic
      wall clock. The SimPy process ``ExternalPort.pump`` calls :meth:`Handoff.pending` every
      ``poll_s`` simulated seconds and starts the injections **in arrival order**: the first of
      the batch at the poll's simulated time, each later one offset by its wall-clock gap to the
      first (divided by the real-time factor): an uplink enters the emulation about one poll
      (``poll_s * factor`` wall seconds) after the adapter reported it, spaced as the adverts
      arrived. Its record keeps both clocks (``wall_s`` and the simulated ``start_s``).
    * SimPy -> asyncio: :meth:`Handoff.to_loop` schedules a callback on the event loop with
      ``loop.call_soon_threadsafe`` (a downlink to write to the board); callbacks run in the
      order the simulation made them.
    * Stop: :meth:`Handoff.stop` (Ctrl-C, or the end of the bridge) makes the next
      :meth:`pending` return None, which stops the run (``mesh.external.ExternalStop``).

    Every crossing between the two threads, and nothing else (``experiments.ble.bridge``):

    =====================================  ==============================  ===================
    what                                   from -> to                      through
    =====================================  ==============================  ===================
    an uplink, with its device's address   loop -> simulation              :meth:`put` (lock)
    a finished uplink or downlink row,     simulation -> loop              :meth:`to_loop`
    shown to the user (``on_row``)
    a downlink to write to the board       simulation -> loop              :meth:`to_loop`
    the end of the simulation              simulation -> loop              :meth:`to_loop`
    stop                                   loop -> simulation              :meth:`stop` (Event)
    the rows kept for the results          simulation -> any reader        ``BridgeHooks``'
                                                                           lock, on both sides
    =====================================  ==============================  ===================

    Everything else belongs to one thread: the scanner, the slots and the device addresses,
    the link and the counters to the loop; the SimPy environment to the simulation thread.

Sources: Python ``threading.Lock`` and ``asyncio.loop.call_soon_threadsafe`` (the one
thread-safe entry into an event loop); SimPy 4 ``simpy.rt`` (the environment sleeps in its own
thread between events, so it must not share a thread with the event loop).

Leaves out: back-pressure (injections are never dropped here: the bridge rate-limits each
device before putting) and jitter of the poll itself (the real-time environment is not strict:
a late step is late, and the lag is visible as ``start_s`` against ``wall_s``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from mesh.external import Injection


class Handoff:
    """A thread-safe FIFO of injections, drained by the simulation."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._queue: list[Injection] = []
        self._stopped = threading.Event()
        self.put_count = 0

    def put(self, node: int, payload: bytes, tag: str = "", name: str = "") -> None:
        """Queue one uplink of external node ``node`` (any thread); ``name`` is the sender
        (the device's address), carried to the uplink's row."""
        item = Injection(
            node=node, payload=bytes(payload), wall_s=self._clock(), tag=tag, name=name
        )
        with self._lock:
            self._queue.append(item)
            self.put_count += 1

    def pending(self) -> list[Injection] | None:
        """Everything queued since the last call, oldest first; None once stopped."""
        if self._stopped.is_set():
            return None
        with self._lock:
            items, self._queue = self._queue, []
        return items

    def stop(self) -> None:
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    @staticmethod
    def to_loop(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on ``loop`` (from the simulation thread); dropped quietly
        when the loop is already closed (the bridge is shutting down)."""
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass
