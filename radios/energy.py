"""Radio, MCU and battery energy models: state currents, wake-up cost and battery life.

What it models
    * Constant-current radio states (TX at tabulated output power levels, RX, idle, sleep) at a
      stated supply voltage, so energy = current x voltage x time.
    * A host MCU with sleep/active currents and a fixed wake-up cost.
    * Primary batteries as ``capacity_mah`` at a nominal voltage, and battery life from a mean
      power draw.

Sources
    * nRF52840 Product Specification v1.x, "Current consumption" electrical specification,
      radio scenarios at 3 V, HFXO, DC/DC (IRADIO_TX0 +8 dBm 16.40 mA, IRADIO_TX1 0 dBm
      6.40 mA, IRADIO_TX2 -40 dBm 3.83 mA, IRADIO_RX0 1 Mbps BLE 6.26 mA); "Sleep" table
      (System ON, wake on RTC: ~1.5 uA); "CPU running" table (CoreMark from flash, DC/DC:
      3.3 mA). These scenario currents are whole-chip currents with the CPU idle, i.e. what a
      battery actually supplies while the radio is active.
    * Semtech SX1261/2 datasheet, Table 3-5 / 3-7 (DC-DC mode, 3.3 V): SX1262 TX +22 dBm
      118 mA, +14 dBm 45 mA (optimal PA settings); RX LoRa 125 kHz 4.6 mA (Rx boosted
      5.3 mA); STDBY_RC 0.6 mA; sleep cold start 160 nA, warm start 600 nA.
    * Batteries: Energizer E91 (AA alkaline) datasheet, ~3000 mAh at 25 mA to 0.8 V; Wikipedia/
      IEC 60086 CR2032 typical 225 mAh at 3.0 V (Energizer CR2032 datasheet: 235 mAh to 2.0 V
      at 15 kohm); Saft LS14500 (Li-SOCl2 AA) datasheet: 3.6 V, 2.6 Ah.

What it leaves out
    * Start-up / ramp-up transients (PLL lock, PA ramp), TCXO current, DC-DC efficiency vs load.
    * Battery rate-capacity (Peukert) effects, temperature, self-discharge, voltage sag and
      cut-off behaviour: batteries are ideal energy reservoirs.
    * Interpolation between TX power levels: the next tabulated level at or above the request
      is charged (conservative).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "ALKALINE_2AA",
    "BATTERIES",
    "CR2032",
    "LI_SOCL2_AA",
    "NRF52840",
    "NRF52840_MCU",
    "RADIO_PROFILES",
    "SECONDS_PER_DAY",
    "SX1262",
    "SX1262_SLEEP_COLD_CURRENT_A",
    "SX1262_SLEEP_WARM_CURRENT_A",
    "Battery",
    "McuProfile",
    "RadioEnergyProfile",
]

SECONDS_PER_DAY: float = 86_400.0
SECONDS_PER_YEAR: float = 365.25 * SECONDS_PER_DAY
_JOULES_PER_MAH_PER_V: float = 3.6
"""1 mAh at 1 V = 1e-3 A x 3600 s x 1 V = 3.6 J."""


def _check_positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return float(value)


def _check_nonneg(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return float(value)


@dataclass(frozen=True)
class RadioEnergyProfile:
    """Constant-current model of a radio transceiver (or radio SoC) at ``voltage_v``."""

    name: str = field(metadata={"doc": "Profile name", "unit": ""})
    voltage_v: float = field(metadata={"doc": "Supply voltage the currents refer to", "unit": "V"})
    tx_levels_dbm: tuple[float, ...] = field(
        metadata={"doc": "Tabulated TX output power levels, ascending", "unit": "dBm"}
    )
    tx_current_a: tuple[float, ...] = field(
        metadata={"doc": "Supply current at each TX level", "unit": "A"}
    )
    rx_current_a: float = field(metadata={"doc": "Supply current while receiving", "unit": "A"})
    idle_current_a: float = field(
        metadata={"doc": "Supply current in standby between operations", "unit": "A"}
    )
    sleep_current_a: float = field(metadata={"doc": "Supply current while asleep", "unit": "A"})

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        _check_positive("voltage_v", self.voltage_v)
        levels = tuple(self.tx_levels_dbm)
        currents = tuple(self.tx_current_a)
        if not levels:
            raise ValueError("tx_levels_dbm must contain at least one level")
        if len(levels) != len(currents):
            raise ValueError(
                f"tx_levels_dbm ({len(levels)}) and tx_current_a ({len(currents)}) "
                "must have the same length"
            )
        for level in levels:
            if isinstance(level, bool) or not isinstance(level, int | float):
                raise ValueError(f"tx_levels_dbm entries must be numbers, got {level!r}")
            if not math.isfinite(level):
                raise ValueError(f"tx_levels_dbm entries must be finite, got {level}")
        if any(b <= a for a, b in itertools.pairwise(levels)):
            raise ValueError(f"tx_levels_dbm must be strictly increasing, got {levels}")
        for current in currents:
            _check_positive("tx_current_a entries", current)
        _check_nonneg("rx_current_a", self.rx_current_a)
        _check_nonneg("idle_current_a", self.idle_current_a)
        _check_nonneg("sleep_current_a", self.sleep_current_a)

    @property
    def max_tx_power_dbm(self) -> float:
        """Highest tabulated TX output power, dBm."""
        return float(self.tx_levels_dbm[-1])

    def tx_current_at(self, tx_power_dbm: float) -> float:
        """Current of the smallest tabulated TX level >= ``tx_power_dbm`` (conservative).

        Raises:
            ValueError: if ``tx_power_dbm`` exceeds :attr:`max_tx_power_dbm` or is not finite.
        """
        if not math.isfinite(tx_power_dbm):
            raise ValueError(f"tx_power_dbm must be finite, got {tx_power_dbm!r}")
        idx = bisect.bisect_left(self.tx_levels_dbm, tx_power_dbm)
        if idx >= len(self.tx_levels_dbm):
            raise ValueError(
                f"{self.name}: tx_power_dbm={tx_power_dbm} exceeds the maximum tabulated "
                f"level {self.max_tx_power_dbm} dBm"
            )
        return float(self.tx_current_a[idx])

    def tx_energy_j(self, tx_power_dbm: float, airtime_s: float) -> float:
        """Energy drawn from the supply for ``airtime_s`` of transmission at ``tx_power_dbm``."""
        duration = _check_nonneg("airtime_s", airtime_s)
        return self.tx_current_at(tx_power_dbm) * self.voltage_v * duration

    def rx_energy_j(self, duration_s: float) -> float:
        """Energy drawn from the supply while receiving for ``duration_s``."""
        return self.rx_current_a * self.voltage_v * _check_nonneg("duration_s", duration_s)


@dataclass(frozen=True)
class McuProfile:
    """Host microcontroller: sleep/active currents and the duration of one wake-up."""

    name: str = field(metadata={"doc": "Profile name", "unit": ""})
    sleep_current_a: float = field(metadata={"doc": "Current while sleeping", "unit": "A"})
    active_current_a: float = field(metadata={"doc": "Current while running", "unit": "A"})
    wake_time_s: float = field(
        metadata={"doc": "Active time charged per wake-up (protocol processing)", "unit": "s"}
    )

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        _check_nonneg("sleep_current_a", self.sleep_current_a)
        _check_nonneg("active_current_a", self.active_current_a)
        _check_nonneg("wake_time_s", self.wake_time_s)

    def wake_energy_j(self, voltage_v: float) -> float:
        """Energy of one wake-up: ``active_current_a * wake_time_s * voltage_v``."""
        return self.active_current_a * self.wake_time_s * _check_positive("voltage_v", voltage_v)


@dataclass(frozen=True)
class Battery:
    """Primary battery: an energy reservoir that also loses a share of its capacity per year to
    self-discharge, modelled as a constant leakage current ``capacity x rate / year``."""

    name: str = field(metadata={"doc": "Battery name", "unit": ""})
    capacity_mah: float = field(metadata={"doc": "Usable capacity", "unit": "mAh"})
    voltage_v: float = field(metadata={"doc": "Nominal voltage", "unit": "V"})
    self_discharge_per_year: float = field(
        default=0.0,
        metadata={"doc": "Share of the capacity lost per year on the shelf", "unit": "1/yr"},
    )

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        _check_positive("capacity_mah", self.capacity_mah)
        _check_positive("voltage_v", self.voltage_v)
        rate = _check_nonneg("self_discharge_per_year", self.self_discharge_per_year)
        if rate >= 1.0:
            raise ValueError(f"self_discharge_per_year must be < 1, got {rate}")

    @property
    def capacity_j(self) -> float:
        """Stored energy in joules: ``capacity_mah * 3.6 * voltage_v``."""
        return self.capacity_mah * _JOULES_PER_MAH_PER_V * self.voltage_v

    @property
    def capacity_c(self) -> float:
        """Stored charge in coulombs: ``capacity_mah * 3.6``."""
        return self.capacity_mah * _JOULES_PER_MAH_PER_V

    @property
    def leakage_current_a(self) -> float:
        """Self-discharge as an equivalent constant current (capacity x rate per year)."""
        return self.capacity_c * self.self_discharge_per_year / SECONDS_PER_YEAR

    def life_days_at_current(self, mean_current_a: float) -> float:
        """Days until exhausted at a constant load ``mean_current_a`` plus self-discharge."""
        total = _check_nonneg("mean_current_a", mean_current_a) + self.leakage_current_a
        if total == 0.0:
            return math.inf
        return self.capacity_c / total / SECONDS_PER_DAY

    def life_days(self, mean_power_w: float) -> float:
        """Days until the battery is exhausted at a constant ``mean_power_w`` (inf for 0 W).

        Raises:
            ValueError: if ``mean_power_w`` is negative or not finite.
        """
        power = _check_nonneg("mean_power_w", mean_power_w)
        if power == 0.0:
            return math.inf
        return self.capacity_j / power / SECONDS_PER_DAY


# --- Profiles ------------------------------------------------------------------------------

NRF52840: RadioEnergyProfile = RadioEnergyProfile(
    name="nrf52840",
    # nRF52840 PS v1.x, current consumption scenarios, 3 V, DC/DC, HFXO (radio 1 Mbps BLE).
    voltage_v=3.0,
    tx_levels_dbm=(-40.0, 0.0, 8.0),  # IRADIO_TX2, IRADIO_TX1, IRADIO_TX0
    tx_current_a=(3.83e-3, 6.40e-3, 16.40e-3),
    rx_current_a=6.26e-3,  # IRADIO_RX0, 1 Mbps BLE, DC/DC
    # ASSUMPTION: radio DISABLED with the 32 MHz crystal running and CPU in WFI between the
    # back-to-back operations of one event; ~0.25 mA (order of the HFXO run current).
    idle_current_a=0.25e-3,
    # The radio is part of the nRF52840: while it is off the chip draws its System ON sleep
    # current, which is charged once, as the MCU's (NRF52840_MCU), not a second time here.
    sleep_current_a=0.0,
)
"""Nordic nRF52840 radio (BLE) energy profile."""

SX1262_SLEEP_COLD_CURRENT_A: float = 0.16e-6
"""SX1262 sleep, cold start (configuration lost), SX1261/2 datasheet Table 3-5: 160 nA."""

SX1262_SLEEP_WARM_CURRENT_A: float = 0.6e-6
"""SX1262 sleep, warm start (configuration retained), SX1261/2 datasheet Table 3-5: 600 nA."""

SX1262: RadioEnergyProfile = RadioEnergyProfile(
    name="sx1262",
    voltage_v=3.3,  # SX1261/2 datasheet electrical specification conditions: VBAT = 3.3 V
    tx_levels_dbm=(14.0, 22.0),  # SX1262 HP PA, DC-DC, optimal settings (Table 3-5)
    tx_current_a=(45e-3, 118e-3),
    rx_current_a=4.6e-3,  # Rx LoRa 125 kHz, DC-DC (Rx boosted: 5.3 mA)
    idle_current_a=0.6e-3,  # STDBY_RC
    sleep_current_a=SX1262_SLEEP_WARM_CURRENT_A,  # warm start keeps the radio configuration
)
"""Semtech SX1262 (900 MHz FSK/LoRa) energy profile."""

NRF52840_MCU: McuProfile = McuProfile(
    name="nrf52840",
    sleep_current_a=1.5e-6,  # System ON, wake on RTC (nRF52840 PS "Sleep")
    active_current_a=3.3e-3,  # CPU running CoreMark from flash, DC/DC (nRF52840 PS "CPU running")
    wake_time_s=2e-3,  # ASSUMPTION: 2 ms of CPU work per wake-up (stack processing, crypto)
)
"""nRF52840 application MCU profile."""

ALKALINE_2AA: Battery = Battery(
    name="2xAA",
    # ASSUMPTION: 2500 mAh usable, a derating of the ~3000 mAh of the Energizer E91 datasheet
    # (25 mA to 0.8 V) for a higher cut-off (~1.0 V/cell) and pulsed radio loads.
    capacity_mah=2500.0,
    voltage_v=3.0,  # two 1.5 V alkaline cells in series
    # ASSUMPTION: 2 %/year, the typical alkaline shelf loss at 21 C (Linden & Reddy, "Handbook
    # of Batteries", 4th ed., ch. 11: 2-3 %/year; Energizer quotes 10-year storage).
    self_discharge_per_year=0.02,
)
"""Two AA alkaline cells in series."""

CR2032: Battery = Battery(
    name="CR2032",
    capacity_mah=225.0,
    voltage_v=3.0,
    self_discharge_per_year=0.01,  # Energizer CR2032 datasheet: ~1 %/year at 21 C
)
"""Lithium coin cell CR2032 (IEC 60086 typical 225 mAh, 3.0 V; Energizer datasheet 235 mAh)."""

LI_SOCL2_AA: Battery = Battery(
    name="Li-SOCl2-AA",
    capacity_mah=2600.0,
    voltage_v=3.6,
    self_discharge_per_year=0.01,  # Saft LS14500 datasheet: < 1 %/year at +20 C (upper bound)
)
"""Saft LS14500 lithium-thionyl chloride AA cell (3.6 V, 2.6 Ah nominal)."""

RADIO_PROFILES: Mapping[str, RadioEnergyProfile] = MappingProxyType(
    {"nrf52840": NRF52840, "sx1262": SX1262}
)
"""Read-only registry of radio energy profiles."""

BATTERIES: Mapping[str, Battery] = MappingProxyType(
    {"2xAA": ALKALINE_2AA, "CR2032": CR2032, "Li-SOCl2-AA": LI_SOCL2_AA}
)
"""Read-only registry of batteries."""
