"""Configuration validation that the engine relies on."""

from __future__ import annotations

import pytest

from mesh.config import MAX_FRAGMENTS, ConfigError, EndpointConfig


def test_radio_must_match_the_link() -> None:
    with pytest.raises(ConfigError, match="sx1262 cannot send on link ble"):
        EndpointConfig(link="ble", radio="sx1262", tx_power_dbm=0)
    assert EndpointConfig(link="lora", radio="sx1262").radio_name == "sx1262"
    assert EndpointConfig(link="ble", tx_power_dbm=0).radio_name == "nrf52840"


def test_tx_power_above_the_chip_maximum_is_refused() -> None:
    with pytest.raises(ConfigError, match="above the nrf52840 maximum of 8 dBm"):
        EndpointConfig(link="ble", tx_power_dbm=10)


def test_fragment_count_is_bounded() -> None:
    ok = EndpointConfig(link="lora", payload_bytes=19 * MAX_FRAGMENTS, oversize="fragment")
    assert ok.fragments == MAX_FRAGMENTS
    with pytest.raises(ConfigError, match="fragments"):
        EndpointConfig(link="lora", payload_bytes=19 * MAX_FRAGMENTS + 1, oversize="fragment")
    # rejected payloads are never split, whatever their size
    assert EndpointConfig(link="lora", payload_bytes=65535).fragments == 1


def test_ble_has_no_acks_or_lbt() -> None:
    for key in ("acked", "lbt"):
        with pytest.raises(ConfigError, match="BLE advertising has neither"):
            EndpointConfig(link="ble", tx_power_dbm=0, **{key: True})


def test_area_link_must_be_a_link_in_use() -> None:
    from mesh.config import MetricsConfig, SimConfig

    with pytest.raises(ConfigError, match="'ble' is not the link of any endpoint class"):
        SimConfig(metrics=MetricsConfig(area_link="ble"))
    assert SimConfig(metrics=MetricsConfig(area_link="lora")).metrics.area_link == "lora"
