"""BLE connection-based transfer and fast/slow advertising, against the Core Spec's timing."""

from __future__ import annotations

import numpy as np
import pytest

import experiments
from experiments.spec import SpecError
from mesh.ledger import TX
from radios.ble import T_IFS_S, BleParams, airtime_s

SPEC = """
[scenario]
duration_s = {duration}
seed = 5
[topology]
kind = "csv"
path = "nodes.csv"
width_m = 2000
height_m = 100
[propagation]
model = "log_distance"
shadowing_sigma_db = 0
wall_loss_db = 0
[endpoint]
link = "ble"
tx_power_dbm = 4
payload_bytes = {payload}
oversize = "connect"
interval_s = {interval}
ble = {{ {ble} }}
[bridge]
backhaul_latency_median_s = 0
"""


def run(tmp_path, *, payload=600, ble="", x_m=10, duration=600, interval=60):
    (tmp_path / "nodes.csv").write_text(f"x_m,y_m,role\n0,0,bridge\n{x_m},0,endpoint\n")
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(payload=payload, ble=ble, duration=duration, interval=interval))
    return experiments.run(experiments.load_spec(path))


def test_a_large_packet_goes_over_a_connection_in_247_byte_pdus(tmp_path) -> None:
    """600 B = 247 + 247 + 106: advertising PDUs until the bridge's scanner hears one (it scans
    one channel at a time, so the 1st, 2nd or 3rd PDU of the event), CONNECT_IND, then three
    connection events 30 ms apart (bridge's empty PDU, T_IFS, the endpoint's data PDU); the
    bridge forwards 600 + 24 B at 80 kbps. Every latency is the sum of those times."""
    result = run(tmp_path)
    records = result.sim.records
    assert result.summary["pdr"] == 1.0
    adv_pdus = records.transmissions - 3  # the rest are the three data PDUs
    assert set(adv_pdus.tolist()) <= {1, 2, 3}
    adv_s = airtime_s(13, "1M")
    connect_ind_s = airtime_s(34, "1M")
    empty_s = airtime_s(0, "1M")
    last_pdu_s = airtime_s(106 + 4, "1M")
    expected = (
        adv_pdus * adv_s
        + (adv_pdus - 1) * T_IFS_S  # gaps between the PDUs of the event
        + T_IFS_S
        + connect_ind_s
        + 0.00125
        + 2 * 0.03
        + empty_s
        + T_IFS_S
        + last_pdu_s
        + (600 + 24) * 8 / 80_000
    )
    latency = records.delivered_s - records.generated_s
    assert latency == pytest.approx(expected, abs=1e-9)


def test_connection_energy_is_the_sum_of_its_pdus(tmp_path) -> None:
    result = run(tmp_path)
    sim = result.sim
    node = int(sim.endpoint_ids[0])
    adv_pdus = int((sim.records.transmissions - 3).sum())
    per_packet_tx = (
        2 * airtime_s(247 + 4, "1M")
        + airtime_s(106 + 4, "1M")
        + airtime_s(0, "1M")  # LL_TERMINATE once the last PDU is acknowledged
    )
    expected = adv_pdus * airtime_s(13, "1M") + 10 * per_packet_tx
    assert sim.state_durations_s[node, TX] == pytest.approx(expected, abs=1e-9)


def test_lossy_connection_is_dropped_after_the_supervision_timeout(tmp_path) -> None:
    result = run(
        tmp_path,
        ble="conn_event_loss_probability = 0.999, supervision_timeout_s = 0.5",
    )
    dropped = result.summary["packets"]["dropped"]
    assert dropped["connection_lost"] == result.summary["packets"]["generated"] == 10
    # each tried until the timeout: 1 + ceil(0.5 / 0.03) events of which none got through
    per_packet = result.summary["packets"]["transmissions"] / 10
    assert 1 + 16 <= per_packet <= 3 + 18


def test_out_of_range_no_connection(tmp_path) -> None:
    result = run(tmp_path, x_m=1500)
    assert result.summary["packets"]["dropped"]["below_sensitivity"] == 10


