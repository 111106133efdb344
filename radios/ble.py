"""Bluetooth LE PHY: packet airtime, sensitivity, co-channel rejection, Sidewalk advertising.

What it models
    * On-air duration of one LE packet on the LE 1M, LE 2M and LE Coded (S=2, S=8) PHYs.
    * Receiver sensitivity per PHY (nRF52840) and the co-channel C/I requirement.
    * A Sidewalk-style legacy advertising configuration (:class:`BleParams`): an application
      packet is carried in the AdvData of non-connectable advertising PDUs sent on the three
      primary advertising channels, repeated over ``adv_events`` advertising events.

Sources
    * Bluetooth Core Specification v5.x, Vol 6 Part B, section 2.1 (uncoded packet format:
      preamble 1 octet on LE 1M / 2 octets on LE 2M, Access Address 4, PDU = 2-octet header +
      payload, CRC 3) and section 2.2 (coded format: 80 us preamble; FEC block 1 = Access
      Address 32 bits + CI 2 bits + TERM1 3 bits always at S=8; FEC block 2 = PDU + CRC 24 bits
      + TERM2 3 bits at S=2 or S=8).
    * advDelay 0..10 ms and advertising interval 20 ms..10.24 s: Core Spec Vol 6 Part B
      section 4.4.2.2.1; T_IFS = 150 us: Vol 6 Part B section 4.1.1.
    * Advertising channel centre frequencies (37: 2402 MHz, 38: 2426 MHz, 39: 2480 MHz): Core
      Spec Vol 6 Part A section 2 / Vol 6 Part B section 1.4.1.
    * Co-channel C/I of 21 dB: Core Spec Vol 6 Part A section 4.2.1 (receiver interference
      performance, co-channel, LE uncoded PHYs).
    * Sensitivities: Nordic nRF52840 Product Specification v1.x, RADIO electrical
      specification (-95 dBm LE 1M, -92 dBm LE 2M, -99 dBm LE Coded 500 kb/s (S=2),
      -103 dBm LE Coded 125 kb/s (S=8)).
    * Sidewalk advertising layout: Amazon Sidewalk Specification, BLE beacon using Service Data
      with the Amazon 16-bit service UUID 0xFE03; 160 ms fast-advertising interval.

What it leaves out
    * Connections, connection events, scan requests/responses and extended advertising
      (AUX_* chains); the Sidewalk BLE GATT link is not modelled here.
    * Whitening, CTE, encryption MIC (4 octets, only in encrypted connections).
    * Adjacent-channel interference and Wi-Fi coexistence; only co-channel capture.
    * Legacy advertising cannot use the LE Coded PHY; ``BleParams`` does not forbid it so that
      extended-advertising-like what-if studies remain possible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "ADV_CHANNELS",
    "ADV_CHANNEL_FREQUENCY_HZ",
    "ADV_DELAY_MAX_S",
    "CONNECT_IND_PAYLOAD_BYTES",
    "CO_CHANNEL_REJECTION_DB",
    "DATA_PDU_OVERHEAD_BYTES",
    "FREQUENCY_HZ",
    "PHYS",
    "SENSITIVITY_DBM",
    "T_IFS_S",
    "BleParams",
    "airtime_s",
    "sensitivity_dbm",
]

PHYS: tuple[str, ...] = ("1M", "2M", "coded_s2", "coded_s8")
"""Supported PHY names: LE 1M, LE 2M, LE Coded S=2 (500 kb/s), LE Coded S=8 (125 kb/s)."""

ADV_CHANNELS: tuple[int, ...] = (37, 38, 39)
"""Primary advertising channel indices (Core Spec Vol 6 Part B section 1.4.1)."""

ADV_CHANNEL_FREQUENCY_HZ: Mapping[int, float] = MappingProxyType(
    {37: 2402e6, 38: 2426e6, 39: 2480e6}
)
"""Centre frequencies of the advertising channels (Core Spec Vol 6 Part A section 2, RF
channel 0 = 2402 MHz, 12 = 2426 MHz, 39 = 2480 MHz)."""

FREQUENCY_HZ: float = 2.44e9
"""Representative 2.4 GHz ISM-band frequency for path loss (band centre, 2400-2483.5 MHz)."""

ADV_DELAY_MAX_S: float = 0.010
"""Maximum pseudo-random advDelay added to each advertising event (Core Spec Vol 6 Part B
section 4.4.2.2.1: 0 ms to 10 ms)."""

T_IFS_S: float = 150e-6
"""Inter-frame space T_IFS (Core Spec Vol 6 Part B section 4.1.1)."""

CO_CHANNEL_REJECTION_DB: float = 21.0
"""Co-channel C/I the receiver must tolerate: the wanted signal must exceed a co-channel
interferer by 21 dB (Core Spec Vol 6 Part A section 4.2.1, LE uncoded PHYs)."""

SENSITIVITY_DBM: Mapping[str, float] = MappingProxyType(
    {"1M": -95.0, "2M": -92.0, "coded_s2": -99.0, "coded_s8": -103.0}
)
"""Typical receiver sensitivity per PHY (nRF52840 Product Specification v1.x, RADIO
electrical specification, ideal transmitter)."""

_MAX_PDU_PAYLOAD_BYTES: int = 255
"""PDU payload length field is 8 bits (Core Spec Vol 6 Part B section 2.3)."""

_US: float = 1e-6
_PDU_HEADER_BYTES: int = 2
_ACCESS_ADDRESS_BYTES: int = 4
_CRC_BYTES: int = 3
_PREAMBLE_BYTES: Mapping[str, int] = MappingProxyType({"1M": 1, "2M": 2})
_BIT_TIME_US: Mapping[str, float] = MappingProxyType({"1M": 1.0, "2M": 0.5})
_CODED_PREAMBLE_US: float = 80.0
_CODED_FEC1_BITS: int = 32 + 2 + 3  # Access Address + CI + TERM1
_CODED_FEC1_US_PER_BIT: float = 8.0  # FEC block 1 is always S=8 (Vol 6 Part B 2.2)
_CODED_TERM2_BITS: int = 3
_CODED_US_PER_BIT: Mapping[str, float] = MappingProxyType({"coded_s2": 2.0, "coded_s8": 8.0})

_LEGACY_ADV_INTERVAL_MIN_S: float = 0.020
_LEGACY_ADV_INTERVAL_MAX_S: float = 10.24
"""advInterval range for legacy advertising (Core Spec Vol 6 Part B section 4.4.2.2.1)."""
_CONN_INTERVAL_MIN_S: float = 0.0075  # Core Spec Vol 6 Part B 4.5.1: 7.5 ms .. 4 s
_CONN_INTERVAL_MAX_S: float = 4.0
_SUPERVISION_TIMEOUT_MIN_S: float = 0.1  # Core Spec Vol 6 Part B 4.5.2: 100 ms .. 32 s
_SUPERVISION_TIMEOUT_MAX_S: float = 32.0
#: LL data PDU payload bytes besides application data: the L2CAP header (4). ASSUMPTION: no
#: link-layer MIC (Sidewalk encrypts in its own layers), so 247 application bytes fill the
#: 251-byte maximum LL payload.
DATA_PDU_OVERHEAD_BYTES: int = 4
#: CONNECT_IND payload: InitA 6 + AdvA 6 + LLData 22 (Core Spec Vol 6 Part B 2.3.3.1).
CONNECT_IND_PAYLOAD_BYTES: int = 34
#: Largest LL data PDU payload with the Data Length Extension (Core Spec Vol 6 Part B 2.4).
_MAX_LL_DATA_BYTES: int = 251


def _check_phy(phy: str) -> None:
    if phy not in PHYS:
        raise ValueError(f"unknown BLE phy {phy!r}; allowed: {', '.join(PHYS)}")


def _check_pdu_payload(pdu_payload_bytes: int) -> None:
    if isinstance(pdu_payload_bytes, bool) or not isinstance(pdu_payload_bytes, int):
        raise ValueError(f"pdu_payload_bytes must be an integer, got {pdu_payload_bytes!r}")
    if not 0 <= pdu_payload_bytes <= _MAX_PDU_PAYLOAD_BYTES:
        raise ValueError(
            f"pdu_payload_bytes must be in 0..{_MAX_PDU_PAYLOAD_BYTES}, got {pdu_payload_bytes}"
        )


def airtime_s(pdu_payload_bytes: int, phy: str) -> float:
    """On-air time in seconds of one LE packet whose PDU payload is ``pdu_payload_bytes``.

    The payload excludes the 2-octet PDU header. Uncoded: ``(preamble + 4 + 2 + N + 3) * 8``
    bit times; coded: ``80 us + 37 bits * 8 us + (16 + 8N + 24 + 3) bits * S us``.
    """
    _check_phy(phy)
    _check_pdu_payload(pdu_payload_bytes)
    if phy in _PREAMBLE_BYTES:
        n_bytes = (
            _PREAMBLE_BYTES[phy]
            + _ACCESS_ADDRESS_BYTES
            + _PDU_HEADER_BYTES
            + pdu_payload_bytes
            + _CRC_BYTES
        )
        return n_bytes * 8 * _BIT_TIME_US[phy] * _US
    fec2_bits = 8 * (_PDU_HEADER_BYTES + pdu_payload_bytes) + 8 * _CRC_BYTES + _CODED_TERM2_BITS
    total_us = (
        _CODED_PREAMBLE_US
        + _CODED_FEC1_BITS * _CODED_FEC1_US_PER_BIT
        + fec2_bits * _CODED_US_PER_BIT[phy]
    )
    return total_us * _US


def sensitivity_dbm(phy: str) -> float:
    """Typical receiver sensitivity in dBm for ``phy`` (nRF52840 Product Specification)."""
    _check_phy(phy)
    return SENSITIVITY_DBM[phy]


@dataclass(frozen=True)
class BleParams:
    """Sidewalk-style BLE advertising configuration.

    Each application packet (<= ``mtu_bytes``) is sent as AdvData of an advertising PDU whose
    payload is ``pdu_overhead_bytes + payload`` (AdvA 6 + Flags AD 3 + Service Data AD header 4
    = 13 octets), once on each of channels 37/38/39 per advertising event, for
    ``adv_events`` consecutive events spaced ``adv_interval_s`` (+ advDelay) apart.
    """

    phy: str = field(
        default="1M", metadata={"doc": "BLE PHY: 1M, 2M, coded_s2, coded_s8", "unit": ""}
    )
    adv_interval_s: float = field(
        default=0.16,
        metadata={"doc": "Advertising interval (Sidewalk fast advertising: 160 ms)", "unit": "s"},
    )
    adv_events: int = field(
        default=3,
        metadata={
            "doc": "Advertising events carrying one application packet (ASSUMPTION: 3)",
            "unit": "",
        },
    )
    adv_pdu_gap_s: float = field(
        default=T_IFS_S,
        metadata={
            "doc": "Gap between the channel 37/38/39 PDUs of one event (ASSUMPTION: T_IFS)",
            "unit": "s",
        },
    )
    mtu_bytes: int = field(
        default=24,
        metadata={
            "doc": "Application bytes per PDU: 31 AdvData - 3 Flags AD - 4 Service Data header",
            "unit": "bytes",
        },
    )
    pdu_overhead_bytes: int = field(
        default=13,
        metadata={
            "doc": "PDU payload bytes besides app data: AdvA 6 + Flags AD 3 + SD header 4",
            "unit": "bytes",
        },
    )
    slow_adv_interval_s: float = field(
        default=1.0,
        metadata={
            "doc": "Advertising interval after fast_adv_duration_s (Sidewalk: 1 s)",
            "unit": "s",
        },
    )
    fast_adv_duration_s: float = field(
        default=30.0,
        metadata={
            "doc": "Fast advertising (adv_interval_s) lasts this long after advertising starts "
            "(Sidewalk: 30 s)",
            "unit": "s",
        },
    )
    conn_interval_s: float = field(
        default=0.03,
        metadata={
            "doc": "Connection interval of connection-based transfers (Sidewalk: 20-75 ms)",
            "unit": "s",
        },
    )
    data_length_bytes: int = field(
        default=247,
        metadata={
            "doc": "Application bytes per LL data PDU (Sidewalk: 247-byte data length)",
            "unit": "bytes",
        },
    )
    supervision_timeout_s: float = field(
        default=4.0,
        metadata={
            "doc": "A connection with no successful event for this long is lost (Sidewalk: 4 s)",
            "unit": "s",
        },
    )
    conn_event_loss_probability: float = field(
        default=0.0,
        metadata={
            "doc": "Chance a connection event's data PDU is lost (data channels are not "
            "simulated on the medium; ASSUMPTION: 0)",
            "unit": "",
        },
    )

    def __post_init__(self) -> None:
        _check_phy(self.phy)
        interval = self.adv_interval_s
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise ValueError(f"adv_interval_s must be a number, got {interval!r}")
        if not _LEGACY_ADV_INTERVAL_MIN_S <= interval <= _LEGACY_ADV_INTERVAL_MAX_S:
            raise ValueError(
                f"adv_interval_s must be in {_LEGACY_ADV_INTERVAL_MIN_S}.."
                f"{_LEGACY_ADV_INTERVAL_MAX_S} s (Core Spec Vol 6 Part B 4.4.2.2.1), got {interval}"
            )
        if isinstance(self.adv_events, bool) or not isinstance(self.adv_events, int):
            raise ValueError(f"adv_events must be an integer >= 1, got {self.adv_events!r}")
        if self.adv_events < 1:
            raise ValueError(f"adv_events must be >= 1, got {self.adv_events}")
        gap = self.adv_pdu_gap_s
        if isinstance(gap, bool) or not isinstance(gap, int | float):
            raise ValueError(f"adv_pdu_gap_s must be a number, got {gap!r}")
        if not (math.isfinite(gap) and gap >= 0):
            raise ValueError(f"adv_pdu_gap_s must be finite and >= 0, got {gap}")
        for name in ("mtu_bytes", "pdu_overhead_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.mtu_bytes < 1:
            raise ValueError(f"mtu_bytes must be >= 1, got {self.mtu_bytes}")
        if self.mtu_bytes + self.pdu_overhead_bytes > _MAX_PDU_PAYLOAD_BYTES:
            raise ValueError(
                "mtu_bytes + pdu_overhead_bytes must be <= 255 (PDU payload length field), "
                f"got {self.mtu_bytes} + {self.pdu_overhead_bytes}"
            )
        for name, low, high in (
            ("slow_adv_interval_s", _LEGACY_ADV_INTERVAL_MIN_S, _LEGACY_ADV_INTERVAL_MAX_S),
            ("conn_interval_s", _CONN_INTERVAL_MIN_S, _CONN_INTERVAL_MAX_S),
            ("supervision_timeout_s", _SUPERVISION_TIMEOUT_MIN_S, _SUPERVISION_TIMEOUT_MAX_S),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{name} must be in {low}..{high} s (Core Spec), got {value}")
        if not (math.isfinite(self.fast_adv_duration_s) and self.fast_adv_duration_s >= 0):
            raise ValueError(f"fast_adv_duration_s must be >= 0, got {self.fast_adv_duration_s}")
        length = self.data_length_bytes
        limit = _MAX_LL_DATA_BYTES - DATA_PDU_OVERHEAD_BYTES
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= limit:
            raise ValueError(f"data_length_bytes must be an integer in 1..{limit}, got {length!r}")
        if self.supervision_timeout_s <= 2 * self.conn_interval_s:
            raise ValueError(
                "supervision_timeout_s must be longer than two connection intervals "
                "(Core Spec Vol 6 Part B 4.5.2)"
            )
        p = self.conn_event_loss_probability
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p < 1:
            raise ValueError(f"conn_event_loss_probability must be in [0, 1), got {p!r}")

    def airtime_s(self, payload_bytes: int) -> float:
        """On-air time of one advertising PDU carrying ``payload_bytes`` of application data.

        Raises:
            ValueError: if ``payload_bytes`` is negative or exceeds ``mtu_bytes``.
        """
        if isinstance(payload_bytes, bool) or not isinstance(payload_bytes, int):
            raise ValueError(f"payload_bytes must be an integer, got {payload_bytes!r}")
        if not 0 <= payload_bytes <= self.mtu_bytes:
            raise ValueError(
                f"payload_bytes must be in 0..mtu_bytes={self.mtu_bytes}, got {payload_bytes}"
            )
        return airtime_s(self.pdu_overhead_bytes + payload_bytes, self.phy)

    def event_duration_s(self, payload_bytes: int) -> float:
        """Duration of one advertising event: one PDU per advertising channel plus the gaps."""
        n = len(ADV_CHANNELS)
        return n * self.airtime_s(payload_bytes) + (n - 1) * self.adv_pdu_gap_s

    def sensitivity_dbm(self) -> float:
        """Receiver sensitivity for this PHY in dBm."""
        return sensitivity_dbm(self.phy)

    def adv_interval_at_s(self, since_start_s: float) -> float:
        """Advertising interval ``since_start_s`` after advertising started: fast, then slow."""
        if since_start_s < self.fast_adv_duration_s:
            return self.adv_interval_s
        return self.slow_adv_interval_s

    def data_pdu_airtime_s(self, payload_bytes: int) -> float:
        """On-air time of one LL data PDU carrying ``payload_bytes`` of application data
        (0: an empty PDU, which carries no L2CAP header or MIC)."""
        overhead = DATA_PDU_OVERHEAD_BYTES if payload_bytes else 0
        return airtime_s(payload_bytes + overhead, self.phy)
