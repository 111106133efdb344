"""Tests for radios.energy: closed-form energy arithmetic, lookups and errors."""

from __future__ import annotations

import dataclasses
import math

import pytest

from radios import energy


def test_battery_capacity_and_life_closed_form() -> None:
    # 2500 mAh * 3.6 J/(mAh V) * 3.0 V = 27 000 J; at 1 mW -> 27e6 s = 312.5 days.
    b = energy.ALKALINE_2AA
    assert b.capacity_j == pytest.approx(27_000.0)
    assert b.life_days(1e-3) == pytest.approx(27_000.0 / 1e-3 / 86_400.0)
    assert b.life_days(1e-3) == pytest.approx(312.5)
    assert energy.CR2032.capacity_j == pytest.approx(225 * 3.6 * 3.0)
    assert energy.LI_SOCL2_AA.capacity_j == pytest.approx(2600 * 3.6 * 3.6)
    assert b.life_days(0.0) == math.inf
    with pytest.raises(ValueError, match="mean_power_w"):
        b.life_days(-1.0)


def test_battery_registry() -> None:
    assert set(energy.BATTERIES) == {"2xAA", "CR2032", "Li-SOCl2-AA"}
    assert energy.BATTERIES["CR2032"] is energy.CR2032
    assert (energy.CR2032.capacity_mah, energy.CR2032.voltage_v) == (225.0, 3.0)
    assert (energy.LI_SOCL2_AA.capacity_mah, energy.LI_SOCL2_AA.voltage_v) == (2600.0, 3.6)
    with pytest.raises(TypeError):
        energy.BATTERIES["x"] = energy.CR2032  # type: ignore[index]
    with pytest.raises(ValueError, match="capacity_mah"):
        energy.Battery("bad", 0.0, 3.0)


def test_tx_current_lookup_rounds_up() -> None:
    sx = energy.SX1262
    assert sx.max_tx_power_dbm == 22.0
    assert sx.tx_current_at(14) == pytest.approx(45e-3)
    assert sx.tx_current_at(0) == pytest.approx(45e-3)  # below the first level -> first level
    assert sx.tx_current_at(14.5) == pytest.approx(118e-3)  # next level up
    assert sx.tx_current_at(22) == pytest.approx(118e-3)
    with pytest.raises(ValueError, match="exceeds"):
        sx.tx_current_at(22.1)
    nrf = energy.NRF52840
    assert nrf.max_tx_power_dbm == 8.0
    assert nrf.tx_current_at(0) == pytest.approx(6.40e-3)
    assert nrf.tx_current_at(4) == pytest.approx(16.40e-3)
    with pytest.raises(ValueError):
        nrf.tx_current_at(math.nan)


def test_radio_energy_closed_form() -> None:
    # SX1262 at +22 dBm for 56.576 ms at 3.3 V: 0.118 A * 3.3 V * 0.056576 s.
    assert energy.SX1262.tx_energy_j(22, 0.056576) == pytest.approx(0.118 * 3.3 * 0.056576)
    assert energy.NRF52840.rx_energy_j(1e-3) == pytest.approx(6.26e-3 * 3.0 * 1e-3)
    with pytest.raises(ValueError):
        energy.SX1262.rx_energy_j(-1.0)


def test_profile_values_and_registry() -> None:
    assert set(energy.RADIO_PROFILES) == {"nrf52840", "sx1262"}
    assert energy.RADIO_PROFILES["sx1262"] is energy.SX1262
    sx = energy.SX1262
    assert (sx.rx_current_a, sx.idle_current_a, sx.sleep_current_a) == (4.6e-3, 0.6e-3, 0.6e-6)
    assert energy.SX1262_SLEEP_COLD_CURRENT_A == pytest.approx(0.16e-6)
    # the nRF52840's System ON sleep (1.5 uA) is charged once, as the MCU's, not as the radio's
    assert energy.NRF52840.sleep_current_a == 0.0
    assert energy.NRF52840_MCU.sleep_current_a == pytest.approx(1.5e-6)
    with pytest.raises(TypeError):
        energy.RADIO_PROFILES["x"] = sx  # type: ignore[index]


def test_mcu_wake_energy() -> None:
    mcu = energy.NRF52840_MCU
    assert mcu.wake_energy_j(3.0) == pytest.approx(3.3e-3 * 2e-3 * 3.0)
    with pytest.raises(ValueError):
        mcu.wake_energy_j(0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tx_levels_dbm": (), "tx_current_a": ()}, "at least one"),
        ({"tx_levels_dbm": (0.0, 4.0), "tx_current_a": (1e-3,)}, "same length"),
        ({"tx_levels_dbm": (4.0, 0.0), "tx_current_a": (1e-3, 2e-3)}, "increasing"),
        ({"tx_levels_dbm": (0.0,), "tx_current_a": (-1e-3,)}, "tx_current_a"),
        ({"voltage_v": 0.0}, "voltage_v"),
        ({"rx_current_a": -1.0}, "rx_current_a"),
    ],
)
def test_radio_profile_validation(kwargs: dict[str, object], match: str) -> None:
    base: dict[str, object] = {
        "name": "x",
        "voltage_v": 3.0,
        "tx_levels_dbm": (0.0,),
        "tx_current_a": (5e-3,),
        "rx_current_a": 5e-3,
        "idle_current_a": 1e-3,
        "sleep_current_a": 1e-6,
    }
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        energy.RadioEnergyProfile(**base)  # type: ignore[arg-type]


def test_frozen_and_metadata() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        energy.SX1262.rx_current_a = 0.0  # type: ignore[misc]
    for cls in (energy.RadioEnergyProfile, energy.McuProfile, energy.Battery):
        for f in dataclasses.fields(cls):
            assert f.metadata["doc"] and isinstance(f.metadata["unit"], str)


def test_battery_life_with_self_discharge_closed_form() -> None:
    b = energy.LI_SOCL2_AA
    capacity_c = 2600 * 3.6
    leakage = capacity_c * 0.01 / (365.25 * 86400)
    assert b.leakage_current_a == pytest.approx(leakage)
    # 10 uA load: 9360 C / (10e-6 + 0.297e-6) A
    assert b.life_days_at_current(10e-6) == pytest.approx(capacity_c / (10e-6 + leakage) / 86400)
    # with no load the cell still empties by self-discharge in 1 / rate years
    assert b.life_days_at_current(0.0) == pytest.approx(100 * 365.25)
    with pytest.raises(ValueError):
        energy.Battery("x", 100.0, 3.0, self_discharge_per_year=1.0)
