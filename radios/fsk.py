"""Sidewalk 900 MHz FSK link: 2-GFSK at 50 kb/s with IEEE 802.15.4g SUN-FSK style framing.

What it models
    * Packet airtime ``8 (preamble + sync + header + payload + CRC) / bitrate``.
    * A fixed receiver sensitivity and a co-channel (capture) SIR threshold.

Sources
    * Modulation: IEEE 802.15.4g-2012 SUN FSK PHY, "operating mode #1" for 902-928 MHz
      (50 kb/s, 2-FSK, modulation index 1.0, i.e. +/-25 kHz deviation, 200 kHz channel
      spacing), section 18.1 and its band/mode table; Amazon Sidewalk uses this 50 kb/s
      GFSK mode for its sub-GHz FSK link (Amazon Sidewalk Specification, sub-GHz FSK link).
    * Framing: 802.15.4g section 18.1.1 - SHR = preamble + 2-octet SFD (our sync word),
      2-octet PHR (our header), 2- or 4-octet FCS (we use the 2-octet CRC-16).
    * Sensitivity default: Semtech SX1261/2 datasheet, Table 3-8 "Receive mode
      specifications", 2-FSK entry BR = 38.4 kb/s, FDA = 40 kHz, BW_F = 160 kHz (the tabulated
      FSK point nearest to 50 kb/s): -109 dBm. It agrees with the closed form
      ``-174 + 10 log10(100 kHz) + NF 6 dB + ~9 dB`` for a 100 kHz (Carson) receiver bandwidth.
    * Co-channel threshold default 9 dB: ASSUMPTION (no SX126x FSK co-channel figure could be
      confirmed). Non-coherent binary FSK reaches BER 1e-3 at Eb/N0 = 2 ln(500) = 10.9 dB,
      i.e. SNR = 10.9 + 10 log10(50 kb/s / 100 kHz) = 7.9 dB in the 100 kHz receiver bandwidth;
      about 1 dB implementation loss gives 9 dB, treating a co-channel interferer as noise.

What it leaves out
    * Data whitening, FEC (802.15.4g optional convolutional coding) and mode switching.
    * Frequency hopping / channel plans, CCA timing, beacons and the Sidewalk FSK power
      profiles (MAC behaviour belongs to ``mesh``).
    * Adjacent-channel interference; only co-channel capture is summarised by one threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_FSK_PARAMS",
    "FREQUENCY_HZ",
    "FskParams",
    "airtime_s",
]

FREQUENCY_HZ: float = 915e6
"""Centre of the US 902-928 MHz ISM band used by the Sidewalk FSK link (FCC 47 CFR 15.247)."""

_MAX_FRAME_BYTES: int = 2047
"""802.15.4g PHR frame length field is 11 bits (section 18.1.1.3): PSDU <= 2047 octets."""


def _check_nonneg_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


@dataclass(frozen=True)
class FskParams:
    """Sidewalk sub-GHz FSK link configuration."""

    bitrate_bps: float = field(
        default=50_000,
        metadata={"doc": "Over-the-air bit rate (802.15.4g SUN FSK mode #1)", "unit": "bit/s"},
    )
    deviation_hz: float = field(
        default=25_000,
        metadata={"doc": "Frequency deviation (modulation index 1.0 at 50 kb/s)", "unit": "Hz"},
    )
    preamble_bytes: int = field(
        default=8,
        metadata={
            "doc": "Preamble length (ASSUMPTION: 8; 802.15.4g minimum is 4)",
            "unit": "bytes",
        },
    )
    sync_word_bytes: int = field(
        default=2, metadata={"doc": "Sync word / SFD length (802.15.4g: 2)", "unit": "bytes"}
    )
    header_bytes: int = field(
        default=2, metadata={"doc": "PHY header / PHR length (802.15.4g: 2)", "unit": "bytes"}
    )
    crc_bytes: int = field(
        default=2, metadata={"doc": "CRC / FCS length (802.15.4g CRC-16: 2)", "unit": "bytes"}
    )
    channels: int = field(
        default=8, metadata={"doc": "Number of FSK channels in use (ASSUMPTION: 8)", "unit": ""}
    )
    mtu_bytes: int = field(
        default=200,
        metadata={"doc": "Application payload limit per packet (ASSUMPTION: 200)", "unit": "bytes"},
    )
    sensitivity_dbm: float = field(
        default=-109.0,
        metadata={
            "doc": "Receiver sensitivity (SX1261/2 Table 3-8, 2-FSK 38.4 kb/s entry)",
            "unit": "dBm",
        },
    )
    co_channel_rejection_db: float = field(
        default=9.0,
        metadata={
            "doc": "Co-channel capture SIR threshold (ASSUMPTION: 9 dB, see module docs)",
            "unit": "dB",
        },
    )

    def __post_init__(self) -> None:
        for name in ("bitrate_bps", "deviation_hz"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be finite and > 0, got {value}")
        for name in ("preamble_bytes", "sync_word_bytes", "header_bytes", "crc_bytes"):
            _check_nonneg_int(name, getattr(self, name))
        channels = _check_nonneg_int("channels", self.channels)
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        mtu = _check_nonneg_int("mtu_bytes", self.mtu_bytes)
        max_mtu = _MAX_FRAME_BYTES - self.crc_bytes
        if not 1 <= mtu <= max_mtu:
            raise ValueError(f"mtu_bytes must be in 1..{max_mtu}, got {mtu}")
        for name in ("sensitivity_dbm", "co_channel_rejection_db"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")

    @property
    def overhead_bytes(self) -> int:
        """Bytes on air besides the payload (preamble + sync + header + CRC)."""
        return self.preamble_bytes + self.sync_word_bytes + self.header_bytes + self.crc_bytes

    def airtime_s(self, payload_bytes: int) -> float:
        """Airtime of one frame carrying ``payload_bytes``, ``8 * total_bytes / bitrate_bps``.

        Raises:
            ValueError: if ``payload_bytes`` is negative or exceeds ``mtu_bytes``.
        """
        _check_nonneg_int("payload_bytes", payload_bytes)
        if payload_bytes > self.mtu_bytes:
            raise ValueError(
                f"payload_bytes={payload_bytes} exceeds mtu_bytes={self.mtu_bytes}; fragment first"
            )
        return 8.0 * (self.overhead_bytes + payload_bytes) / float(self.bitrate_bps)


DEFAULT_FSK_PARAMS: FskParams = FskParams()
"""Default (immutable) Sidewalk FSK configuration."""


def airtime_s(payload_bytes: int, params: FskParams = DEFAULT_FSK_PARAMS) -> float:
    """Airtime in seconds of one FSK frame with ``payload_bytes`` under ``params``."""
    return params.airtime_s(payload_bytes)
