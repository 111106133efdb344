"""Bridge limits (bandwidth cap, queue, allowance) and the privacy model, end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest

import experiments
from mesh.ledger import TX
from mesh.privacy import transmission_id
from mesh.records import FATE_NAMES
from radios.lora import time_on_air

SPEC = """
[scenario]
duration_s = {duration}
seed = 3
[topology]
kind = "csv"
path = "nodes.csv"
width_m = 200
height_m = 200
[propagation]
model = "disk"
range_m = 500
[endpoint]
link = "lora"
traffic = "periodic"
interval_s = {interval}
payload_bytes = 19
lora = {{ sf = 7, channels = 8 }}
lora_link = {{ rx_windows = 0 }}
[bridge]
links = ["lora"]
backhaul_latency_median_s = 0
{bridge}
[privacy]
{privacy}
"""


def run(tmp_path, *, endpoints=1, bridges=1, duration=3600, interval=60, bridge="", privacy=""):
    rows = [f"{10 * k},0,bridge" for k in range(bridges)]
    rows += [f"{10 * k},100,endpoint" for k in range(endpoints)]
    (tmp_path / "nodes.csv").write_text("x_m,y_m,role\n" + "\n".join(rows) + "\n")
    path = tmp_path / "spec.toml"
    path.write_text(
        SPEC.format(duration=duration, interval=interval, bridge=bridge, privacy=privacy)
    )
    return experiments.run(experiments.load_spec(path))


def test_capped_uplink_never_carries_more_than_its_rate(tmp_path) -> None:
    """400 bit/s and 43-byte copies (19 B + 24 B of metadata): one copy takes 0.86 s to leave,
    so with zero latency deliveries through the single bridge are at least 0.86 s apart, and
    the bridge never sends more than 400 bits in any second."""
    result = run(
        tmp_path, endpoints=20, interval=10, bridge="backhaul_rate_bps = 400", duration=600
    )
    sim = result.sim
    service_s = 43 * 8 / 400
    delivered = np.sort(sim.records.delivered_s[np.isfinite(sim.records.delivered_s)])
    assert delivered.size > 100
    assert np.all(np.diff(delivered) >= service_s - 1e-9)
    # bits sent in any 1 s window (each copy spread over its service interval) stay <= 400
    starts = delivered - service_s
    for w in np.concatenate([starts, delivered - 1.0]):
        overlap = np.clip(np.minimum(delivered, w + 1) - np.maximum(starts, w), 0, None)
        assert (overlap / service_s * 43 * 8).sum() <= 400 + 1e-6
    bridges = result.summary["bridges"]
    assert bridges["queueing_delay_mean_s"] > 1.0  # offered 2 copies/s, served 1.16/s
    assert bridges["dropped_queue"] == 0  # no queue limit by default


def test_queue_limit_drops_as_backhaul_limit(tmp_path) -> None:
    result = run(
        tmp_path,
        endpoints=20,
        interval=10,
        bridge="backhaul_rate_bps = 400\nbackhaul_queue_bytes = 172",
        duration=600,
    )
    packets = result.summary["packets"]
    dropped = result.summary["bridges"]["dropped_queue"]
    assert dropped > 0
    assert packets["dropped"]["backhaul_limit"] == dropped  # one bridge: one copy per frame
    # at most 172 B (4 copies) queued: no delivery waits more than 4 service times
    latency = result.sim.records.delivered_s - result.sim.records.generated_s
    airtime = time_on_air(19, 7)
    assert np.nanmax(latency) <= airtime + 4 * 43 * 8 / 400 + 1e-6


def test_allowance_caps_an_account_per_period(tmp_path) -> None:
    """An allowance of 10 copies per 600 s period: at most 10 frames get through per period,
    the rest are lost as backhaul_limit, and the counter restarts each period."""
    result = run(
        tmp_path,
        interval=20,
        bridge="monthly_allowance_bytes = 430\nallowance_period_s = 600",
        duration=3600,
    )
    sim = result.sim
    ok = np.isfinite(sim.records.delivered_s)
    per_period = np.bincount((sim.records.delivered_s[ok] // 600).astype(int), minlength=6)
    assert per_period.tolist() == [10] * 6
    packets = result.summary["packets"]
    assert packets["dropped"]["backhaul_limit"] == packets["generated"] - 60
    assert result.summary["bridges"]["allowance_peak_use"] == pytest.approx(1.0)


def test_two_bridges_of_one_account_share_the_allowance(tmp_path) -> None:
    """Both bridges hear every frame; as one account they spend the allowance twice as fast."""
    shared = run(
        tmp_path,
        bridges=2,
        interval=20,
        bridge="monthly_allowance_bytes = 430\nallowance_period_s = 600\nbridges_per_account = 2",
        duration=600,
    )
    separate = run(
        tmp_path,
        bridges=2,
        interval=20,
        bridge="monthly_allowance_bytes = 430\nallowance_period_s = 600",
        duration=600,
    )
    assert shared.summary["packets"]["delivered"] == 5
    assert separate.summary["packets"]["delivered"] == 10
    assert shared.summary["bridges"]["accounts"] == 1


def test_bridge_load_counts_every_forwarded_byte(tmp_path) -> None:
    result = run(tmp_path, bridges=3, interval=60)
    sim = result.sim
    table = result.summary["bridges"]
    frames = result.summary["packets"]["transmissions"]
    assert table["copies_forwarded"] == 3 * frames
    assert table["bytes_forwarded"] == 3 * frames * (19 + 24)
    assert table["load_bps_mean"] == pytest.approx(frames * 43 * 8 / sim.horizon_s)


def test_encryption_overhead_lengthens_every_frame(tmp_path) -> None:
    result = run(tmp_path, privacy="encryption_overhead_bytes = 12")
    sim = result.sim
    node = int(sim.endpoint_ids[0])
    frames = int(sim.records.transmissions.sum())
    assert sim.state_durations_s[node, TX] == pytest.approx(
        frames * time_on_air(19 + 12, 7), abs=1e-9
    )


def test_rotation_bounds_how_long_a_bridge_can_link_an_endpoint(tmp_path) -> None:
    """Uplinks every 60 s for 2 h. Without rotation one bridge links the endpoint for the whole
    run; with 15-minute rotation each ID covers at most 900 s, 840 s from first to last frame."""
    off = run(tmp_path, duration=7200, privacy="rotation_period_s = 0")
    on = run(tmp_path, duration=7200, privacy="rotation_period_s = 900")
    node = int(off.sim.endpoint_ids[0])
    times = np.sort(off.sim.records.generated_s) + time_on_air(19, 7)
    assert off.sim.linkability is not None and on.sim.linkability is not None
    assert off.sim.linkability.max_linkable_s[node] == pytest.approx(times[-1] - times[0])
    assert on.sim.linkability.max_linkable_s[node] <= 840 + 1e-6
    assert on.summary["privacy"]["mean_linkable_s"] < off.summary["privacy"]["mean_linkable_s"]
    # the IDs a bridge sees change exactly every 15 minutes
    ids = transmission_id(np.full(times.size, node), times, 900.0, key=5)
    changes = np.flatnonzero(ids[1:] != ids[:-1])
    epochs = np.floor(times / 900.0)
    assert np.array_equal(changes, np.flatnonzero(epochs[1:] != epochs[:-1]))
    assert math.isnan(on.sim.linkability.mean_linkable_s[int(on.sim.topology.bridge_ids[0])])


def test_observation_off_leaves_privacy_out(tmp_path) -> None:
    result = run(tmp_path, privacy="observe = false")
    assert result.sim.linkability is None
    assert result.summary["privacy"] is None
    assert "backhaul_limit" in FATE_NAMES


def test_latency_split_into_mac_wait_airtime_retries_and_backhaul(tmp_path) -> None:
    """No LBT, no ACK, zero internet latency: a delivered packet waits 0 s for the MAC, spends
    one airtime on air, no retries, and the 43-byte copy's 80 kbps service on the backhaul."""
    result = run(tmp_path, interval=60)
    split = result.sim.latency_split
    ok = np.isfinite(result.sim.records.delivered_s)
    assert ok.sum() == 60
    np.testing.assert_allclose(split["mac_wait"][ok], 0.0, atol=1e-9)
    np.testing.assert_allclose(split["retries"][ok], 0.0, atol=1e-9)
    np.testing.assert_allclose(split["airtime"][ok], time_on_air(19, 7), atol=1e-9)
    np.testing.assert_allclose(split["backhaul"][ok], 43 * 8 / 80_000, atol=1e-9)
    means = result.summary["latency_split_mean_s"]
    assert sum(means.values()) == pytest.approx(result.summary["latency_s"]["mean"], rel=1e-8)
