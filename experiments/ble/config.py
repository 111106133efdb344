"""The ``[ble]`` section of a spec: how real BLE devices join the scenario (``sidemesh ble
bridge``).

What it holds
    Where real advertisers stand (``[[ble.devices]]``, by address; others at the default
    position while ``join`` admits them and slots remain), which advertisers join, the
    uplink rate limit per device (a beacon advertising every 100 ms would otherwise flood the
    emulated network), the power the emulated network gives them, the real-time factor, and an
    optional Nordic UART Service board (``[ble.nus]``) attached as a node.

Sources: the keys map onto ``mesh.external`` (plan, nodes) and ``experiments.ble.uart``
(framing, backoff); addresses as bleak reports them (upper-case ``AA:BB:CC:DD:EE:FF`` on Linux
and Windows; macOS gives UUIDs instead, which are accepted as they are).

Leaves out: per-device transmit powers (one power for every real device: the emulated
network's link budget, not the device's real radio, decides which bridges hear it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mesh.config import doc, require, require_finite

JOIN = ("all", "sidewalk", "listed")
ROUTES = ("uplinks", "none")


def _finite(obj: object, *keys: str) -> None:
    """Each of ``keys`` is a finite number (TOML allows nan and inf) or None."""
    for key in keys:
        value = getattr(obj, key)
        require(value is None or math.isfinite(value), key, f"must be a finite number, got {value}")


@dataclass(frozen=True)
class DevicePlacement:
    """One real advertiser placed in the topology."""

    address: str = field(
        default="", metadata=doc("the advertiser's address as `sidemesh ble scan` shows it")
    )
    x_m: float = field(default=0.0, metadata=doc("position in the study area", "m"))
    y_m: float = field(default=0.0, metadata=doc("position in the study area", "m"))
    indoor: bool = field(default=False, metadata=doc("inside a house (wall loss is added)"))

    def __post_init__(self) -> None:
        require(bool(self.address.strip()), "address", "give the device's address")
        object.__setattr__(self, "address", self.address.strip().upper())
        _finite(self, "x_m", "y_m")


@dataclass(frozen=True)
class NusConfig:
    """A real GATT peripheral speaking the Nordic UART Service, attached as a node."""

    address: str = field(
        default="", metadata=doc("the board's address; empty: no board is attached")
    )
    x_m: float = field(default=0.0, metadata=doc("the board's position", "m"))
    y_m: float = field(default=0.0, metadata=doc("the board's position", "m"))
    indoor: bool = field(default=False, metadata=doc("the board is inside a house"))
    framing: str = field(
        default="line",
        metadata=doc(
            "how TX notifications become uplinks: line (one per newline) or "
            "notification (one per notification)"
        ),
    )
    route: str = field(
        default="uplinks",
        metadata=doc(
            "what the network routes to the board: uplinks (every delivered uplink of "
            "the other real devices, as a text line) or none"
        ),
    )
    connect_timeout_s: float = field(
        default=10.0, metadata=doc("wait this long for the board to advertise and connect", "s")
    )
    backoff_initial_s: float = field(
        default=0.5, metadata=doc("first reconnection delay; doubles up to backoff_max_s", "s")
    )
    backoff_max_s: float = field(default=30.0, metadata=doc("longest reconnection delay", "s"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", self.address.strip().upper())
        _finite(self, "x_m", "y_m")
        require(self.framing in ("line", "notification"), "framing", "must be line or notification")
        require(self.route in ROUTES, "route", f"must be one of {', '.join(ROUTES)}")
        require_finite(self, ("connect_timeout_s", "backoff_initial_s", "backoff_max_s"), True)
        require(
            self.backoff_max_s >= self.backoff_initial_s,
            "backoff_max_s",
            "must be >= backoff_initial_s",
        )

    @property
    def enabled(self) -> bool:
        return bool(self.address)


@dataclass(frozen=True)
class BleConfig:
    """Real BLE devices in the loop (read by `sidemesh ble bridge`; other commands ignore it)."""

    realtime_factor: float = field(
        default=1.0, metadata=doc("wall seconds per simulated second (1: real time)")
    )
    join: str = field(
        default="all",
        metadata=doc(
            "which advertisers join: all, sidewalk (0xFE03 adverts) or listed "
            "(only [[ble.devices]])"
        ),
    )
    max_devices: int = field(
        default=16, metadata=doc("slots for advertisers not listed in [[ble.devices]]")
    )
    default_x_m: float | None = field(
        default=None,
        metadata=doc("where unlisted advertisers stand; default: the area's centre", "m"),
    )
    default_y_m: float | None = field(
        default=None,
        metadata=doc("where unlisted advertisers stand; default: the area's centre", "m"),
    )
    min_rssi_dbm: float = field(
        default=-100.0,
        metadata=doc("advertisements weaker than this at the dongle are ignored", "dBm"),
    )
    min_interval_s: float = field(
        default=1.0, metadata=doc("at most one uplink per device this often (wall time)", "s")
    )
    tx_power_dbm: float = field(
        default=0.0, metadata=doc("transmit power the emulated network gives real devices", "dBm")
    )
    poll_s: float = field(
        default=0.05, metadata=doc("simulated seconds between hand-offs into the simulation", "s")
    )
    devices: tuple[DevicePlacement, ...] = field(
        default=(), metadata=doc("placed advertisers: [[ble.devices]] tables")
    )
    nus: NusConfig = field(default_factory=NusConfig, metadata=doc("[ble.nus]: a NUS board"))

    def __post_init__(self) -> None:
        require_finite(self, ("realtime_factor",), positive=True)
        require(self.join in JOIN, "join", f"must be one of {', '.join(JOIN)}")
        require(0 <= self.max_devices <= 1000, "max_devices", "must be in 0..1000")
        _finite(self, "min_rssi_dbm", "tx_power_dbm")
        _finite(self, "default_x_m", "default_y_m")  # (None: the area's centre)
        require_finite(self, ("min_interval_s",))
        require_finite(self, ("poll_s",), positive=True)
        addresses = [d.address for d in self.devices]
        if self.nus.enabled:
            addresses.append(self.nus.address)
        for address in addresses:
            require(
                addresses.count(address) == 1,
                "devices",
                f"{address} is placed twice (devices and nus need different addresses)",
            )