def test_advertising_slows_down_after_the_fast_period(tmp_path) -> None:
    """40 events, fast (160 ms) while under 1.05 s from the start, then 1 s: 7 fast intervals
    and 32 slow ones, each plus advDelay U(0, 10 ms)."""
    result = run(
        tmp_path,
        payload=10,
        x_m=1500,  # nobody hears it: the endpoint advertises all 40 events
        ble="adv_events = 40, fast_adv_duration_s = 1.05",
        duration=0.5,
        interval=0.5,  # exactly one packet, in the first half second
    )
    sim = result.sim
    start = float(sim.records.generated_s[0])
    event_s = 3 * BleParams().airtime_s(10) + 2 * T_IFS_S
    span = sim.horizon_s - start - event_s
    assert 7 * 0.16 + 32 * 1.0 <= span <= 7 * 0.16 + 32 * 1.0 + 39 * 0.010


def test_connection_parameters_are_checked(tmp_path) -> None:
    (tmp_path / "nodes.csv").write_text("x_m,y_m,role\n0,0,bridge\n10,0,endpoint\n")
    for ble, key in (
        ("conn_interval_s = 5.0", "conn_interval_s"),
        ("data_length_bytes = 300", "data_length_bytes"),
        ("supervision_timeout_s = 0.05", "supervision_timeout_s"),
        ("conn_event_loss_probability = 1.0", "conn_event_loss_probability"),
    ):
        path = tmp_path / "spec.toml"
        path.write_text(SPEC.format(payload=600, ble=ble, duration=60, interval=60))
        with pytest.raises(SpecError) as err:
            experiments.load_spec(path)
        assert key in str(err.value)


def test_ble_downlink_waits_for_the_next_advertisement(tmp_path) -> None:
    """A bridge holding a downlink for a BLE endpoint connects when it next hears it advertise
    (packets every 60 s): the wait is under one packet interval plus the advertising events,
    the connection setup and one connection event; Poisson downlinks wait ~30 s on average."""
    (tmp_path / "nodes.csv").write_text("x_m,y_m,role\n0,0,bridge\n10,0,endpoint\n")
    path = tmp_path / "spec.toml"
    text = SPEC.format(payload=19, ble="", duration=6 * 3600, interval=60)
    path.write_text(text.replace('oversize = "connect"', "downlink = { interval_s = 300 }"))
    result = experiments.run(experiments.load_spec(path))
    dl = result.sim.downlinks
    first_uplink = float(result.sim.records.generated_s.min()) + 1.0
    previous_done = np.concatenate([[0.0], dl.delivered_s[:-1]])
    ok = (dl.fate == 0) & (dl.generated_s > first_uplink) & (dl.generated_s > previous_done)
    assert ok.sum() > 30
    wait = dl.delivered_s[ok] - dl.generated_s[ok]
    assert wait.max() <= 60.0 + 3 * 0.17 + 0.05
    assert wait.mean() == pytest.approx(30.0, abs=8.0)
    assert set(dl.link[ok].tolist()) == {0}  # BLE
    assert result.summary["downlinks"]["delivery_ratio"] == 1.0


def test_connection_mode_endpoints_get_their_downlinks(tmp_path) -> None:
    """An endpoint that sends over connections is routed like any other: the advertisement it
    connected on tells the network server which bridge heard it."""
    (tmp_path / "nodes.csv").write_text("x_m,y_m,role\n0,0,bridge\n10,0,endpoint\n")
    path = tmp_path / "spec.toml"
    text = SPEC.format(payload=600, ble="", duration=3600, interval=60)
    path.write_text(text.replace("[bridge]", "downlink = { interval_s = 300 }\n[bridge]"))
    result = experiments.run(experiments.load_spec(path))
    downlinks = result.summary["downlinks"]
    assert downlinks["delivered"] > 5
    assert downlinks["delivery_ratio"] == 1.0
