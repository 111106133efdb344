"""External nodes (mesh.external): uplinks injected into a running simulation, downlinks routed
back, the stop signal, real time."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mesh.simulation
from experiments.spec import load_spec
from mesh.external import (
    DownlinkRow,
    ExternalError,
    ExternalNode,
    ExternalPlan,
    ExternalStop,
    Injection,
    UplinkRow,
)
from mesh.records import FATE_NAMES
from mesh.simulation import SimResult, simulate

SPEC = """
[scenario]
duration_s = {duration}
[topology]
kind = "csv"
path = "nodes.csv"
width_m = 2000
height_m = 100
[propagation]
model = "log_distance"
exponent = 3.0
shadowing_sigma_db = 0.0
wall_loss_db = 0.0
[endpoint]
link = "ble"
interval_s = 30
tx_power_dbm = 0
[bridge]
links = ["ble"]
backhaul_latency_median_s = 0.05
"""


def spec(tmp_path: Path, duration: float = 10.0, extra: str = "") -> object:
    # one bridge at x = 0, one simulated endpoint beside it
    (tmp_path / "nodes.csv").write_text("x_m,y_m,role\n0,50,bridge\n5,50,endpoint\n")
    (tmp_path / "s.toml").write_text(SPEC.format(duration=duration) + extra)
    return load_spec(tmp_path / "s.toml")


class Hooks:
    """Inject ``schedule`` (simulated time, injection) then stop after ``stop_s``."""

    def __init__(
        self,
        schedule: list[tuple[float, Injection]],
        stop_s: float = math.inf,
        route: dict[int, int] | None = None,
    ) -> None:
        self.schedule = schedule
        self.stop_s = stop_s
        self.route = route or {}
        self.uplinks: list[UplinkRow] = []
        self.downlinks: list[DownlinkRow] = []
        self.now = 0.0
        self.polls = 0

    def pending(self) -> Sequence[Injection] | None:
        self.polls += 1
        now = self.polls * 0.05 - 0.05
        if now >= self.stop_s:
            return None
        due = [item for t, item in self.schedule if t <= now]
        self.schedule = [(t, item) for t, item in self.schedule if t > now]
        return due

    def uplink(self, row: UplinkRow) -> Sequence[tuple[int, bytes]]:
        self.uplinks.append(row)
        if row.node in self.route:
            return [(self.route[row.node], b"to-" + row.name.encode())]
        return []

    def downlink(self, row: DownlinkRow) -> None:
        self.downlinks.append(row)


NEAR = ExternalNode("near", 10.0, 50.0)
FAR = ExternalNode("far", 1900.0, 50.0)


def test_injected_uplinks_reach_the_bridge_in_range_only(tmp_path: Path) -> None:
    loaded = spec(tmp_path)
    hooks = Hooks([(1.0, Injection(0, b"x" * 10, tag="a")), (2.0, Injection(1, b"y" * 10))])
    result = simulate(loaded.config, None, external=ExternalPlan((NEAR, FAR)), hooks=hooks)
    near, far = hooks.uplinks
    assert (near.name, near.fate, near.bridges, near.tag, near.size_bytes) == (
        "near",
        "delivered",
        (0,),
        "a",
        10,
    )
    assert near.start_s == pytest.approx(1.0) and far.start_s == pytest.approx(2.0)
    assert near.delivered_s > near.start_s
    # 0 dBm at 10 m: -40 dB (free space at 1 m, 2.44 GHz) - 30 dB = -70 dBm
    assert near.best_rssi_dbm == pytest.approx(-40.2 - 30.0, abs=0.1)
    assert far.fate == "below_sensitivity" and far.bridges == () and math.isnan(far.delivered_s)
    # the external nodes are endpoints of their own class, with no traffic of their own
    topo = result.topology
    assert topo.n_nodes == 4 and topo.positions_m[2:].tolist() == [[10.0, 50.0], [1900.0, 50.0]]
    assert result.config.endpoint_classes[-1].name == "external"
    assert set(result.records.endpoint.tolist()) == {1}
    assert result.external is not None and result.external.uplinks == 2


def test_a_delivered_uplink_is_routed_to_another_external_node(tmp_path: Path) -> None:
    loaded = spec(tmp_path)
    other = ExternalNode("board", 20.0, 50.0)
    hooks = Hooks(
        [(0.5, Injection(1, b"hello")), (1.0, Injection(0, b"beacon")), (1.5, Injection(2, b"z"))],
        route={0: 1, 2: 1},
    )
    simulate(loaded.config, None, external=ExternalPlan((NEAR, other, FAR)), hooks=hooks)
    assert [r.fate for r in hooks.uplinks] == ["delivered", "delivered", "below_sensitivity"]
    (down,) = hooks.downlinks  # the far node's uplink was lost: nothing to route
    assert (down.name, down.fate, down.bridge, down.payload) == (
        "board",
        "delivered",
        0,
        b"to-near",
    )
    assert down.sent_s == pytest.approx(hooks.uplinks[1].delivered_s)
    assert down.delivered_s > down.sent_s


def test_a_node_never_heard_has_no_downlink_route(tmp_path: Path) -> None:
    loaded = spec(tmp_path)
    hooks = Hooks([(0.5, Injection(0, b"n"))], route={0: 1})
    simulate(loaded.config, None, external=ExternalPlan((NEAR, FAR)), hooks=hooks)
    assert [(d.name, d.fate, d.bridge) for d in hooks.downlinks] == [("far", "no_route", -1)]


def test_stop_ends_the_run_with_the_rows_so_far(tmp_path: Path) -> None:
    loaded = spec(tmp_path, duration=3600.0)
    hooks = Hooks([(1.0, Injection(0, b"a")), (100.0, Injection(0, b"b"))], stop_s=2.0)
    with pytest.raises(ExternalStop):
        simulate(loaded.config, None, external=ExternalPlan((NEAR,)), hooks=hooks)
    assert [r.fate for r in hooks.uplinks] == ["delivered"]


def test_real_time_paces_the_run(tmp_path: Path) -> None:
    loaded = spec(tmp_path, duration=1.0)
    hooks = Hooks([(0.2, Injection(0, b"a"))])
    plan = ExternalPlan((NEAR,), realtime_factor=0.2)  # 1 simulated second in 0.2 s
    started = time.monotonic()
    simulate(loaded.config, None, external=plan, hooks=hooks)
    assert 0.18 <= time.monotonic() - started < 2.0
    assert [r.fate for r in hooks.uplinks] == ["delivered"]


def test_bad_plans_are_refused(tmp_path: Path) -> None:
    loaded = spec(tmp_path)
    with pytest.raises(ExternalError, match="outside the study area"):
        simulate(
            loaded.config,
            None,
            external=ExternalPlan((ExternalNode("x", 5000.0, 0.0),)),
            hooks=Hooks([]),
        )
    with pytest.raises(ExternalError, match="names must differ"):
        ExternalPlan((NEAR, NEAR))
    with pytest.raises(ExternalError, match="at least one"):
        ExternalPlan(())
    with pytest.raises(ExternalError, match="realtime_factor"):
        ExternalPlan((NEAR,), realtime_factor=0.0)
    flood = spec(tmp_path, extra='[routing]\nstrategy = "flood"\n')
    with pytest.raises(ExternalError, match="direct"):
        simulate(flood.config, None, external=ExternalPlan((NEAR,)), hooks=Hooks([]))
    with pytest.raises(ValueError, match="go together"):
        simulate(loaded.config, None, external=ExternalPlan((NEAR,)))


GOLDEN_SPEC = """
[scenario]
duration_s = 600
seed = 11
[topology]
kind = "random"
width_m = 150
height_m = 150
bridges = 4
endpoints = 12
[propagation]
model = "log_distance"
[[endpoint_class]]
name = "tag"
share = 0.5
link = "ble"
interval_s = 20
tx_power_dbm = 4
[[endpoint_class]]
name = "lock"
share = 0.5
link = "lora"
interval_s = 30
acked = true
downlink = { interval_s = 120 }
[bridge]
backhaul_latency_median_s = 0.05
"""
#: Captured with main's code (before external nodes existed): ``/work/main/.venv/bin/python``
#: running this scenario, sha256 over the bytes of records.endpoint, generated_s, fate and
#: delivered_s (delivered_s carries every backhaul draw).
GOLDEN_PACKETS = 300
GOLDEN_FATES = {"delivered": 270, "below_sensitivity": 30}
GOLDEN_SHA256 = "3c2a5f1f759c9cfe74bf2b0f07273062fcb7b37141f137accd57b8f8004e30da"


def test_a_run_without_external_nodes_is_unchanged(tmp_path: Path) -> None:
    (tmp_path / "g.toml").write_text(GOLDEN_SPEC)
    result = simulate(load_spec(tmp_path / "g.toml").config)
    r = result.records
    digest = hashlib.sha256()
    for column in (r.endpoint, r.generated_s, r.fate, r.delivered_s):
        digest.update(np.ascontiguousarray(column).tobytes())
    fates = dict(zip(*np.unique(r.fate, return_counts=True), strict=True))
    assert len(r) == GOLDEN_PACKETS
    assert {FATE_NAMES[int(k)]: int(v) for k, v in fates.items()} == GOLDEN_FATES
    assert digest.hexdigest() == GOLDEN_SHA256
    assert result.external is None


def backhaul_state(result: SimResult) -> object:
    assert result.external is not None
    return result.external.net.backhaul._rng.bit_generator.state


def test_injected_uplinks_draw_from_their_own_stream(tmp_path: Path) -> None:
    loaded = spec(tmp_path)
    quiet = simulate(loaded.config, None, external=ExternalPlan((NEAR,)), hooks=Hooks([]))
    hooks = Hooks([(1.0, Injection(0, b"x"))])
    busy = simulate(loaded.config, None, external=ExternalPlan((NEAR,)), hooks=hooks)
    assert [r.fate for r in hooks.uplinks] == ["delivered"]
    # the backhaul stream (forwarding of the simulated traffic) is where it would be without it
    assert backhaul_state(busy) == backhaul_state(quiet)
    again = Hooks([(1.0, Injection(0, b"x"))])
    simulate(loaded.config, None, external=ExternalPlan((NEAR,)), hooks=again)
    assert again.uplinks[0].delivered_s == hooks.uplinks[0].delivered_s  # seeded


def test_the_downlink_route_is_the_last_delivered_uplink(tmp_path: Path) -> None:
    # bridge 0's internet is down until 3 s: the near node's uplink at 1 s is heard, not delivered
    outage = '[[faults.outages]]\nbridges = [0]\nkind = "backhaul"\nstart_s = 0\nend_s = 3\n'
    loaded = spec(tmp_path, extra=outage)
    board = ExternalNode("board", 20.0, 50.0)
    hooks = Hooks([(1.0, Injection(0, b"a")), (4.0, Injection(1, b"b"))], route={1: 0})
    simulate(loaded.config, None, external=ExternalPlan((NEAR, board)), hooks=hooks)
    assert [r.fate for r in hooks.uplinks] == ["backhaul_down", "delivered"]
    assert [(d.name, d.fate, d.bridge) for d in hooks.downlinks] == [("near", "no_route", -1)]


def test_an_injection_names_its_sender(tmp_path: Path) -> None:
    loaded = spec(tmp_path)
    hooks = Hooks([(1.0, Injection(0, b"a", name="AA:BB")), (2.0, Injection(0, b"b"))])
    simulate(loaded.config, None, external=ExternalPlan((NEAR,)), hooks=hooks)
    assert [r.name for r in hooks.uplinks] == ["AA:BB", "near"]


def test_the_real_time_clock_starts_when_the_run_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Setting up takes 0.6 s of wall time here; polls must still be paced from the start of
    the run, not caught up in a burst (a RealtimeEnvironment counts from its creation)."""
    slow = mesh.simulation.assign_classes

    def slow_assign(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.6)
        return slow(*args, **kwargs)

    monkeypatch.setattr(mesh.simulation, "assign_classes", slow_assign)
    loaded = spec(tmp_path, duration=0.5)
    polls: list[float] = []

    class Timed(Hooks):
        def pending(self) -> Sequence[Injection] | None:
            polls.append(time.monotonic())
            return super().pending()

    plan = ExternalPlan((NEAR,), realtime_factor=1.0)
    simulate(loaded.config, None, external=plan, hooks=Timed([]))
    assert len(polls) >= 6
    # poll k is due k * 50 ms after the start: polls 0 and 5 are at least 0.25 s apart
    assert polls[5] - polls[0] >= 0.2
