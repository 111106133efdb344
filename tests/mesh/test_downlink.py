"""Sidewalk link timing and downlinks against numbers that follow from their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import experiments
from experiments.spec import SpecError
from mesh.downlink import DL_DELIVERED, DL_LOST, DL_UNFINISHED
from mesh.ledger import RX, SLEEP, TX
from mesh.records import FATE_NAMES
from radios.fsk import FskParams

NODES_CSV = "x_m,y_m,role\n{rows}"

SPEC = """
[scenario]
duration_s = {duration}
seed = {seed}
[topology]
kind = "csv"
path = "nodes.csv"
width_m = 6000
height_m = 100
[propagation]
model = "log_distance"
exponent = 3.0
shadowing_sigma_db = 0.0
wall_loss_db = 0.0
[endpoint]
link = "{link}"
traffic = "periodic"
interval_s = {interval}
payload_bytes = 19
tx_power_dbm = {power}
{extra}
[bridge]
links = ["fsk", "lora"]
backhaul_latency_median_s = {backhaul}
{bridge_extra}
"""


def run(
    tmp_path,
    *,
    link="fsk",
    rows="0,0,bridge\n50,0,endpoint\n",
    duration=3600,
    seed=1,
    interval=600,
    extra="",
    backhaul=0.0,
    bridge_extra="",
):
    (tmp_path / "nodes.csv").write_text(NODES_CSV.format(rows=rows))
    path = tmp_path / "spec.toml"
    path.write_text(
        SPEC.format(
            duration=duration,
            seed=seed,
            link=link,
            interval=interval,
            extra=extra,
            backhaul=backhaul,
            bridge_extra=bridge_extra,
            power=4 if link == "ble" else 14,
        )
    )
    return experiments.run(experiments.load_spec(path))


def test_fsk_downlink_arrives_within_one_window_period_plus_backhaul(tmp_path) -> None:
    """A perfect FSK link (no beacon misses): every downlink is decoded in the endpoint's next
    window, so its latency is at most one window period (3.15 s) plus the backhaul and airtime."""
    result = run(
        tmp_path,
        extra="fsk_link = { beacon_miss_probability = 0.0 }\n"
        "downlink = { interval_s = 120, payload_bytes = 10 }",
        backhaul=0.05,
    )
    dl = result.sim.downlinks
    assert len(dl) > 10
    decided = dl.fate != DL_UNFINISHED
    assert np.all(dl.fate[decided] == DL_DELIVERED)
    assert np.all(dl.transmissions[decided] == 1)
    latency = dl.delivered_s[decided] - dl.generated_s[decided]
    airtime_s = FskParams().airtime_s(10)
    # backhaul: log-normal, median 50 ms, sigma 0.5 -> under 0.05 * e^(0.5 * 6) s with certainty
    assert latency.max() <= 3.15 + airtime_s + 0.05 * math.exp(3.0)
    assert latency.min() >= airtime_s
    # windows sit on the endpoint's slot of the 63 ms grid, 3.15 s apart
    offset = (dl.delivered_s[decided] - airtime_s) % 3.15
    assert np.ptp(offset) == pytest.approx(0.0, abs=1e-6)
    assert offset[0] / 0.063 == pytest.approx(round(offset[0] / 0.063), abs=1e-6)
    summary = result.summary["downlinks"]
    assert summary["delivery_ratio"] == 1.0
    assert summary["frames"] == int(dl.transmissions.sum())


def test_fsk_latency_without_backhaul_is_uniform_over_the_window_period(tmp_path) -> None:
    """With zero backhaul latency and Poisson downlinks, the wait for the next window is uniform
    on [0, 3.15 s): its mean is 1.575 s (plus the frame's airtime). Only downlinks that found a
    route (after the first uplink) and no earlier downlink still queued are counted."""
    result = run(
        tmp_path,
        duration=12 * 3600,
        interval=60,
        extra="fsk_link = { beacon_miss_probability = 0.0 }\ndownlink = { interval_s = 60 }",
    )
    dl = result.sim.downlinks
    first_uplink = result.sim.records.generated_s.min() + 0.1
    previous_done = np.concatenate([[0.0], dl.delivered_s[:-1]])
    ok = (dl.fate == DL_DELIVERED) & (dl.generated_s > first_uplink)
    ok &= dl.generated_s > previous_done
    assert ok.sum() > 500
    wait = dl.delivered_s[ok] - dl.generated_s[ok] - FskParams().airtime_s(10)
    assert wait.max() < 3.15
    assert wait.mean() == pytest.approx(1.575, abs=4 * 3.15 / math.sqrt(12 * ok.sum()))


def test_lora_downlink_never_later_than_25_s_after_the_last_uplink(tmp_path) -> None:
    """5 windows 5 s apart: a downlink is delivered in one of them, never more than 25 s (plus its
    airtime) after the end of the endpoint's last uplink."""
    result = run(
        tmp_path,
        link="lora",
        interval=300,
        duration=4 * 3600,
        extra="lora = { sf = 8 }\nlora_link = { rx_windows = 5 }\ndownlink = { interval_s = 200 }",
        backhaul=0.05,
    )
    sim = result.sim
    dl = sim.downlinks
    ok = dl.fate == DL_DELIVERED
    assert ok.sum() > 20
    uplink_end = np.sort(sim.records.generated_s) + 0.0  # no LBT, no ACK: frames start at once
    from radios.lora import time_on_air

    uplink_end = uplink_end + time_on_air(19, 8)
    downlink_airtime = time_on_air(10, 8)
    for delivered_s in dl.delivered_s[ok]:
        start = delivered_s - downlink_airtime
        last_uplink = uplink_end[np.searchsorted(uplink_end, start) - 1]
        since = start - last_uplink
        assert 5.0 - 1e-6 <= since <= 25.0 + 1e-6
        assert since / 5.0 == pytest.approx(round(since / 5.0), abs=1e-6)


def test_lora_downlink_waits_for_the_next_uplink(tmp_path) -> None:
    """Downlinks are sent between uplinks (600 s apart) and windows close 25 s after an uplink, so
    most wait for the next uplink: their mean latency is far above 25 s."""
    result = run(
        tmp_path,
        link="lora",
        interval=600,
        duration=6 * 3600,
        extra="lora_link = { rx_windows = 5 }\ndownlink = { interval_s = 900 }",
    )
    lat = result.summary["downlinks"]["latency_s"]
    assert lat["mean"] > 100


def test_lost_downlinks_are_tried_retries_plus_one_times(tmp_path) -> None:
    """A bridge too weak to reach the endpoint (its uplinks still get through): every downlink is
    lost after 1 + retries tries."""
    result = run(
        tmp_path,
        link="lora",
        extra="lora_link = { rx_windows = 20 }\ndownlink = { interval_s = 600, retries = 2 }",
        bridge_extra="lora_tx_power_dbm = -30",
        rows="0,0,bridge\n400,0,endpoint\n",
        duration=6 * 3600,
    )
    assert result.summary["pdr"] == 1.0
    dl = result.sim.downlinks
    decided = dl.fate != DL_UNFINISHED
    assert decided.sum() > 0
    assert np.all(dl.fate[decided] == DL_LOST)
    assert np.all(dl.transmissions[decided] == 3)
    assert result.summary["downlinks"]["delivery_ratio"] == 0.0


def test_best_rssi_routes_through_the_strongest_bridge(tmp_path) -> None:
    result = run(
        tmp_path,
        rows="0,0,bridge\n100,0,bridge\n80,0,endpoint\n",
        extra="fsk_link = { beacon_miss_probability = 0.0 }\ndownlink = { interval_s = 300 }",
    )
    sim = result.sim
    dl = sim.downlinks
    near = int(np.argmin(np.abs(sim.topology.positions_m[sim.topology.bridge_ids, 0] - 80)))
    assert len(dl) > 0
    assert np.all(dl.bridge[dl.fate == DL_DELIVERED] == sim.topology.bridge_ids[near])


def test_first_copy_route_uses_both_bridges(tmp_path) -> None:
    result = run(
        tmp_path,
        rows="0,0,bridge\n100,0,bridge\n50,0,endpoint\n",
        duration=6 * 3600,
        extra="fsk_link = { beacon_miss_probability = 0.0 }\n"
        'downlink = { interval_s = 120, route = "first_copy" }',
    )
    dl = result.sim.downlinks
    used = set(dl.bridge[dl.fate == DL_DELIVERED].tolist())
    assert used == set(result.sim.topology.bridge_ids.tolist())


def test_beacon_listening_energy_matches_hand_computation(tmp_path) -> None:
    """An FSK endpoint that only keeps sync (one uplink in the run, no downlinks): its receiver
    is on for every beacon (airtime of the beacon + 2 guards) and every empty window of its slot,
    and its MCU wakes once for each."""
    result = run(
        tmp_path,
        duration=3600,
        interval=3600,
        extra="fsk_link = { beacon_miss_probability = 0.0, rx_window_s = 0.004, "
        "beacon_guard_s = 0.001 }",
    )
    sim = result.sim
    assert sim.fsk_sync is not None
    node = int(sim.endpoint_ids[0])
    horizon = sim.horizon_s
    beacons = math.ceil(horizon / 10.0)
    listen_s = FskParams().airtime_s(16) + 0.002
    offset = float(sim.fsk_sync.window_offset_s[node])
    assert offset / 0.063 == pytest.approx(round(offset / 0.063), abs=1e-9)
    windows = math.ceil((horizon - offset) / 3.15)
    durations = sim.state_durations_s[node]
    frames = int(sim.records.transmissions.sum())
    tx_s = frames * FskParams().airtime_s(19)
    rx_s = beacons * listen_s + windows * 0.004
    assert durations[TX] == pytest.approx(tx_s, abs=1e-9)
    assert durations[RX] == pytest.approx(rx_s, abs=1e-9)
    assert durations[SLEEP] == pytest.approx(horizon - tx_s - rx_s, abs=1e-6)
    assert durations.sum() == pytest.approx(horizon, abs=1e-6)


def test_sync_loss_costs_energy_and_uplink_latency(tmp_path) -> None:
    """Frequent beacon misses: the endpoint loses sync, listens until it resyncs (more receiver
    time) and holds its uplinks meanwhile (higher latency) compared with a perfect beacon."""
    common = {"duration": 6 * 3600, "interval": 60}
    perfect = run(tmp_path, extra="fsk_link = { beacon_miss_probability = 0.0 }", **common)
    lossy = run(
        tmp_path,
        extra="fsk_link = { beacon_miss_probability = 0.6, sync_loss_beacons = 2 }",
        **common,
    )
    node = int(perfect.sim.endpoint_ids[0])
    assert lossy.sim.state_durations_s[node, RX] > 10 * perfect.sim.state_durations_s[node, RX]
    assert lossy.summary["latency_s"]["p95"] > 10 * perfect.summary["latency_s"]["p95"]
    assert lossy.summary["pdr"] == perfect.summary["pdr"] == 1.0


def test_fsk_endpoint_out_of_beacon_range_never_sends(tmp_path) -> None:
    result = run(tmp_path, rows="0,0,bridge\n5000,0,endpoint\n", interval=600)
    dropped = result.summary["packets"]["dropped"]
    assert dropped["no_sync"] == result.summary["packets"]["generated"] > 0
    assert result.summary["packets"]["transmissions"] == 0
    sim = result.sim
    node = int(sim.endpoint_ids[0])
    # it scans one beacon period (plus a beacon listen) every 300 s
    scans = sim.state_durations_s[node, RX] / (10.0 + FskParams().airtime_s(16) + 0.004)
    assert scans == pytest.approx(round(scans), abs=1e-6)
    assert round(scans) in (math.floor(sim.horizon_s / 300), math.ceil(sim.horizon_s / 300))
    assert "no_sync" in FATE_NAMES


@pytest.mark.parametrize(
    ("link", "extra", "key"),
    [
        ("ble", "downlink = { interval_s = 60, payload_bytes = 250 }", "downlink.payload_bytes"),
        ("lora", "lora_link = { rx_windows = 7 }", "rx_windows"),
        ("lora", "lora_link = { rx_windows = 0 }\ndownlink = { interval_s = 60 }", "rx_windows"),
        ("fsk", "fsk_link = { rx_window_interval_s = 3.1 }", "rx_window_interval_s"),
        ("fsk", 'downlink = { interval_s = 60, route = "nearest" }', "route"),
        ("fsk", "downlink = { interval_s = 60, retries = 256 }", "retries"),
        ("fsk", "fsk_link = { beacon_miss_probability = 1.0 }", "beacon_miss_probability"),
        ("fsk", "downlink = { interval_s = 60, payload_bytes = 250 }", "payload_bytes"),
    ],
)
def test_bad_link_timing_is_a_clear_error(tmp_path, link, extra, key) -> None:
    (tmp_path / "nodes.csv").write_text(NODES_CSV.format(rows="0,0,bridge\n50,0,endpoint\n"))
    path = tmp_path / "spec.toml"
    text = SPEC.format(
        duration=60,
        seed=1,
        link=link,
        interval=60,
        extra=extra,
        backhaul=0,
        bridge_extra="",
        power=4 if link == "ble" else 14,
    )
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        experiments.load_spec(path)
    assert key in str(err.value)


def test_lora_periodic_listen_delivers_within_one_period(tmp_path) -> None:
    """Periodic-listen mode (a window every 10 s, keep-alives every 120 s): downlinks no longer
    wait for the next uplink (600 s apart) but for the next window, and keep-alives keep the
    bridge from forgetting the endpoint between uplinks."""
    common = {
        "link": "lora",
        "interval": 600,
        "duration": 4 * 3600,
        "backhaul": 0.0,
    }
    periodic = run(
        tmp_path,
        extra="lora_link = { rx_windows = 5, periodic_listen_s = 10 }\n"
        "downlink = { interval_s = 300 }",
        **common,
    )
    plain = run(
        tmp_path,
        extra="lora_link = { rx_windows = 5 }\ndownlink = { interval_s = 300 }",
        **common,
    )
    dl = periodic.sim.downlinks
    first_uplink = periodic.sim.records.generated_s.min() + 1.0
    previous_done = np.concatenate([[0.0], dl.delivered_s[:-1]])
    ok = (dl.fate == DL_DELIVERED) & (dl.generated_s > first_uplink)
    ok &= dl.generated_s > previous_done
    assert ok.sum() > 20
    from radios.lora import time_on_air

    wait = dl.delivered_s[ok] - dl.generated_s[ok] - time_on_air(10, 8)
    # the next window (uniform wait on [0, 10 s)), or the one after when the endpoint was on
    # air (its uplink or a keep-alive) at that moment
    assert wait.max() <= 20.0 + 1e-6
    assert wait.mean() == pytest.approx(5.0, abs=2.5)
    assert plain.summary["downlinks"]["latency_s"]["mean"] > 10 * wait.mean()
    # a keep-alive after every 120 s without a LoRa frame: ~600 / 120 - 1 per uplink period
    keepalives = periodic.sim.keepalive_frames
    assert 4 * 4 * 3600 / 600 * 0.8 <= keepalives <= 4 * 4 * 3600 / 600
    assert plain.sim.keepalive_frames == 0
    node = int(periodic.sim.endpoint_ids[0])
    assert periodic.sim.state_durations_s[node, RX] > 5 * plain.sim.state_durations_s[node, RX]


def test_one_radio_one_thing_at_a_time(tmp_path) -> None:
    """Uplinks, downlink windows and downlink ACKs of one endpoint never overlap (SF12 frames of
    1.3 s every 10 s, a window every 2 s, a downlink every 5 s: without the radio lock one
    window in eight would fall on an uplink): its transmit time is exactly the sum of the
    airtimes of every frame it sent."""
    from radios.lora import time_on_air

    result = run(
        tmp_path,
        link="lora",
        interval=10,
        duration=3600,
        extra="lora = { sf = 12 }\nlora_link = { rx_windows = 5, periodic_listen_s = 2 }\n"
        "downlink = { interval_s = 5 }",
        backhaul=0.0,
    )
    sim = result.sim
    node = int(sim.endpoint_ids[0])
    uplinks = int(sim.records.transmissions.sum())
    acks = int(sim.downlinks.transmissions.sum())  # perfect link: every try decoded, acked
    expected = (
        uplinks * time_on_air(19, 12)
        + sim.keepalive_frames * time_on_air(1, 12)
        + acks * time_on_air(1, 12)
    )
    assert acks > 300
    assert sim.state_durations_s[node, TX] == pytest.approx(expected, abs=1e-9)


def test_progress_reporting_does_not_change_results(tmp_path) -> None:
    (tmp_path / "nodes.csv").write_text(NODES_CSV.format(rows="0,0,bridge\n50,0,endpoint\n"))
    path = tmp_path / "spec.toml"
    path.write_text(
        SPEC.format(
            duration=3600,
            seed=2,
            link="lora",
            interval=2000,
            extra="lora_link = { rx_windows = 5, periodic_listen_s = 10 }",
            backhaul=0.05,
            bridge_extra="",
            power=14,
        )
    )
    spec = experiments.load_spec(path)
    quiet = experiments.run(spec)
    reported = experiments.run(spec, progress=lambda now_s, total_s: None)
    assert quiet.summary == reported.summary
