"""Link masks: per-packet link choice, its record, and energy charged to the right chip."""

from __future__ import annotations

import numpy as np
import pytest

import experiments
from experiments.spec import SpecError
from mesh.config import LINKS, EndpointConfig
from mesh.ledger import RX, SECOND_CHIP, TX
from mesh.links import class_phy, packet_energy_j
from radios.energy import NRF52840, SX1262
from radios.lora import time_on_air

SPEC = """
[scenario]
duration_s = 3600
seed = 4
[topology]
kind = "csv"
path = "nodes.csv"
width_m = 3000
height_m = 100
[propagation]
model = "log_distance"
exponent = 3.0
shadowing_sigma_db = 0.0
wall_loss_db = 0.0
[endpoint]
link = "lora"
link_mask = {mask}
{policy}
traffic = "periodic"
interval_s = 120
payload_bytes = 19
tx_power_dbm = 14
lora = {{ sf = 7 }}
lora_link = {{ rx_windows = 0 }}
[bridge]
links = {bridge_links}
"""


def run(tmp_path, *, x_m, mask='["ble", "lora"]', policy="", bridge_links='["ble", "fsk", "lora"]'):
    (tmp_path / "nodes.csv").write_text(f"x_m,y_m,role\n0,0,bridge\n{x_m},0,endpoint\n")
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(mask=mask, policy=policy, bridge_links=bridge_links))
    return experiments.run(experiments.load_spec(path))


def links_used(result) -> set[str]:
    return {LINKS[k] for k in result.sim.records.link.tolist()}


def test_energy_ranking_puts_ble_first_then_fsk_then_lora() -> None:
    cfg = EndpointConfig(link="lora", link_mask=("ble", "fsk", "lora"), lora=_sf(7))
    energy = {
        link: packet_energy_j(class_phy(cfg, link=link), NRF52840 if link == "ble" else SX1262, 3.0)
        for link in cfg.links
    }
    assert energy["ble"] < energy["fsk"] < energy["lora"]


def _sf(sf: int):
    from radios.lora import LoraParams

    return LoraParams(sf=sf)


def test_near_a_bridge_every_packet_goes_on_ble(tmp_path) -> None:
    result = run(tmp_path, x_m=10)
    assert links_used(result) == {"ble"}
    by_class = next(iter(result.summary["by_class"].values()))
    assert by_class["packets_by_link"] == {"ble": 30, "fsk": 0, "lora": 0}
    assert by_class["link"] == "ble+lora"
    assert result.summary["pdr"] == 1.0


def test_out_of_ble_range_it_falls_back_to_lora(tmp_path) -> None:
    result = run(tmp_path, x_m=1500)
    assert links_used(result) == {"lora"}
    assert result.summary["pdr"] == 1.0
    assert result.summary["by_link"]["lora"]["generated"] == 30


def test_ordered_policy_keeps_the_mask_order(tmp_path) -> None:
    result = run(tmp_path, x_m=10, mask='["lora", "ble"]', policy='link_policy = "ordered"')
    assert links_used(result) == {"lora"}


def test_fsk_is_used_only_in_beacon_sync(tmp_path) -> None:
    """FSK costs less than LoRa; without FSK bridges there are no beacons, so no sync."""
    with_beacons = run(tmp_path, x_m=1500, mask='["fsk", "lora"]')
    assert links_used(with_beacons) == {"fsk"}
    without = run(tmp_path, x_m=1500, mask='["fsk", "lora"]', bridge_links='["lora"]')
    assert links_used(without) == {"lora"}
    assert without.summary["pdr"] == 1.0


def test_each_chip_is_charged_at_its_own_current(tmp_path) -> None:
    """A LoRa-primary endpoint sending on BLE: its BLE airtime sits in the second chip's TX
    state and is charged at the nRF52840's current, nothing on the SX1262's TX."""
    result = run(tmp_path, x_m=10)
    sim = result.sim
    node = int(sim.endpoint_ids[0])
    chips = sim.chip_durations_s[node]
    assert chips[TX] == 0.0 and chips[RX] == 0.0
    ble_tx_s = chips[TX + SECOND_CHIP]
    assert ble_tx_s > 0
    # tx power on BLE: 14 dBm capped at the nRF52840's maximum
    expected = ble_tx_s * NRF52840.tx_current_at(min(14.0, NRF52840.max_tx_power_dbm))
    assert sim.charge_c[node, 3] == pytest.approx(expected, rel=1e-12)
    assert sim.state_durations_s[node, TX] == pytest.approx(ble_tx_s)
    assert np.isclose(sim.state_durations_s[node].sum(), sim.horizon_s)


def test_lora_fallback_charges_the_sx1262(tmp_path) -> None:
    result = run(tmp_path, x_m=1500)
    sim = result.sim
    node = int(sim.endpoint_ids[0])
    frames = int(sim.records.transmissions.sum())
    tx_s = frames * time_on_air(19, 7)
    assert sim.chip_durations_s[node, TX] == pytest.approx(tx_s, abs=1e-9)
    assert sim.charge_c[node, 3] == pytest.approx(tx_s * SX1262.tx_current_at(14), rel=1e-12)
    # each chip sleeps whenever it is not active (the nRF52840 radio's sleep is the MCU's)
    active_sx = sim.chip_durations_s[node, 1:4].sum()
    active_nrf = sim.chip_durations_s[node, 4:7].sum()
    expected = (sim.horizon_s - active_sx) * SX1262.sleep_current_a + (
        sim.horizon_s - active_nrf
    ) * NRF52840.sleep_current_a
    assert sim.charge_c[node, 0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("mask", "key"),
    [
        ('["ble", "wifi"]', "link_mask"),
        ('["lora", "lora"]', "link_mask"),
        ('["ble", "fsk"]', "link_mask"),  # the primary link (lora) is missing
    ],
)
def test_bad_masks_are_clear_errors(tmp_path, mask, key) -> None:
    (tmp_path / "nodes.csv").write_text("x_m,y_m,role\n0,0,bridge\n10,0,endpoint\n")
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(mask=mask, policy="", bridge_links='["lora"]'))
    with pytest.raises(SpecError) as err:
        experiments.load_spec(path)
    assert key in str(err.value)


def test_bad_policy_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "nodes.csv").write_text("x_m,y_m,role\n0,0,bridge\n10,0,endpoint\n")
    path = tmp_path / "spec.toml"
    path.write_text(
        SPEC.format(mask='["ble", "lora"]', policy='link_policy = "fastest"', bridge_links="[]")
    )
    with pytest.raises(SpecError) as err:
        experiments.load_spec(path)
    assert "link_policy" in str(err.value)
