"""Relaying strategies: invariants over random topologies, an exact trace on a line, and the
strategies' own rules (flood TTL and cache, contention cancels and implicit ACKs, gradient
parents)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mesh.records import DELIVERED
from mesh.routing import STRATEGIES
from mesh.routing.base import SeenCache
from mesh.routing.contention import contention_window, slot_s
from mesh.simulation import simulate
from tests.mesh import relaynet

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run(strategy: str, seed: int, n_relays: int, n_sensors: int, **kwargs: object):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    pos, classes = relaynet.random_tree(rng, n_relays, n_sensors)
    topo = relaynet.topology(pos, 1, classes)
    cfg = relaynet.config(strategy, seed=seed, **kwargs)  # type: ignore[arg-type]
    return simulate(cfg, topology=topo, trace=True), topo


def _tx_counts(sim) -> Counter[tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    trace = sim.routing.trace
    return Counter((e[2], e[3], e[4]) for e in trace if e[1] == "tx")


@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    n_relays=st.integers(1, 6),
    n_sensors=st.integers(1, 6),
    strategy=st.sampled_from(sorted(STRATEGIES)),
)
def test_rebroadcast_at_most_once_and_hops_within_limits(
    seed: int, n_relays: int, n_sensors: int, strategy: str
) -> None:
    sim, _ = _run(strategy, seed, n_relays, n_sensors, interval_s=600.0)
    cfg = sim.config.routing
    counts = _tx_counts(sim)
    per_rebroadcast = {
        "flood": 1 + cfg.relay_retransmits,  # one relaying: the retransmissions of the rules
        "contention_flood": 1,
        "gradient": 1 + cfg.hop_retries,  # one unicast with its retries per parent
    }[strategy]
    assert all(c <= per_rebroadcast for c in counts.values()), counts.most_common(3)
    records = sim.records
    delivered = records.fate == DELIVERED
    limit = {"flood": cfg.ttl, "contention_flood": cfg.hop_limit + 1, "gradient": cfg.ttl}
    assert records.hops[delivered].max(initial=0) <= limit[strategy]
    assert (records.hops[delivered] >= 1).all()
    assert (records.hops[~delivered] == 0).all()
    # the network server counts each uplink once: one fate per packet, every delivered packet
    # complete at the server, copies >= 1 exactly for delivered ones
    assert (records.copies[delivered] >= 1).all()
    assert int(delivered.sum()) == int(np.count_nonzero(sim.records.copies > 0))


@SETTINGS
@given(seed=st.integers(0, 10_000), n_relays=st.integers(1, 6), n_sensors=st.integers(1, 6))
def test_flood_delivers_everything_on_a_connected_disk_graph_without_collisions(
    seed: int, n_relays: int, n_sensors: int
) -> None:
    sim, _ = _run(
        "flood",
        seed,
        n_relays,
        n_sensors,
        routing={"relay_delay_max_s": 2.0, "relay_interval_s": 0.5},
    )
    assume(sim.collisions == 0)
    assert (sim.records.fate == DELIVERED).all()


@SETTINGS
@given(seed=st.integers(0, 10_000), n_sensors=st.integers(1, 8))
def test_flood_without_relays_equals_direct(seed: int, n_sensors: int) -> None:
    rng = np.random.default_rng(seed)
    pos = [(0.0, 0.0), (400.0, 0.0)] + [
        (float(rng.uniform(-200, 600)), float(rng.uniform(-150, 150))) for _ in range(n_sensors)
    ]
    topo = relaynet.topology(pos, 2, ["sensor"] * n_sensors)
    direct = simulate(relaynet.config("direct", seed=seed, interval_s=300.0), topology=topo)
    flood = simulate(relaynet.config("flood", seed=seed, interval_s=300.0), topology=topo)
    for name in ("fate", "delivered_s", "copies", "transmissions", "link"):
        assert np.array_equal(
            getattr(direct.records, name), getattr(flood.records, name), equal_nan=True
        ), name
    assert np.array_equal(direct.chip_durations_s, flood.chip_durations_s)
    assert flood.routing is not None and flood.routing.relay_frames.sum() == 0


def _line(strategy: str, **routing: object):  # type: ignore[no-untyped-def]
    # bridge - relay - relay - sensor, 100 m apart, range 150 m: each hears its neighbours only
    pos = [(0.0, 0.0), (100.0, 0.0), (200.0, 0.0), (300.0, 0.0)]
    topo = relaynet.topology(pos, 1, ["relay", "relay", "sensor"])
    cfg = relaynet.config(strategy, duration_s=600.0, interval_s=1200.0, routing=routing)
    return simulate(cfg, topology=topo, trace=True)


def test_line_topology_exact_event_trace_under_flood() -> None:
    sim = _line("flood", relay_retransmits=0, relay_delay_max_s=0.0)
    records = sim.records
    assert len(records) == 1 and records.fate[0] == DELIVERED
    airtime_s = sim.config.endpoint_classes[0].lora.airtime_s(10)
    t0 = float(records.first_start_s[0])
    a = airtime_s
    expected = [
        (t0 + a, "rx", 2, 3, 0, 1),  # relay 2 decodes the sensor
        (t0 + a, "tx", 2, 0, 0, 2),  # and relays at once (no delay, TTL 7 -> 6)
        (t0 + 2 * a, "rx", 1, 2, 0, 2),  # relay 1 decodes relay 2
        (t0 + 2 * a, "tx", 1, 0, 0, 3),
        (t0 + 3 * a, "rx", 0, 1, 0, 3),  # the bridge decodes relay 1
        (t0 + 3 * a, "rx", 2, 1, 0, 3),  # relay 2 hears it again: a duplicate, not relayed
    ]
    trace = sim.routing.trace
    assert len(trace) == len(expected)
    for got, want in zip(trace, expected, strict=True):
        assert got[1:] == want[1:]
        assert got[0] == pytest.approx(want[0], abs=1e-9)
    assert records.hops[0] == 3
    assert sim.routing.duplicates[2] == 1
    assert sim.routing.relay_frames.tolist() == [0, 1, 1, 0]


def test_ttl_bounds_the_line() -> None:
    sim = _line("flood", relay_retransmits=0, relay_delay_max_s=0.0, ttl=2)
    # TTL 2: relay 2 relays (TTL 2 -> 1), relay 1 may not: the bridge never hears it
    assert sim.records.fate[0] != DELIVERED
    assert sim.routing.relay_frames.tolist() == [0, 0, 1, 0]


def test_gradient_line_learns_hops_and_forwards_unicast() -> None:
    pos = [(0.0, 0.0), (100.0, 0.0), (200.0, 0.0), (300.0, 0.0)]
    topo = relaynet.topology(pos, 1, ["relay", "relay", "sensor"])
    cfg = relaynet.config(
        "gradient", duration_s=1800.0, interval_s=60.0, routing={"beacon_interval_s": 30.0}
    )
    sim = simulate(cfg, topology=topo, trace=True)
    routing = sim.routing
    assert routing.metric[1] == 1 and routing.metric[2] == 2
    assert routing.parent[1] == 0 and routing.parent[2] == 1
    rec = sim.records
    routed = rec.generated_s > 90.0  # after two beacon rounds every relay has its route
    assert routed.sum() >= 20
    assert (rec.fate[routed] == DELIVERED).all() and (rec.hops[routed] == 3).all()
    # unicast: relay 2's frames are taken by its parent only (no duplicates at relays)
    assert routing.duplicates.sum() == 0


def test_gradient_etx_prefers_the_reliable_neighbour() -> None:
    from mesh.routing.gradient import _Neighbour

    sim = _line("gradient", metric="etx")
    routing = sim.routing
    good, bad = _Neighbour(), _Neighbour()
    good.heard.extend(range(10, 18))
    good.seq = 17
    bad.heard.extend([10, 13, 17])
    bad.seq = 17
    assert routing.link_cost(good) == pytest.approx(1.0)
    assert routing.link_cost(bad) == pytest.approx(8 / 3)


def _jammed_parent(parent_loss: int):  # type: ignore[no-untyped-def]
    # relays 1 and 2 both reach the bridge; relay 3 (the sensor's only neighbour) picks one of
    # them; from 1000 s a jammer next to that parent stops it decoding anything, while relay 3
    # still hears its beacons (the run is the same as without the jammer until then)
    from mesh.config import FaultsConfig, JammerConfig

    pos = [(0.0, 0.0), (100.0, 40.0), (100.0, -40.0), (200.0, 0.0), (300.0, 0.0)]
    topo = relaynet.topology(pos, 1, ["relay", "relay", "relay", "sensor"])
    shift = topo.positions_m[1] - np.array(pos[1])  # relaynet moves the layout
    routing = {"beacon_interval_s": 60.0, "parent_loss": parent_loss}
    probe = simulate(
        relaynet.config("gradient", duration_s=990.0, interval_s=20.0, routing=routing),
        topology=topo,
    )
    parent = int(probe.routing.parent[3])
    assert parent in (1, 2)
    jam = JammerConfig(
        x_m=float(shift[0] + 100.0),
        y_m=float(shift[1] + (180.0 if parent == 1 else -180.0)),
        tx_power_dbm=30.0,
        duty_cycle=1.0,
        start_s=1000.0,
    )
    cfg = relaynet.config(
        "gradient",
        duration_s=1800.0,
        interval_s=20.0,
        routing=routing,
        faults=FaultsConfig(jammers=(jam,)),
    )
    return simulate(cfg, topology=topo, trace=True), parent


def test_gradient_changes_parent_after_losses() -> None:
    quick, jammed = _jammed_parent(parent_loss=1)
    slow, _ = _jammed_parent(parent_loss=1000)  # only the stale timeout (3 beacon intervals)
    for sim in (quick, slow):
        before = sim.records.generated_s < 990.0
        assert (sim.records.fate[before] == DELIVERED).mean() >= 0.9
    window = (quick.records.generated_s > 1040.0) & (quick.records.generated_s < 1150.0)
    assert (quick.records.fate[window] == DELIVERED).mean() >= 0.8
    assert (slow.records.fate[window] == DELIVERED).mean() <= 0.2
    assert quick.routing.parent[3] == 3 - jammed and quick.routing.parent_changes[3] >= 1


def test_contention_window_maps_snr_to_exponents() -> None:
    assert contention_window(-30.0, -20.0, 10.0, 3, 8) == 3
    assert contention_window(10.0, -20.0, 10.0, 3, 8) == 8
    assert contention_window(-5.0, -20.0, 10.0, 3, 8) == round(3 + 5 * 0.5)


def test_contention_slot_follows_meshtastic() -> None:
    from mesh.links import class_phy

    cfg = relaynet.config("contention_flood").endpoint_classes[0]
    phy = class_phy(cfg)
    symbol_s = cfg.lora.symbol_time_s()
    assert slot_s(phy) == pytest.approx(2.5 * symbol_s + 0.0076)


def test_contention_client_cancels_when_it_overhears() -> None:
    # a sensor heard by two client relays that hear each other: the later one cancels
    pos = [(0.0, 0.0), (100.0, 20.0), (100.0, -20.0), (200.0, 0.0)]
    topo = relaynet.topology(pos, 1, ["relay", "relay", "sensor"])
    cfg = relaynet.config("contention_flood", duration_s=600.0, interval_s=1200.0)
    sim = simulate(cfg, topology=topo, trace=True)
    routing = sim.routing
    assert routing.relay_frames.sum() == 1
    assert routing.cancelled.sum() == 1
    assert sim.records.fate[0] == DELIVERED and sim.records.hops[0] == 2


def test_contention_routers_never_cancel() -> None:
    pos = [(0.0, 0.0), (100.0, 20.0), (100.0, -20.0), (200.0, 0.0)]
    topo = relaynet.topology(pos, 1, ["relay", "relay", "sensor"])
    cfg = relaynet.config("contention_flood", duration_s=600.0, interval_s=1200.0)
    relay = cfg.endpoint_classes[1]
    import dataclasses

    cfg = dataclasses.replace(
        cfg,
        endpoint_classes=(cfg.endpoint_classes[0], dataclasses.replace(relay, relay_role="router")),
    )
    sim = simulate(cfg, topology=topo, trace=True)
    assert sim.routing.cancelled.sum() == 0
    assert sim.routing.relay_frames.sum() == 2


def test_contention_originator_retries_without_implicit_ack() -> None:
    # nobody hears the sensor: it sends 1 + originator_retries times
    pos = [(0.0, 0.0), (1000.0, 0.0)]
    topo = relaynet.topology(pos, 1, ["sensor"])
    cfg = relaynet.config("contention_flood", duration_s=600.0, interval_s=1200.0)
    sim = simulate(cfg, topology=topo)
    assert sim.records.transmissions[0] == 1 + cfg.routing.originator_retries


def test_contention_originator_stops_at_implicit_ack() -> None:
    pos = [(0.0, 0.0), (100.0, 0.0), (200.0, 0.0)]
    topo = relaynet.topology(pos, 1, ["relay", "sensor"])
    cfg = relaynet.config("contention_flood", duration_s=600.0, interval_s=1200.0)
    sim = simulate(cfg, topology=topo)
    assert sim.records.transmissions[0] == 1  # it overheard the relay's rebroadcast
    assert sim.records.fate[0] == DELIVERED


def test_seen_cache_evicts_oldest() -> None:
    cache = SeenCache(2)
    assert cache.add((1, 0)) and cache.add((2, 0))
    assert not cache.add((1, 0))
    assert cache.add((3, 0))  # evicts (1, 0)
    assert (1, 0) not in cache and (2, 0) in cache


def test_relays_pay_for_listening() -> None:
    sim = _line("flood", relay_retransmits=0, relay_delay_max_s=0.0)
    durations = sim.chip_durations_s
    relays = [1, 2]
    # relays never sleep: their whole run is listening or transmitting
    assert np.allclose(durations[relays, 0], 0.0)
    assert np.allclose(durations[relays].sum(axis=1), sim.horizon_s)
    assert sim.relay_listen_s is not None and (sim.relay_listen_s[relays] > 0).all()


def test_bridge_relays_only_what_it_cannot_forward() -> None:
    from mesh.config import FaultsConfig, OutageWindow

    # sensor - bridge 1 (internet down, relays) - bridge 0
    pos = [(0.0, 0.0), (100.0, 0.0), (200.0, 0.0)]
    topo = relaynet.topology(pos, 2, ["sensor"])
    faults = FaultsConfig(outages=(OutageWindow(bridges=(1,), kind="backhaul", end_s=600.0),))
    cfg = relaynet.config(
        "flood", duration_s=300.0, interval_s=600.0, relay_bridges=True, faults=faults
    )
    sim = simulate(cfg, topology=topo)
    assert sim.records.fate[0] == DELIVERED and sim.records.hops[0] == 2
    assert sim.routing.relay_frames[1] == 1 + cfg.routing.relay_retransmits


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_same_seed_gives_identical_summaries(strategy: str) -> None:
    import json

    from experiments.runner import run, summary_json
    from experiments.spec import load_spec

    overrides = [f'routing.strategy="{strategy}"', "topology.homes=60"]
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "experiments" / "relay-suburb.toml"
    texts = [
        summary_json(run(load_spec(path, overrides, duration="10m")).summary) for _ in range(2)
    ]
    assert texts[0] == texts[1]
    assert json.loads(texts[0])["routing"]["strategy"] == strategy


def test_weaker_receptions_and_routers_rebroadcast_sooner() -> None:
    from mesh.routing.contention import delay_slots

    rng = np.random.default_rng(4)

    def mean_delay(snr_db: float, router: bool) -> float:
        cw = contention_window(snr_db, -20.0, 10.0, 3, 8)
        return float(np.mean([delay_slots(cw, router, 8, rng) for _ in range(4000)]))

    weak, strong = mean_delay(-18.0, False), mean_delay(8.0, False)
    # clients: 16 slots plus U{0..2**CW - 1}: CW 3 -> 16 + 3.5, CW 8 -> 16 + 127.5
    assert weak == pytest.approx(19.5, abs=0.3) and strong == pytest.approx(143.5, abs=4.0)
    assert mean_delay(-18.0, True) == pytest.approx(2.5, abs=0.2)  # U{0..5}
    assert mean_delay(8.0, True) < weak  # routers go before clients


def test_relay_energy_burden_is_its_transmissions_and_listening() -> None:
    from experiments.meshsummary import relay_energy_j
    from radios.energy import BATTERIES, RADIO_PROFILES

    sim = _line("flood", relay_retransmits=0, relay_delay_max_s=0.0)
    cls = sim.config.endpoint_classes[1]
    radio = RADIO_PROFILES[cls.radio_name]
    volts = BATTERIES[cls.battery].voltage_v
    airtime_s = cls.lora.airtime_s(10)
    energy = relay_energy_j(sim)
    for relay in (1, 2):
        tx_s = airtime_s * sim.routing.relay_frames[relay]
        listen_s = sim.relay_listen_s[relay]
        want = volts * (
            tx_s * radio.tx_current_at(cls.tx_power_dbm)
            + listen_s * (radio.rx_current_a - radio.sleep_current_a)
        )
        assert energy[relay] == pytest.approx(want, rel=1e-12)
        assert listen_s == pytest.approx(sim.horizon_s - tx_s, rel=1e-9)
    assert energy[3] == 0.0 and energy[0] == 0.0
