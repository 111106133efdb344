"""The event loop of a ``sidemesh ble`` command, and what Ctrl-C does to it.

What it does
    :func:`run_interruptible` runs one coroutine like ``asyncio.run``, with its own SIGINT
    handler (main thread only): the first Ctrl-C cancels the coroutine, which then cleans up
    (stops the simulation, closes the board's link, disconnects) and
    :func:`run_interruptible` raises ``KeyboardInterrupt`` once it is done; a second Ctrl-C
    does not cut that clean-up short (``asyncio.run`` raises ``KeyboardInterrupt`` right away
    on it, leaving a board connected), it only says what is going on; a third one aborts at
    once. The clean-up is bounded in time, so waiting is never for ever.

Sources: ``asyncio.runners`` of Python 3.11 (the same shutdown: cancel the remaining tasks,
close async generators and the default executor, close the loop); ``signal.signal``.

Leaves out: other signals (SIGTERM ends the process as usual) and Windows' console events.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Coroutine
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

STILL_CLOSING = (
    "still closing down (stopping the simulation, closing the link); Ctrl-C again to abort"
)


def run_interruptible(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on a new event loop; Ctrl-C as the module says."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro)
    presses = 0

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            loop.call_soon_threadsafe(task.cancel)
        elif presses == 2:
            print(STILL_CLOSING, file=sys.stderr, flush=True)
        else:
            raise KeyboardInterrupt

    handle = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if handle else None
    if handle:
        signal.signal(signal.SIGINT, on_sigint)
    try:
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            if presses:
                raise KeyboardInterrupt from None
            raise
        finally:
            try:
                _cancel_remaining(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
    finally:
        if handle and previous is not None:
            signal.signal(signal.SIGINT, previous)


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
