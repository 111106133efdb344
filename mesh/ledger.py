"""Radio state accounting: how long each node's radio spent in each state.

Model: every node's radio is in exactly one of SLEEP, IDLE (standby, turnaround), RX or TX at any
instant. ``switch`` closes the time spent in the previous state; ``close`` ends the run. Energy is
charge per state (current x time, currents from ``radios.energy``) times the battery voltage, so it
is accounted per state, not only during transmission. The durations of one node sum to the run's
length by construction of a single timeline per node, which the tests check together with the
closed-form transmit time (airtime x transmissions).

An endpoint with two radio chips (a link mask spanning BLE and sub-GHz) has one timeline all the
same: its MAC sends one frame at a time. The active states of its second chip are kept apart
(``IDLE2``, ``RX2``, ``TX2`` = the first chip's state + :data:`SECOND_CHIP`) so that each is
charged at its own chip's current; SLEEP means both chips sleep.

Leaves out: state transition energy other than the configured MCU wake-up cost.
"""

from __future__ import annotations

import numpy as np

SLEEP, IDLE, RX, TX = 0, 1, 2, 3
STATE_NAMES: tuple[str, ...] = ("sleep", "idle", "rx", "tx")
#: Offset of the second chip's active states (IDLE2 = 4, RX2 = 5, TX2 = 6).
SECOND_CHIP = 3
N_STATES = 7


class StateLedger:
    """Per-node state timeline. Scalar bookkeeping uses Python lists (cheaper per event than numpy
    element access); the result is a numpy array."""

    def __init__(self, initial_states: np.ndarray) -> None:
        n = int(initial_states.size)
        self._state: list[int] = [int(s) for s in initial_states]
        self._since: list[float] = [0.0] * n
        self._durations: list[list[float]] = [[0.0] * N_STATES for _ in range(n)]
        self.wakes: list[int] = [0] * n

    def switch(self, node: int, state: int, t: float) -> None:
        previous = self._state[node]
        self._durations[node][previous] += t - self._since[node]
        self._state[node] = state
        self._since[node] = t

    def state(self, node: int) -> int:
        return self._state[node]

    def wake(self, node: int) -> None:
        """Count one MCU wake-up of ``node`` (its energy is charged once per wake)."""
        self.wakes[node] += 1

    def close(self, t: float) -> np.ndarray:
        """End every timeline at ``t`` and return durations, shape (n, 7), seconds: SLEEP, then
        IDLE, RX, TX of the first chip, then those of the second."""
        for node in range(len(self._state)):
            self.switch(node, self._state[node], t)
        return np.array(self._durations, dtype=np.float64).reshape(len(self._state), N_STATES)
