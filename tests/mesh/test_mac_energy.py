"""MAC behaviour and energy accounting against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

import experiments
from mesh.ledger import RX, SLEEP, TX
from mesh.records import FATE_NAMES
from radios.energy import BATTERIES, NRF52840_MCU, SX1262
from radios.lora import time_on_air

ONE_ENDPOINT = """
[scenario]
duration_s = 3600
seed = 2
[topology]
kind = "random"
width_m = 100
height_m = 100
bridges = 1
endpoints = 1
[propagation]
model = "disk"
range_m = {range_m}
[endpoint]
link = "lora"
traffic = "periodic"
interval_s = 60
payload_bytes = {payload}
oversize = "{oversize}"
tx_power_dbm = 14
battery = "2xAA"
acked = {acked}
max_retries = 2
lora = {{ sf = 9, channels = 1 }}
lora_link = {{ rx_windows = {rx_windows} }}
"""


def run_one(tmp_path, range_m=1000, payload=19, oversize="reject", acked="false", rx_windows=0):
    path = tmp_path / "one.toml"
    path.write_text(
        ONE_ENDPOINT.format(
            range_m=range_m, payload=payload, oversize=oversize, acked=acked, rx_windows=rx_windows
        )
    )
    return experiments.run(experiments.load_spec(path))


def test_energy_of_a_periodic_lora_endpoint_matches_hand_computation(tmp_path) -> None:
    result = run_one(tmp_path, rx_windows=5)
    sim, summary = result.sim, result.summary
    node = int(sim.endpoint_ids[0])
    frames = summary["packets"]["transmissions"]
    assert frames == summary["packets"]["generated"] == 60  # one per minute for an hour
    toa = time_on_air(19, 9)
    horizon = sim.horizon_s
    durations = sim.state_durations_s[node]
    # after each uplink (ending at e) 5 receive windows of 8 symbols open at e + 5 s .. e + 25 s
    ends = sim.records.generated_s + toa
    windows = sum(int(np.sum(e + 5.0 * np.arange(1, 6) < horizon)) for e in ends)
    assert windows == 5 * frames  # the last uplink is over 25 s before the end of the hour
    window_s = 8 * 2**9 / 125_000
    listen_s = windows * window_s
    assert durations[TX] == pytest.approx(frames * toa, abs=1e-9)
    assert durations[RX] == pytest.approx(listen_s, abs=1e-9)
    assert durations[SLEEP] == pytest.approx(horizon - frames * toa - listen_s, abs=1e-9)
    charge = (
        frames * toa * SX1262.tx_current_at(14)
        + listen_s * SX1262.rx_current_a
        + (horizon - frames * toa - listen_s) * SX1262.sleep_current_a
        + horizon * NRF52840_MCU.sleep_current_a
        + (frames + windows) * NRF52840_MCU.active_current_a * NRF52840_MCU.wake_time_s
    )
    battery = BATTERIES["2xAA"]
    assert summary["energy"]["per_endpoint_mean_j"] == pytest.approx(
        charge * battery.voltage_v, rel=1e-9
    )
    leakage_a = battery.capacity_mah * 3.6 * battery.self_discharge_per_year / (365.25 * 86400)
    assert leakage_a > 0
    life_days = battery.capacity_mah * 3.6 / (charge / horizon + leakage_a) / 86400
    assert summary["energy"]["battery_life_days"] == pytest.approx(life_days, rel=1e-9)
    assert summary["pdr"] == 1.0


def test_acked_uplinks_on_a_perfect_link_need_one_frame_and_one_ack(tmp_path) -> None:
    result = run_one(tmp_path, acked="true", rx_windows=0)
    sim, packets = result.sim, result.summary["packets"]
    node = int(sim.endpoint_ids[0])
    assert packets["transmissions"] == packets["generated"] == packets["ack_frames"]
    ack_airtime = time_on_air(1, 9)
    assert sim.state_durations_s[node, RX] == pytest.approx(60 * ack_airtime, abs=1e-9)
    bridge = int(sim.topology.bridge_ids[0])
    assert sim.state_durations_s[bridge, TX] == pytest.approx(60 * ack_airtime, abs=1e-9)


def test_unacked_out_of_range_endpoint_retries_then_drops(tmp_path) -> None:
    result = run_one(tmp_path, range_m=0.001, acked="true")  # nobody hears anybody
    sim, packets = result.sim, result.summary["packets"]
    node = int(sim.endpoint_ids[0])
    assert packets["delivered"] == 0
    assert packets["dropped"]["below_sensitivity"] == 60
    assert packets["transmissions"] == 60 * 3  # 1 + max_retries
    assert packets["ack_frames"] == 0
    window = sim.config.endpoint_classes[0].ack_window_s
    assert sim.state_durations_s[node, RX] == pytest.approx(180 * window, abs=1e-9)


def test_payload_over_mtu_is_rejected_with_its_reason(tmp_path) -> None:
    result = run_one(tmp_path, payload=20)
    packets = result.summary["packets"]
    assert packets["dropped"]["over_mtu"] == packets["generated"] == 60
    assert packets["transmissions"] == 0


def test_payload_over_mtu_is_fragmented_when_asked(tmp_path) -> None:
    result = run_one(tmp_path, payload=50, oversize="fragment")
    sim, packets = result.sim, result.summary["packets"]
    assert packets["transmissions"] == 3 * 60  # 19 + 19 + 12 bytes
    assert packets["delivered"] == 60
    node = int(sim.endpoint_ids[0])
    expected_tx = 60 * (2 * time_on_air(19, 9) + time_on_air(12, 9))
    assert sim.state_durations_s[node, TX] == pytest.approx(expected_tx, abs=1e-9)
    latency = sim.records.delivered_s - sim.records.generated_s
    assert np.all(latency >= expected_tx / 60)  # the last fragment ends after all three frames


def test_retries_and_lbt_beat_plain_aloha(repo) -> None:
    """One channel, capture off. Light load (G ~ 0.064): ACK + retries recover most collisions.
    Moderate load (G ~ 0.26): listen-before-talk (everyone hears everyone under the disk model)
    avoids nearly all of them, while ACKs on the same single channel already make things worse
    (ACK frames collide, and a bridge sending an ACK is deaf: the known downlink bottleneck)."""
    base = repo / "experiments" / "pure-aloha.toml"

    def pdr(interval_s: float, **extra: object) -> dict:
        overrides = {
            "endpoint.interval_s": interval_s,
            **{f"endpoint.{k}": v for k, v in extra.items()},
        }
        return experiments.run(experiments.load_spec(base, overrides, duration="900s")).summary

    light_plain, light_acked = pdr(80.0), pdr(80.0, acked=True, max_retries=3)
    assert light_acked["packets"]["transmissions"] > light_acked["packets"]["generated"]
    assert light_acked["pdr"] > light_plain["pdr"] + 0.05
    assert light_acked["pdr"] > 0.95
    moderate_plain, moderate_lbt = pdr(20.0), pdr(20.0, lbt=True)
    moderate_acked = pdr(20.0, acked=True, max_retries=3)
    assert moderate_lbt["pdr"] > 0.98 > moderate_plain["pdr"] + 0.3
    assert moderate_acked["pdr"] < moderate_plain["pdr"]


def test_frames_on_a_link_no_bridge_listens_on_are_not_listening(tmp_path) -> None:
    path = tmp_path / "one.toml"
    path.write_text(
        ONE_ENDPOINT.format(
            range_m=1000, payload=19, oversize="reject", acked="false", rx_windows=0
        )
        + '[bridge]\nlinks = ["ble"]\n'
    )
    packets = experiments.run(experiments.load_spec(path)).summary["packets"]
    assert packets["dropped"]["not_listening"] == packets["generated"] == 60


def test_no_ack_for_a_packet_the_server_never_got(tmp_path) -> None:
    """With the only bridge's backhaul often down, a decoded frame that cannot be forwarded is not
    acknowledged: the endpoint retries it (1 + max_retries frames) before giving up."""
    path = tmp_path / "down.toml"
    path.write_text(
        ONE_ENDPOINT.format(range_m=1000, payload=19, oversize="reject", acked="true", rx_windows=0)
        + "[bridge]\nbackhaul_availability = 0.3\nbackhaul_outage_mean_s = 3600\n"
    )
    result = experiments.run(experiments.load_spec(path, duration="10h"))
    records = result.sim.records
    lost = records.fate == FATE_NAMES.index("backhaul_down")
    assert lost.sum() > 50
    assert np.all(records.transmissions[lost] == 3)
    assert result.summary["packets"]["ack_frames"] == result.summary["packets"]["delivered"]


@pytest.mark.parametrize(
    ("acked", "lbt", "wakes_per_packet"), [("true", False, 2), ("false", True, 1)]
)
def test_one_mcu_wake_per_frame_and_per_ack_window(tmp_path, acked, lbt, wakes_per_packet) -> None:
    path = tmp_path / "wakes.toml"
    text = ONE_ENDPOINT.format(
        range_m=1000, payload=19, oversize="reject", acked=acked, rx_windows=0
    )
    path.write_text(text.replace("[endpoint]", f"[endpoint]\nlbt = {str(lbt).lower()}"))
    sim = experiments.run(experiments.load_spec(path)).sim
    node = int(sim.endpoint_ids[0])
    mcu = NRF52840_MCU
    wakes = (sim.charge_c[node, 4] - mcu.sleep_current_a * sim.horizon_s) / (
        mcu.active_current_a * mcu.wake_time_s
    )
    assert wakes == pytest.approx(60 * wakes_per_packet, abs=1e-6)
