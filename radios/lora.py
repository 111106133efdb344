"""LoRa (CSS) physical layer: time on air, sensitivity, SF rejection and Sidewalk link parameters.

What it models
    * Packet time on air of a LoRa frame (preamble + optional explicit header + payload + CRC),
      including the low-data-rate optimisation (LDRO) bit.
    * Receiver sensitivity from the thermal noise floor plus the demodulator SNR floor.
    * Capture / inter-SF rejection as a signal-to-interference (SIR) threshold matrix.
    * The Amazon Sidewalk LoRa ("CSS") link parameters as a frozen :class:`LoraParams`.

Sources
    * SF7..SF12 time on air: Semtech SX1276/77/78/79 datasheet Rev. 5, section 4.1.1.6
      "LoRa Packet Structure" / 4.1.1.7 "Time on air", and Semtech AN1200.13 "LoRa Modem
      Designer's Guide": preamble of (n_preamble + 4.25) symbols and
      ``8 + max(ceil((8PL - 4SF + 28 + 16CRC - 20IH) / (4(SF - 2DE))) (CR + 4), 0)``
      payload symbols.
    * SF5/SF6 time on air: Semtech SX1261/2 datasheet section 6.1.4 "LoRa Time-on-Air": for
      SF5 and SF6 the preamble costs (n_preamble + 6.25) symbols and the payload
      ``8 + ceil(max(8PL + 16CRC - 4SF + 20(1 - IH), 0) / (4 SF)) (CR + 4)`` symbols (no "+8"
      term and no DE term). The same formula is implemented by Semtech's LoRaMac-node
      reference driver (``RadioGetLoRaTimeOnAirNumerator``).
    * Sensitivity: Semtech AN1200.22 "LoRa Modulation Basics", section 4:
      ``S = -174 + 10 log10(BW) + NF + SNR``.
    * SNR floors per SF: SX1276 datasheet section 4.1.1.2 (table of demodulator SNR,
      SF6..SF12) and SX1261/2 datasheet section 6.1.1.1, Table 6-1 (adds SF5 = -2.5 dB).
    * Rejection matrices: Goursaud & Gorce 2015 (EAI Endorsed Trans. IoT 1(1), "Dedicated
      networks for IoT: PHY/MAC state of the art and challenges"), as tabulated with
      isolation sign convention in the ns-3 ``lorawan`` module
      (``LoraInterferenceHelper::collisionSnirGoursaud``); Croce et al. 2018 (IEEE
      Communications Letters 22(4), "Impact of LoRa Imperfect Orthogonality: Analysis of
      Link-Level Performance"), Table I, as used by FLoRa (``nonOrthDelta``).
    * Sidewalk LoRa application MTU of 19 bytes: Amazon Sidewalk Specification, sub-GHz
      CSS (LoRa) link ("CSS mode limits 19 bytes per packet").

What it leaves out
    * Frequency hopping, channel plans and duty-cycle regulation (FCC part 15.247 dwell time).
    * Header CRC details, implicit-header SF6 restrictions of the SX127x (we follow SX126x,
      which supports explicit header at SF5/SF6) and the SX126x recommendation of at least
      12 preamble symbols at SF5/SF6 (the caller chooses the preamble).
    * Partial-overlap / timing-dependent capture, imperfect synchronisation, and fading.
    * Any MAC-layer framing; Sidewalk header overhead is a configurable ``phy_overhead_bytes``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

__all__ = [
    "CO_SF_CAPTURE_DB",
    "FREQUENCY_HZ",
    "LDRO_SYMBOL_TIME_THRESHOLD_S",
    "MTU_BYTES",
    "REJECTION_MATRICES",
    "SUPPORTED_BANDWIDTHS_HZ",
    "LoraParams",
    "rejection_matrix",
    "sensitivity_dbm",
    "snr_floor_db",
    "symbol_time_s",
    "time_on_air",
]

FREQUENCY_HZ: float = 915e6
"""Carrier frequency used for path loss: centre of the US 902-928 MHz ISM band used by
Sidewalk sub-GHz links (FCC 47 CFR 15.247; Amazon Sidewalk operates in 902-928 MHz)."""

MTU_BYTES: int = 19
"""Sidewalk LoRa (CSS) application payload limit per packet, bytes (Amazon Sidewalk
Specification, CSS link; also stated in the Sidewalk SDK samples: "CSS mode limits 19 bytes
per packet")."""

LDRO_SYMBOL_TIME_THRESHOLD_S: float = 16e-3
"""Symbol duration above which LowDataRateOptimize is mandated (SX1276 datasheet
section 4.1.1.6: "Its use is mandated when the symbol duration exceeds 16 ms")."""

SUPPORTED_BANDWIDTHS_HZ: tuple[float, ...] = (
    500e3 / 64,  # 7.8125 kHz
    500e3 / 48,  # 10.4167 kHz
    500e3 / 32,  # 15.625 kHz
    500e3 / 24,  # 20.8333 kHz
    500e3 / 16,  # 31.25 kHz
    500e3 / 12,  # 41.6667 kHz
    62.5e3,
    125e3,
    250e3,
    500e3,
)
"""LoRa signal bandwidths (SX1276 RegModemConfig1 BW field, section 6.4; SX1261/2
SetModulationParams, section 13.4.5.2). Nominal values such as 7.8 kHz or 41.7 kHz are
accepted within :data:`_BW_REL_TOL`."""

_BW_REL_TOL: float = 5e-3
"""Relative tolerance when matching a bandwidth to :data:`SUPPORTED_BANDWIDTHS_HZ` (covers
datasheet rounding, e.g. 7.8 kHz vs 7.8125 kHz)."""

_SF_MIN: int = 5
_SF_MAX: int = 12
_MAX_PAYLOAD_BYTES: int = 255
"""LoRa payload length field is one byte (SX1276 RegPayloadLength; SX126x PayloadLength)."""

_PREAMBLE_MIN_SYMBOLS: int = 6
_PREAMBLE_MAX_SYMBOLS: int = 65535
"""Programmable preamble length range (SX1276 section 4.1.1.6: 6 to 65535 symbols)."""

_THERMAL_NOISE_DBM_PER_HZ: float = -174.0
"""kT at 290 K in dBm/Hz (AN1200.22 section 4)."""

_SNR_FLOOR_DB: Mapping[int, float] = MappingProxyType(
    {5: -2.5, 6: -5.0, 7: -7.5, 8: -10.0, 9: -12.5, 10: -15.0, 11: -17.5, 12: -20.0}
)
"""Demodulator SNR floor per SF (SX1276 datasheet section 4.1.1.2 for SF6..SF12; SX1261/2
datasheet Table 6-1 adds SF5)."""


def _check_sf(sf: int) -> None:
    if isinstance(sf, bool) or not isinstance(sf, int | np.integer):
        raise ValueError(f"sf must be an integer in {_SF_MIN}..{_SF_MAX}, got {sf!r}")
    if not _SF_MIN <= sf <= _SF_MAX:
        raise ValueError(f"sf must be in {_SF_MIN}..{_SF_MAX}, got {sf}")


def _check_bw(bw_hz: float) -> None:
    if not isinstance(bw_hz, int | float | np.integer | np.floating) or not math.isfinite(bw_hz):
        raise ValueError(f"bw_hz must be a finite number, got {bw_hz!r}")
    for ref in SUPPORTED_BANDWIDTHS_HZ:
        if abs(bw_hz - ref) <= _BW_REL_TOL * ref:
            return
    allowed = ", ".join(f"{b:g}" for b in SUPPORTED_BANDWIDTHS_HZ)
    raise ValueError(f"unsupported LoRa bandwidth bw_hz={bw_hz:g}; allowed (Hz): {allowed}")


def _check_cr(coding_rate: int) -> None:
    if isinstance(coding_rate, bool) or coding_rate not in (1, 2, 3, 4):
        raise ValueError(f"coding_rate must be 1..4 (4/5..4/8), got {coding_rate!r}")


def _check_payload(payload_bytes: int) -> None:
    if isinstance(payload_bytes, bool) or not isinstance(payload_bytes, int | np.integer):
        raise ValueError(f"payload_bytes must be an integer, got {payload_bytes!r}")
    if payload_bytes < 0:
        raise ValueError(f"payload_bytes must be >= 0, got {payload_bytes}")
    if payload_bytes > _MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"payload_bytes must be <= {_MAX_PAYLOAD_BYTES} (one-byte length field), "
            f"got {payload_bytes}"
        )


