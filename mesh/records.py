"""Metric records: what happened to every packet, as flat preallocated arrays.

Observation happens through records, never prints: the engine writes rows here and the summaries
in ``experiments`` read them afterwards. Every generated packet ends with exactly one fate:
delivered, or dropped with one reason. A packet sent several times (fragments, retries, BLE
advertising events and channels) is dropped with the reason of the attempt that got furthest, by
the rank order of :data:`DROP_REASONS` (later = further), so ``collision`` beats
``below_sensitivity``: at least one bridge had it above sensitivity.
"""

from __future__ import annotations

import math

import numpy as np

#: Per-receiver outcomes of one transmission (codes in the medium's arrays).
RX_OK = 0
RX_BELOW_SENSITIVITY = 1
RX_NOT_LISTENING = 2
RX_HALF_DUPLEX = 3
RX_RECEIVER_BUSY = 4
RX_COLLISION = 5

#: Packet fates. Drop reasons are ranked by how far the packet got (see module docstring).
PENDING = -1
DELIVERED = 0
DROP_REASONS: tuple[str, ...] = (
    "node_failed",
    "over_mtu",
    "no_sync",
    "channel_busy",
    "below_sensitivity",
    "not_listening",
    "half_duplex",
    "receiver_busy",
    "collision",
    "connection_lost",
    "backhaul_down",
    "backhaul_limit",
)
FATE_NAMES: tuple[str, ...] = ("delivered", *DROP_REASONS)
OVER_MTU = FATE_NAMES.index("over_mtu")
NODE_FAILED = FATE_NAMES.index("node_failed")
NO_SYNC = FATE_NAMES.index("no_sync")
CONNECTION_LOST = FATE_NAMES.index("connection_lost")
CHANNEL_BUSY = FATE_NAMES.index("channel_busy")
BELOW_SENSITIVITY = FATE_NAMES.index("below_sensitivity")
NOT_LISTENING = FATE_NAMES.index("not_listening")
BACKHAUL_DOWN = FATE_NAMES.index("backhaul_down")
BACKHAUL_LIMIT = FATE_NAMES.index("backhaul_limit")
#: Map a receiver outcome code to the fate code it implies when no receiver decoded.
RX_TO_FATE = np.array(
    [
        DELIVERED,
        BELOW_SENSITIVITY,
        FATE_NAMES.index("not_listening"),
        FATE_NAMES.index("half_duplex"),
        FATE_NAMES.index("receiver_busy"),
        FATE_NAMES.index("collision"),
    ],
    dtype=np.int8,
)


#: Link codes of ``PacketRecords.link`` (index into ``mesh.config.LINKS``).
LINK_CODE: dict[str, int] = {"ble": 0, "fsk": 1, "lora": 2}


class PacketRecords:
    """One row per generated application packet, allocated once for the whole run."""

    def __init__(self, endpoint: np.ndarray, generated_s: np.ndarray) -> None:
        n = int(endpoint.size)
        self.endpoint = np.asarray(endpoint, dtype=np.int64)
        self.generated_s = np.asarray(generated_s, dtype=np.float64)
        self.delivered_s = np.full(n, np.nan)
        self.fate = np.full(n, PENDING, dtype=np.int8)
        self.reason = np.full(n, -1, dtype=np.int8)  # furthest drop reason of any attempt
        self.transmissions = np.zeros(n, dtype=np.int32)
        self.fragments = np.ones(n, dtype=np.int32)
        self.copies = np.zeros(n, dtype=np.int32)  # server receptions including duplicates
        self.link = np.zeros(n, dtype=np.int8)  # link the packet was sent on (LINK_CODE)
        # radio hops of the first copy a bridge forwarded (0: none was forwarded)
        self.hops = np.zeros(n, dtype=np.int16)
        # latency split: first frame's start, and the frame that completed the packet at the
        # network server (its start and end); NaN until known
        self.first_start_s = np.full(n, np.nan)
        self.deliver_start_s = np.full(n, np.nan)
        self.deliver_end_s = np.full(n, np.nan)

    def __len__(self) -> int:
        return int(self.endpoint.size)

    def note_attempt(self, packet: int, fate_code: int) -> None:
        """Remember how far one attempt of ``packet`` got (a drop reason code)."""
        if fate_code > self.reason[packet]:
            self.reason[packet] = fate_code

    def frame_done(self, packet: int, start_s: float, end_s: float, complete: bool) -> None:
        """A frame of ``packet`` was on air from ``start_s`` to ``end_s``; ``complete``: the
        network server now holds the whole packet."""
        if math.isnan(self.first_start_s[packet]):
            self.first_start_s[packet] = start_s
        if complete and math.isnan(self.deliver_end_s[packet]):
            self.deliver_start_s[packet] = start_s
            self.deliver_end_s[packet] = end_s

    def latency_split(self) -> dict[str, np.ndarray]:
        """Per packet (NaN unless delivered): ``mac_wait`` (generation -> first frame on air:
        queueing behind earlier packets, LBT, waiting for sync), ``retries`` (first frame ->
        the frame that completed the packet: earlier attempts, fragments, advertising events),
        ``airtime`` (that frame on air; for a packet sent over a BLE connection, the whole
        transfer, and ``mac_wait`` includes the advertising that set the connection up) and
        ``backhaul`` (its end -> delivery: bridge uplink
        queue and service, internet latency). They sum to the latency."""
        parts = {
            "mac_wait": self.first_start_s - self.generated_s,
            "retries": self.deliver_start_s - self.first_start_s,
            "airtime": self.deliver_end_s - self.deliver_start_s,
            "backhaul": self.delivered_s - self.deliver_end_s,
        }
        # times are sums of floats: clear rounding residue below zero (NaN stays NaN)
        return {name: np.maximum(part, 0.0) for name, part in parts.items()}

    def settle(self, finished: np.ndarray, complete: np.ndarray) -> None:
        """Give every packet its fate once the run is over: ``finished`` marks the packets their
        endpoint was done with (the others keep PENDING, which the summary refuses), ``complete``
        those the network server holds whole."""
        open_ = finished & (self.fate == PENDING)
        reason = np.where(self.reason > DELIVERED, self.reason, BELOW_SENSITIVITY)
        self.fate[open_] = np.where(complete[open_], DELIVERED, reason[open_]).astype(np.int8)

    def drop(self, packet: int, fate_code: int) -> None:
        self.reason[packet] = fate_code
        self.fate[packet] = fate_code
