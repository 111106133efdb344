"""Hand-built topologies and configurations for the relaying, fault and mobility tests."""

from __future__ import annotations

import numpy as np

from mesh.config import (
    BridgeConfig,
    EndpointConfig,
    FaultsConfig,
    PrivacyConfig,
    RoutingConfig,
    ScenarioConfig,
    SimConfig,
)
from radios.lora import LoraParams
from radios.propagation import Disk
from topologies.base import PLACE_OPEN, ROLE_BRIDGE, ROLE_ENDPOINT, Topology

RANGE_M = 150.0


def topology(
    positions_m: list[tuple[float, float]], n_bridges: int, classes: list[str]
) -> Topology:
    """Bridges first, then endpoints of the named classes (one name per endpoint)."""
    pos = np.asarray(positions_m, dtype=np.float64)
    n = pos.shape[0]
    roles = np.array([ROLE_BRIDGE] * n_bridges + [ROLE_ENDPOINT] * (n - n_bridges), np.int8)
    span = max(float(np.ptp(pos[:, 0])), float(np.ptp(pos[:, 1])), 1.0)
    pos = pos - pos.min(axis=0) + 10.0
    names = np.array([""] * n_bridges + classes, dtype=object)
    return Topology(
        positions_m=pos,
        roles=roles,
        indoor=np.zeros(n, dtype=bool),
        places=np.full(n, PLACE_OPEN, dtype=np.int8),
        width_m=span + 20.0,
        height_m=span + 20.0,
        fields={"class": names, "csv_row": np.arange(n)},
    )


def config(
    strategy: str = "flood",
    *,
    duration_s: float = 3600.0,
    interval_s: float = 3600.0,
    seed: int = 1,
    link: str = "lora",
    relay_bridges: bool = False,
    faults: FaultsConfig | None = None,
    routing: dict[str, object] | None = None,
    range_m: float = RANGE_M,
    sensor: dict[str, object] | None = None,
) -> SimConfig:
    """Classes ``sensor`` (battery, one packet per ``interval_s``) and ``relay`` (mains, relays;
    sends nothing in the run unless ``interval_s`` is short); LoRa SF7 on one channel, disk
    model, no backhaul latency."""
    common: dict[str, object] = {"link": link, "interval_s": interval_s, "payload_bytes": 10}
    if link == "lora":
        common["lora"] = LoraParams(sf=7, channels=1)
    if link == "ble":
        common["tx_power_dbm"] = 4.0
    sensor_cls = EndpointConfig(name="sensor", share=0.5, **{**common, **(sensor or {})})  # type: ignore[arg-type]
    relay_cls = EndpointConfig(
        name="relay",
        share=0.5,
        relay=True,
        mains_powered=True,
        **{**common, "interval_s": 10 * duration_s},  # type: ignore[arg-type]
    )
    return SimConfig(
        scenario=ScenarioConfig(duration_s=duration_s, seed=seed),
        propagation=Disk(range_m=range_m),
        endpoint_classes=(sensor_cls, relay_cls),
        bridge=BridgeConfig(
            links=(link,),
            backhaul_latency_median_s=0.0,
            relay=relay_bridges,
            scan_window_s=0.1,
            scan_interval_s=0.1,
        ),
        privacy=PrivacyConfig(observe=False),
        routing=RoutingConfig(strategy=strategy, **(routing or {})),  # type: ignore[arg-type]
        faults=faults or FaultsConfig(),
    )


def random_tree(
    rng: np.random.Generator, n_relays: int, n_sensors: int, range_m: float = RANGE_M
) -> tuple[list[tuple[float, float]], list[str]]:
    """A bridge at the origin, relays each placed within range of an earlier relay or the
    bridge, sensors each within range of a relay or the bridge: the relay graph is connected.
    Returns positions (bridge first) and class names of the endpoints."""
    points = [(0.0, 0.0)]
    for _ in range(n_relays):
        points.append(_near(rng, points[int(rng.integers(len(points)))], range_m))
    infrastructure = list(points)
    classes = ["relay"] * n_relays
    for _ in range(n_sensors):
        points.append(_near(rng, infrastructure[int(rng.integers(len(infrastructure)))], range_m))
        classes.append("sensor")
    return points, classes


def _near(
    rng: np.random.Generator, centre: tuple[float, float], range_m: float
) -> tuple[float, float]:
    r = range_m * (0.3 + 0.65 * float(rng.random()))
    a = 2 * np.pi * float(rng.random())
    return (centre[0] + r * float(np.cos(a)), centre[1] + r * float(np.sin(a)))