def _check_preamble(preamble_symbols: int) -> None:
    if isinstance(preamble_symbols, bool) or not isinstance(preamble_symbols, int | np.integer):
        raise ValueError(f"preamble_symbols must be an integer, got {preamble_symbols!r}")
    if not _PREAMBLE_MIN_SYMBOLS <= preamble_symbols <= _PREAMBLE_MAX_SYMBOLS:
        raise ValueError(
            f"preamble_symbols must be in {_PREAMBLE_MIN_SYMBOLS}..{_PREAMBLE_MAX_SYMBOLS}, "
            f"got {preamble_symbols}"
        )


def symbol_time_s(sf: int, bw_hz: float = 125_000) -> float:
    """LoRa symbol duration ``2**SF / BW`` in seconds (SX1276 section 4.1.1.7)."""
    _check_sf(sf)
    _check_bw(bw_hz)
    return float(2**sf) / float(bw_hz)


def time_on_air(
    payload_bytes: int,
    sf: int,
    bw_hz: float = 125_000,
    coding_rate: int = 1,
    preamble_symbols: int = 8,
    explicit_header: bool = True,
    crc: bool = True,
    low_data_rate_optimize: bool | None = None,
) -> float:
    """Time on air of one LoRa packet, in seconds.

    ``coding_rate`` 1..4 means 4/5..4/8. ``low_data_rate_optimize=None`` switches LDRO on when
    the symbol time is at least 16 ms (SX1276 section 4.1.1.6). SF7..SF12 use the SX1276 /
    AN1200.13 formula, SF5/SF6 the SX1261/2 section 6.1.4 formula (see module docstring).

    Raises:
        ValueError: for sf outside 5..12, coding_rate outside 1..4, payload outside 0..255,
            an unsupported bandwidth, a preamble outside 6..65535, or LDRO requested at
            SF5/SF6 (the SX1261/2 SF5/SF6 formula has no LDRO term).
    """
    _check_payload(payload_bytes)
    _check_sf(sf)
    _check_bw(bw_hz)
    _check_cr(coding_rate)
    _check_preamble(preamble_symbols)
    t_sym = float(2**sf) / float(bw_hz)
    crc_bit = 1 if crc else 0
    if sf >= 7:
        if low_data_rate_optimize is None:
            de = 1 if t_sym >= LDRO_SYMBOL_TIME_THRESHOLD_S else 0
        else:
            de = 1 if low_data_rate_optimize else 0
        ih = 0 if explicit_header else 1
        numerator = 8 * payload_bytes - 4 * sf + 28 + 16 * crc_bit - 20 * ih
        denominator = 4 * (sf - 2 * de)
        n_payload = 8 + max(-(-numerator // denominator) * (coding_rate + 4), 0)
        n_symbols = preamble_symbols + 4.25 + n_payload
    else:
        if low_data_rate_optimize:
            raise ValueError(
                "low_data_rate_optimize=True is not defined for SF5/SF6 "
                "(SX1261/2 section 6.1.4 formula has no LDRO term)"
            )
        header_bits = 20 if explicit_header else 0
        numerator = max(8 * payload_bytes + 16 * crc_bit - 4 * sf + header_bits, 0)
        denominator = 4 * sf
        n_payload = 8 + (-(-numerator // denominator)) * (coding_rate + 4)
        n_symbols = preamble_symbols + 6.25 + n_payload
    return n_symbols * t_sym


def snr_floor_db(sf: int) -> float:
    """Minimum demodulation SNR in dB for a spreading factor (SX1276 / SX1261/2 datasheets)."""
    _check_sf(sf)
    return _SNR_FLOOR_DB[int(sf)]


def sensitivity_dbm(sf: int, bw_hz: float = 125_000, noise_figure_db: float = 6.0) -> float:
    """Receiver sensitivity ``-174 + 10 log10(BW) + NF + SNR_floor(SF)`` in dBm (AN1200.22 §4).

    The default 6 dB noise figure is the value used in AN1200.22's worked example; it
    reproduces the SX1272/SX1262 BW125 sensitivity tables within 1 dB for SF7..SF12.
    """
    _check_bw(bw_hz)
    if not math.isfinite(noise_figure_db):
        raise ValueError(f"noise_figure_db must be finite, got {noise_figure_db!r}")
    return _THERMAL_NOISE_DBM_PER_HZ + 10.0 * math.log10(bw_hz) + noise_figure_db + snr_floor_db(sf)


# --------------------------------------------------------------------------------------------
# Inter-SF rejection (SIR threshold) matrices.
# Convention: M[signal_sf - 5, interferer_sf - 5] = minimum SIR (dB) the wanted signal needs
# over an interferer (same channel, overlapping in time) to be decoded. Diagonal > 0 is the
# co-SF capture threshold; off-diagonal < 0 means the signal survives even when weaker.
# --------------------------------------------------------------------------------------------

_GOURSAUD_SF7_12: tuple[tuple[float, ...], ...] = (
    # interferer: SF7  SF8  SF9 SF10 SF11 SF12      signal:
    (6.0, -16.0, -18.0, -19.0, -19.0, -20.0),  # SF7
    (-24.0, 6.0, -20.0, -22.0, -22.0, -22.0),  # SF8
    (-27.0, -27.0, 6.0, -23.0, -25.0, -25.0),  # SF9
    (-30.0, -30.0, -30.0, 6.0, -26.0, -28.0),  # SF10
    (-33.0, -33.0, -33.0, -33.0, 6.0, -29.0),  # SF11
    (-36.0, -36.0, -36.0, -36.0, -36.0, 6.0),  # SF12
)
"""Goursaud & Gorce 2015, co-channel rejection table with isolation sign convention, exactly
as in ns-3 lorawan ``LoraInterferenceHelper::collisionSnirGoursaud`` (rows = signal SF)."""

_CROCE_SF7_12: tuple[tuple[float, ...], ...] = (
    # interferer: SF7  SF8  SF9 SF10 SF11 SF12      signal:
    (1.0, -8.0, -9.0, -9.0, -9.0, -9.0),  # SF7
    (-11.0, 1.0, -11.0, -12.0, -13.0, -13.0),  # SF8
    (-15.0, -13.0, 1.0, -13.0, -14.0, -15.0),  # SF9
    (-19.0, -18.0, -17.0, 1.0, -17.0, -18.0),  # SF10
    (-22.0, -22.0, -21.0, -20.0, 1.0, -20.0),  # SF11
    (-25.0, -25.0, -25.0, -24.0, -23.0, 1.0),  # SF12
)
"""Croce et al. 2018, Table I SIR thresholds (rows = reference/signal SF, columns = interfering
SF), as used by FLoRa ``LoRaReceiver::nonOrthDelta``."""

_LOW_SF_PENALTY_DB_PER_STEP: float = 3.0
"""ASSUMPTION: SIR threshold increase per SF step below SF7 used to extrapolate the SF5/SF6
rows. 3 dB = 10 log10(2), the processing-gain change per SF step; the published rows grow by
1-4 dB per step (e.g. Croce SF8 vs SF7 rows), so 3 dB is at least as pessimistic as the data."""


def _extend_to_sf5(published: tuple[tuple[float, ...], ...]) -> npt.NDArray[np.float64]:
    """Extend a published SF7..SF12 matrix to SF5..SF12 (ASSUMPTION, conservative).

    Rules (s = signal SF, i = interferer SF, P = published matrix, D = its diagonal):
      * M[s, s] = D for every SF (co-SF capture threshold unchanged at SF5/SF6).
      * s >= 7, i in {5, 6}: nearest published interferer column, P[s, 7] when s > 7; for s = 7
        the SF7 row's adjacent-SF value P[7, 8] (the least negative entry of that row).
      * s in {5, 6}: start from the SF7 row (P[7, i] for i >= 8, P[7, 8] for i <= 7) and add
        :data:`_LOW_SF_PENALTY_DB_PER_STEP` dB per SF below 7, i.e. a lower-SF signal is
        assumed *less* robust than SF7 (pessimistic), never more.
    """
    p = np.asarray(published, dtype=np.float64)
    diag = float(p[0, 0])
    m = np.empty((8, 8), dtype=np.float64)
    for s in range(5, 13):
        for i in range(5, 13):
            if s == i:
                m[s - 5, i - 5] = diag
            elif s >= 7 and i >= 7:
                m[s - 5, i - 5] = p[s - 7, i - 7]
            elif s >= 7:  # interferer SF5/SF6
                m[s - 5, i - 5] = p[s - 7, 0] if s > 7 else p[0, 1]
            else:  # signal SF5/SF6
                template = p[0, i - 7] if i >= 8 else p[0, 1]
                m[s - 5, i - 5] = template + _LOW_SF_PENALTY_DB_PER_STEP * (7 - s)
    m.flags.writeable = False
    return m


REJECTION_MATRICES: Mapping[str, npt.NDArray[np.float64]] = MappingProxyType(
    {
        "goursaud": _extend_to_sf5(_GOURSAUD_SF7_12),
        "croce": _extend_to_sf5(_CROCE_SF7_12),
    }
)
"""Read-only SIR threshold matrices, shape (8, 8), indexed ``[signal_sf - 5, interferer_sf - 5]``.
SF7..SF12 entries are the published values; SF5/SF6 rows and columns are an ASSUMPTION (see
:func:`_extend_to_sf5`)."""

CO_SF_CAPTURE_DB: Mapping[str, float] = MappingProxyType(
    {name: float(matrix[0, 0]) for name, matrix in REJECTION_MATRICES.items()}
)
"""Co-SF capture threshold per matrix: 6 dB (Goursaud & Gorce 2015), 1 dB (Croce et al. 2018)."""


def rejection_matrix(name: str) -> npt.NDArray[np.float64]:
    """Return the read-only (8, 8) SIR threshold matrix ``name`` ("goursaud" or "croce")."""
    try:
        return REJECTION_MATRICES[name]
    except KeyError:
        allowed = ", ".join(sorted(REJECTION_MATRICES))
        raise ValueError(f"unknown rejection matrix {name!r}; allowed: {allowed}") from None


@dataclass(frozen=True)
class LoraParams:
    """Sidewalk LoRa (CSS) link configuration.

    ``airtime_s`` adds ``phy_overhead_bytes`` to the application payload and enforces
    ``mtu_bytes`` (the engine must fragment larger messages).
    """

    sf: int = field(default=7, metadata={"doc": "LoRa spreading factor (5..12)", "unit": ""})
    bw_hz: float = field(default=125_000, metadata={"doc": "LoRa signal bandwidth", "unit": "Hz"})
    coding_rate: int = field(
        default=1, metadata={"doc": "Coding rate index 1..4 meaning 4/5..4/8", "unit": ""}
    )
    preamble_symbols: int = field(
        default=8, metadata={"doc": "Programmed preamble length (6..65535)", "unit": "symbols"}
    )
    explicit_header: bool = field(
        default=True, metadata={"doc": "Explicit LoRa PHY header present", "unit": ""}
    )
    crc: bool = field(default=True, metadata={"doc": "16-bit payload CRC present", "unit": ""})
    channels: int = field(
        default=8,
        metadata={"doc": "Number of LoRa channels in use (ASSUMPTION: 8)", "unit": ""},
    )
    mtu_bytes: int = field(
        default=MTU_BYTES,
        metadata={"doc": "Application payload limit per packet (Sidewalk: 19)", "unit": "bytes"},
    )
    phy_overhead_bytes: int = field(
        default=0,
        metadata={
            "doc": "Sidewalk header bytes added on air per packet (ASSUMPTION: 0)",
            "unit": "bytes",
        },
    )

    def __post_init__(self) -> None:
        _check_sf(self.sf)
        _check_bw(self.bw_hz)
        _check_cr(self.coding_rate)
        _check_preamble(self.preamble_symbols)
        if isinstance(self.channels, bool) or not isinstance(self.channels, int):
            raise ValueError(f"channels must be an integer >= 1, got {self.channels!r}")
        if self.channels < 1:
            raise ValueError(f"channels must be >= 1, got {self.channels}")
        if isinstance(self.phy_overhead_bytes, bool) or not isinstance(
            self.phy_overhead_bytes, int
        ):
            raise ValueError(
                f"phy_overhead_bytes must be an integer in 0..254, got {self.phy_overhead_bytes!r}"
            )
        if not 0 <= self.phy_overhead_bytes < _MAX_PAYLOAD_BYTES:
            raise ValueError(
                f"phy_overhead_bytes must be in 0..{_MAX_PAYLOAD_BYTES - 1}, "
                f"got {self.phy_overhead_bytes}"
            )
        max_mtu = _MAX_PAYLOAD_BYTES - self.phy_overhead_bytes
        if isinstance(self.mtu_bytes, bool) or not isinstance(self.mtu_bytes, int):
            raise ValueError(
                f"mtu_bytes must be an integer in 1..{max_mtu}, got {self.mtu_bytes!r}"
            )
        if not 1 <= self.mtu_bytes <= max_mtu:
            raise ValueError(
                f"mtu_bytes must be in 1..{max_mtu} (255 - phy_overhead_bytes), "
                f"got {self.mtu_bytes}"
            )

    def symbol_time_s(self) -> float:
        """Symbol duration in seconds."""
        return symbol_time_s(self.sf, self.bw_hz)

    def airtime_s(self, payload_bytes: int) -> float:
        """Time on air of one packet carrying ``payload_bytes`` of application data.

        Raises:
            ValueError: if ``payload_bytes`` is negative or exceeds ``mtu_bytes``.
        """
        _check_payload(payload_bytes)
        if payload_bytes > self.mtu_bytes:
            raise ValueError(
                f"payload_bytes={payload_bytes} exceeds mtu_bytes={self.mtu_bytes}; fragment first"
            )
        return time_on_air(
            payload_bytes + self.phy_overhead_bytes,
            self.sf,
            bw_hz=self.bw_hz,
            coding_rate=self.coding_rate,
            preamble_symbols=self.preamble_symbols,
            explicit_header=self.explicit_header,
            crc=self.crc,
        )

    def sensitivity_dbm(self) -> float:
        """Receiver sensitivity for this SF/BW with the default 6 dB noise figure."""
        return sensitivity_dbm(self.sf, self.bw_hz)
