"""Typed, frozen configuration of one simulation run.

Every section of a spec file maps onto one dataclass here (or onto a parameter dataclass owned by
``radios`` or ``topologies``). Field metadata carries a one-line ``doc`` and a ``unit``: the spec
loader, ``sidemesh radios``/``topologies`` listings and the README reference are all generated from
it, so a key exists in exactly one place. Values marked ASSUMPTION are not published by Amazon or a
chip vendor; they are defaults a user is expected to revisit.

Nothing here runs; ``mesh.simulation.simulate`` consumes a :class:`SimConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from radios.ble import BleParams
from radios.energy import BATTERIES, RADIO_PROFILES
from radios.fsk import FskParams
from radios.lora import LoraParams
from radios.propagation import LogDistance

LINKS: tuple[str, ...] = ("ble", "fsk", "lora")
LinkName = Literal["ble", "fsk", "lora"]
#: Most fragments one packet may be split into (ASSUMPTION: an 8-bit fragment counter).
MAX_FRAGMENTS = 256
#: Endpoint radio chip per link when ``radio = "auto"`` (profiles in ``radios.energy``).
DEFAULT_RADIO: dict[str, str] = {"ble": "nrf52840", "fsk": "sx1262", "lora": "sx1262"}


class ConfigError(ValueError):
    """A configuration value is out of its allowed range. ``key`` names the field."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


def doc(text: str, unit: str = "") -> dict[str, str]:
    """Field metadata: one-line documentation and unit."""
    return {"doc": text, "unit": unit}


def require(cond: bool, key: str, message: str) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``cond`` (every config check uses it)."""
    if not cond:
        raise ConfigError(key, message)


def require_finite(obj: Any, keys: tuple[str, ...], positive: bool = False) -> None:
    """Each field in ``keys`` of ``obj`` is a finite number >= 0 (> 0 when ``positive``)."""
    for key in keys:
        value = getattr(obj, key)
        ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
        require(ok, key, f"must be {'> 0' if positive else '>= 0'}, got {value}")


@dataclass(frozen=True)
class ScenarioConfig:
    duration_s: float = field(
        default=3600.0, metadata=doc("simulated time during which traffic is generated", "s")
    )
    seed: int = field(default=1, metadata=doc("seed of every random stream of the run"))
    name: str = field(default="scenario", metadata=doc("free-text name, copied to the results"))

    def __post_init__(self) -> None:
        require(
            math.isfinite(self.duration_s) and self.duration_s > 0,
            "duration_s",
            f"must be a finite number > 0, got {self.duration_s}",
        )
        require(
            0 <= self.seed < 2**63, "seed", f"must be an integer in 0..2**63-1, got {self.seed}"
        )


@dataclass(frozen=True)
class MediumConfig:
    capture: bool = field(
        default=True,
        metadata=doc(
            "capture effect: a reception survives overlap when its SIR clears the threshold; "
            "false means any overlap on the channel destroys both (pure ALOHA)"
        ),
    )
    lora_rejection: str = field(
        default="goursaud",
        metadata=doc("LoRa SIR threshold matrix: goursaud (Goursaud & Gorce 2015) or croce (2018)"),
    )
    interference_margin_db: float = field(
        default=6.0,
        metadata=doc(
            "capture off only: an overlapping frame counts when a receiver hears it at or above "
            "(lowest sensitivity of the link - this margin); with capture on every one counts",
            "dB",
        ),
    )

    def __post_init__(self) -> None:
        require(
            self.lora_rejection in ("goursaud", "croce"),
            "lora_rejection",
            f"must be one of goursaud, croce; got {self.lora_rejection!r}",
        )
        require(
            0 <= self.interference_margin_db <= 60,
            "interference_margin_db",
            f"must be in 0..60, got {self.interference_margin_db}",
        )


#: Receive-window counts a Sidewalk LoRa endpoint may open after an uplink (0: none).
LORA_RX_WINDOW_COUNTS: tuple[int, ...] = (0, 5, 10, 15, 20)
DOWNLINK_ROUTES: tuple[str, ...] = ("best_rssi", "first_copy")


@dataclass(frozen=True)
class DownlinkConfig:
    """Application downlinks to one endpoint class: cloud -> server -> bridge -> endpoint."""

    interval_s: float = field(
        default=0.0,
        metadata=doc("mean time between downlinks per endpoint (Poisson); 0 = no downlinks", "s"),
    )
    payload_bytes: int = field(
        default=10, metadata=doc("application payload of one downlink (ASSUMPTION)", "B")
    )
    retries: int = field(
        default=3,
        metadata=doc(
            "acknowledged downlinks: retransmissions after a missing endpoint ACK, 0..255"
        ),
    )
    lifetime_s: float = field(
        default=3600.0,
        metadata=doc("a downlink not delivered this long after it was sent expires", "s"),
    )
    route: str = field(
        default="best_rssi",
        metadata=doc(
            "bridge chosen by the network server: best_rssi (strongest decoder of the endpoint's "
            "last heard uplink) or first_copy (the decoder whose copy arrived first)"
        ),
    )
    acked: bool = field(
        default=True,
        metadata=doc("the endpoint acknowledges each downlink; a lost ACK causes a retry"),
    )

    def __post_init__(self) -> None:
        require_finite(self, ("interval_s", "lifetime_s"))
        require(self.lifetime_s > 0, "lifetime_s", "must be > 0")
        require(0 <= self.payload_bytes <= 255, "payload_bytes", "must be in 0..255")
        require(0 <= self.retries <= 255, "retries", f"must be in 0..255, got {self.retries}")
        require(
            self.route in DOWNLINK_ROUTES,
            "route",
            f"must be one of {', '.join(DOWNLINK_ROUTES)}; got {self.route!r}",
        )

    @property
    def enabled(self) -> bool:
        return self.interval_s > 0


@dataclass(frozen=True)
class FskLinkConfig:
    """Sidewalk FSK (synchronous) link timing on the endpoint side."""

    rx_window_interval_s: float = field(
        default=3.15,
        metadata=doc(
            "period of the endpoint's receive windows on the slot grid (Sidewalk default: "
            "3,150 ms, 3 per 10 s beacon period); a whole number of slots",
            "s",
        ),
    )
    rx_window_s: float = field(
        default=0.005,
        metadata=doc("receiver on-time of one empty receive window (ASSUMPTION)", "s"),
    )
    beacon_guard_s: float = field(
        default=0.002,
        metadata=doc(
            "the receiver opens this early and closes this late around each beacon (ASSUMPTION)",
            "s",
        ),
    )
    beacon_miss_probability: float = field(
        default=0.05,
        metadata=doc(
            "chance a beacon from an in-range bridge is missed (fading, interference; ASSUMPTION)"
        ),
    )
    sync_loss_beacons: int = field(
        default=3,
        metadata=doc(
            "consecutive missed beacons after which sync is lost and the endpoint listens "
            "continuously until it hears a beacon again (ASSUMPTION)"
        ),
    )
    resync_interval_s: float = field(
        default=300.0,
        metadata=doc(
            "an endpoint that hears no bridge's beacon scans one beacon period this often "
            "(ASSUMPTION)",
            "s",
        ),
    )

    def __post_init__(self) -> None:
        require_finite(self, ("rx_window_interval_s", "resync_interval_s"), positive=True)
        require_finite(self, ("rx_window_s", "beacon_guard_s"))
        require(
            self.rx_window_s < self.rx_window_interval_s,
            "rx_window_s",
            "must be shorter than rx_window_interval_s",
        )
        require(
            0 <= self.beacon_miss_probability < 1,
            "beacon_miss_probability",
            f"must be in [0, 1), got {self.beacon_miss_probability}",
        )
        require(self.sync_loss_beacons >= 1, "sync_loss_beacons", "must be >= 1")


@dataclass(frozen=True)
class LoraLinkConfig:
    """Sidewalk LoRa (asynchronous, CSS) link timing on the endpoint side."""

    rx_windows: int = field(
        default=5,
        metadata=doc(
            "receive windows opened after each uplink: 0, 5, 10, 15 or 20 (Sidewalk: 5..20)"
        ),
    )
    rx_window_spacing_s: float = field(
        default=5.0,
        metadata=doc(
            "time between the uplink's end and the first window, and between windows", "s"
        ),
    )
    rx_window_symbols: int = field(
        default=8,
        metadata=doc("receiver on-time of one empty window, in LoRa symbols (ASSUMPTION)"),
    )
    periodic_listen_s: float = field(
        default=0.0,
        metadata=doc(
            "periodic-listen mode: also a receive window this often, kept reachable by "
            "keep-alives (0: off, windows only after uplinks)",
            "s",
        ),
    )
    keepalive_interval_s: float = field(
        default=120.0,
        metadata=doc(
            "periodic-listen mode: a keep-alive frame after this long without an uplink "
            "(ASSUMPTION)",
            "s",
        ),
    )
    keepalive_bytes: int = field(
        default=1, metadata=doc("keep-alive payload on air (ASSUMPTION)", "B")
    )
    forget_after_s: float = field(
        default=300.0,
        metadata=doc(
            "periodic-listen mode: bridges forget an endpoint silent this long, and downlinks "
            "wait for its next uplink (Sidewalk: 5 minutes)",
            "s",
        ),
    )

    def __post_init__(self) -> None:
        require(
            self.rx_windows in LORA_RX_WINDOW_COUNTS,
            "rx_windows",
            f"must be one of {', '.join(map(str, LORA_RX_WINDOW_COUNTS))}; got {self.rx_windows}",
        )
        require(
            math.isfinite(self.rx_window_spacing_s) and self.rx_window_spacing_s > 0,
            "rx_window_spacing_s",
            f"must be > 0, got {self.rx_window_spacing_s}",
        )
        require(1 <= self.rx_window_symbols <= 1024, "rx_window_symbols", "must be in 1..1024")
        require_finite(self, ("periodic_listen_s", "keepalive_interval_s", "forget_after_s"))
        require(
            not self.periodic_listen_s or 0 < self.keepalive_interval_s < self.forget_after_s,
            "keepalive_interval_s",
            "must be > 0 and shorter than forget_after_s, or the bridge forgets the endpoint",
        )
        require(0 <= self.keepalive_bytes <= 255, "keepalive_bytes", "must be in 0..255")


@dataclass(frozen=True)
class MobilityConfig:
    """Random-waypoint motion of a class's endpoints (``mesh.mobility``): along the suburb's
    streets, or in straight lines across the area for topologies without streets."""

    mobile: bool = field(default=False, metadata=doc("this class moves"))
    speed_mps: tuple[float, ...] = field(
        default=(0.5, 1.5),
        metadata=doc(
            "[min, max]: each leg's speed is drawn uniformly from this range (walking pace "
            "by default; ASSUMPTION)",
            "m/s",
        ),
    )
    pause_s: tuple[float, ...] = field(
        default=(0.0, 300.0),
        metadata=doc("[min, max]: pause at each waypoint, drawn uniformly (ASSUMPTION)", "s"),
    )
    shadowing_decorrelation_m: float = field(
        default=50.0,
        metadata=doc(
            "a moving endpoint's shadowing is redrawn per square cell of this side "
            "(Gudmundson 1991 reports decorrelation distances of tens of metres; ASSUMPTION)",
            "m",
        ),
    )
    gap_sample_s: float = field(
        default=10.0,
        metadata=doc("coverage along the track is sampled this often (coverage gap metric)", "s"),
    )

    def __post_init__(self) -> None:
        for key in ("speed_mps", "pause_s"):
            pair = getattr(self, key)
            require(len(pair) == 2, key, f"must be [min, max], got {list(pair)}")
            require(
                all(math.isfinite(v) for v in pair) and 0 <= pair[0] <= pair[1],
                key,
                f"must be finite with 0 <= min <= max, got {list(pair)}",
            )
        require(self.speed_mps[0] > 0, "speed_mps", "the minimum speed must be > 0")
        require_finite(self, ("shadowing_decorrelation_m", "gap_sample_s"), positive=True)


@dataclass(frozen=True)
class EndpointConfig:
    """One class of battery endpoints. ``[endpoint]`` gives the defaults of every class."""

    name: str = field(default="endpoint", metadata=doc("class name (trackers, leak sensors, ...)"))
    share: float = field(default=1.0, metadata=doc("share of all endpoints in this class"))
    link: str = field(
        default="lora",
        metadata=doc("radio link used for uplinks: ble, fsk or lora (the primary one of a mask)"),
    )
    link_mask: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            'links the endpoint has radios for (Sidewalk SDK link mask), e.g. ["ble", '
            '"lora"]; each packet picks one by link_policy; links other than link send at '
            "tx_power_dbm capped at their radio's maximum; empty: only link"
        ),
    )
    link_policy: str = field(
        default="lowest_energy",
        metadata=doc(
            "with a mask: lowest_energy (the least energy per packet among the reachable links, "
            "falling back to the next) or ordered (the mask's order is the preference)"
        ),
    )
    traffic: str = field(
        default="periodic", metadata=doc("traffic model: periodic (with jitter) or poisson")
    )
    interval_s: float = field(
        default=900.0, metadata=doc("period (periodic) or mean inter-arrival time (poisson)", "s")
    )
    jitter_s: float = field(
        default=0.0,
        metadata=doc("periodic only: each generation is moved by U(-jitter, +jitter)", "s"),
    )
    payload_bytes: int = field(default=19, metadata=doc("application payload per packet", "B"))
    oversize: str = field(
        default="reject",
        metadata=doc(
            "payload over the link MTU: reject (drop as over_mtu), fragment, or connect (BLE: "
            "advertise, then send it over a BLE connection; other links fragment)"
        ),
    )
    tx_power_dbm: float = field(default=14.0, metadata=doc("transmit power", "dBm"))
    battery: str = field(
        default="2xAA", metadata=doc("battery: 2xAA, CR2032 or Li-SOCl2-AA (radios.energy)")
    )
    radio: str = field(
        default="auto",
        metadata=doc(
            "radio energy profile: nrf52840, sx1262, or auto (nrf52840 for BLE, else sx1262)"
        ),
    )
    acked: bool = field(
        default=False,
        metadata=doc("acknowledged uplinks: the best bridge answers; retries with backoff"),
    )
    max_retries: int = field(default=3, metadata=doc("retransmissions after a missing ACK"))
    backoff_max_s: float = field(
        default=2.0, metadata=doc("retry and LBT backoff drawn from U(0, backoff_max_s)", "s")
    )
    ack_delay_s: float = field(
        default=1.0,
        metadata=doc(
            "ACK sent this long after the uplink ends (ASSUMPTION, like LoRaWAN RX1)", "s"
        ),
    )
    ack_window_s: float = field(
        default=0.05,
        metadata=doc("receive window kept open when no ACK arrives (ASSUMPTION)", "s"),
    )
    ack_payload_bytes: int = field(default=1, metadata=doc("ACK payload on air (ASSUMPTION)", "B"))
    lbt: bool = field(default=False, metadata=doc("listen before talk before each transmission"))
    lbt_threshold_dbm: float = field(
        default=-90.0, metadata=doc("channel is busy when any transmission is heard above", "dBm")
    )
    lbt_sense_s: float = field(
        default=0.005,
        metadata=doc("receiver on-time of one LBT channel assessment (ASSUMPTION)", "s"),
    )
    lbt_max_attempts: int = field(
        default=5, metadata=doc("busy assessments before the packet is dropped as channel_busy")
    )
    lora: LoraParams = field(default_factory=LoraParams, metadata=doc("LoRa PHY parameters"))
    fsk: FskParams = field(default_factory=FskParams, metadata=doc("FSK PHY parameters"))
    ble: BleParams = field(default_factory=BleParams, metadata=doc("BLE advertising parameters"))
    fsk_link: FskLinkConfig = field(
        default_factory=FskLinkConfig, metadata=doc("FSK receive windows and beacon sync")
    )
    lora_link: LoraLinkConfig = field(
        default_factory=LoraLinkConfig, metadata=doc("LoRa receive windows after each uplink")
    )
    downlink: DownlinkConfig = field(
        default_factory=DownlinkConfig, metadata=doc("application downlinks to this class")
    )
    relay: bool = field(
        default=False,
        metadata=doc(
            "this class forwards other nodes' frames under a relaying [routing] strategy: it "
            "listens on its link whenever its radio is free (charged as RX) and retransmits"
        ),
    )
    relay_role: str = field(
        default="client",
        metadata=doc(
            "contention_flood only: client (cancels a pending rebroadcast when it overhears "
            "it) or router (never cancels, shorter contention window)"
        ),
    )
    mains_powered: bool = field(
        default=False,
        metadata=doc(
            "a mains-powered home device (smart plug, light): its energy is reported, it has no "
            "battery life"
        ),
    )
    mobility: MobilityConfig = field(
        default_factory=MobilityConfig,
        metadata=doc("moving endpoints (trackers, pet collars)"),
    )

    def __post_init__(self) -> None:
        require(self.link in LINKS, "link", f"must be one of {', '.join(LINKS)}; got {self.link!r}")
        require(
            self.relay_role in ("client", "router"),
            "relay_role",
            f"must be client or router; got {self.relay_role!r}",
        )
        if self.mobility.mobile:
            for key, bad in (
                ("relay", self.relay),
                ("acked", self.acked),
                ("downlink.interval_s", self.downlink.enabled),
                ("lbt", self.lbt),
            ):
                require(
                    not bad,
                    key,
                    "is not available to mobile classes: a moving endpoint only transmits "
                    "(neighbour tables of listeners are static for a run)",
                )
            require(
                not (self.link == "lora" and self.lora_link.periodic_listen_s),
                "lora_link.periodic_listen_s",
                "is not available to mobile classes",
            )
            require(
                self.oversize != "connect",
                "oversize",
                "connect is not available to mobile classes",
            )
            require(
                "fsk" not in self.links,
                "link",
                "mobile classes use ble or lora (FSK beacon sync is computed once per run)",
            )
        require(
            self.traffic in ("periodic", "poisson"),
            "traffic",
            f"must be periodic or poisson; got {self.traffic!r}",
        )
        require(
            math.isfinite(self.interval_s) and self.interval_s > 0,
            "interval_s",
            f"must be > 0, got {self.interval_s}",
        )
        require(
            0 <= self.jitter_s <= self.interval_s / 2,
            "jitter_s",
            f"must be in 0..interval_s/2 ({self.interval_s / 2}), got {self.jitter_s}",
        )
        require(0 < self.share <= 1, "share", f"must be in (0, 1], got {self.share}")
        require(
            0 <= self.payload_bytes <= 65535,
            "payload_bytes",
            f"must be in 0..65535, got {self.payload_bytes}",
        )
        require(
            self.oversize in ("reject", "fragment", "connect"),
            "oversize",
            f"must be reject, fragment or connect; got {self.oversize!r}",
        )
        require(
            -30 <= self.tx_power_dbm <= 30,
            "tx_power_dbm",
            f"must be in -30..30, got {self.tx_power_dbm}",
        )
        require(
            self.battery in BATTERIES,
            "battery",
            f"must be one of {', '.join(BATTERIES)}; got {self.battery!r}",
        )
        require(
            self.radio == "auto" or self.radio in RADIO_PROFILES,
            "radio",
            f"must be auto or one of {', '.join(RADIO_PROFILES)}; got {self.radio!r}",
        )
        require(
            self.radio == "auto" or self.radio == DEFAULT_RADIO[self.link],
            "radio",
            f"{self.radio} cannot send on link {self.link}; use {DEFAULT_RADIO[self.link]} or auto",
        )
        profile = RADIO_PROFILES[self.radio_name]
        require(
            self.tx_power_dbm <= profile.max_tx_power_dbm,
            "tx_power_dbm",
            f"{self.tx_power_dbm:g} dBm is above the {profile.name} maximum of "
            f"{profile.max_tx_power_dbm:g} dBm (link {self.link})",
        )
        require(
            self.fragments <= MAX_FRAGMENTS,
            "payload_bytes",
            f"{self.payload_bytes} B needs {self.fragments} fragments of {self.mtu_bytes} B on "
            f"{self.link}; at most {MAX_FRAGMENTS} are allowed",
        )
        require(0 <= self.max_retries <= 255, "max_retries", "must be in 0..255")
        require_finite(self, ("backoff_max_s", "ack_delay_s", "ack_window_s", "lbt_sense_s"))
        require(0 <= self.ack_payload_bytes <= 255, "ack_payload_bytes", "must be in 0..255")
        require(self.lbt_max_attempts >= 1, "lbt_max_attempts", "must be >= 1")
        for link in self.link_mask:
            require(
                link in LINKS, "link_mask", f"unknown link {link!r}; allowed: {', '.join(LINKS)}"
            )
        require(len(set(self.link_mask)) == len(self.link_mask), "link_mask", "lists a link twice")
        require(
            not self.link_mask or self.link in self.link_mask,
            "link_mask",
            f"must include the class's link ({self.link}), its primary link",
        )
        require(
            self.link_policy in ("lowest_energy", "ordered"),
            "link_policy",
            f"must be lowest_energy or ordered; got {self.link_policy!r}",
        )
        require(
            not (
                self.downlink.enabled
                and "lora" in self.links
                and self.lora_link.rx_windows == 0
                and self.lora_link.periodic_listen_s == 0
            ),
            "lora_link.rx_windows",
            "downlinks on LoRa need receive windows: rx_windows > 0 or periodic_listen_s > 0",
        )
        for link in self.links if self.downlink.enabled else ():
            # BLE downlinks travel in one connection's data PDU, the others in one frame
            mtu = (
                self.ble.data_length_bytes if link == "ble" else int(getattr(self, link).mtu_bytes)
            )
            require(
                self.downlink.payload_bytes <= mtu,
                "downlink.payload_bytes",
                f"{self.downlink.payload_bytes} B is over the {link} MTU of {mtu} B",
            )
        for key in ("acked", "lbt"):
            require(
                not (self.links == ("ble",) and getattr(self, key)),
                key,
                "is for fsk and lora links; BLE advertising has neither ACKs nor LBT",
            )

    @property
    def fragments(self) -> int:
        """Frames one packet needs (1 when it fits the MTU or is rejected)."""
        mtu = self.mtu_bytes
        if self.payload_bytes <= mtu or self.oversize == "reject":
            return 1
        if self.oversize == "connect" and self.link == "ble":
            return 1  # one transfer over a connection
        return -(-self.payload_bytes // mtu)

    @property
    def radio_name(self) -> str:
        """The energy profile in use (``radio``, with auto resolved by link)."""
        return DEFAULT_RADIO[self.link] if self.radio == "auto" else self.radio

    @property
    def links(self) -> tuple[str, ...]:
        """Every link the endpoint can send on (the mask, or just ``link``)."""
        return self.link_mask or (self.link,)

    @property
    def label(self) -> str:
        """``link``, or the mask joined with ``+`` (``ble+lora``)."""
        return "+".join(self.link_mask) if self.link_mask else self.link

    def radio_for(self, link: str) -> str:
        """The energy profile of the radio sending on ``link``."""
        return self.radio_name if link == self.link else DEFAULT_RADIO[link]

    def tx_power_for(self, link: str) -> float:
        """Transmit power on ``link``: ``tx_power_dbm``, capped at that radio's maximum on the
        links of a mask other than the primary one."""
        if link == self.link:
            return self.tx_power_dbm
        return min(self.tx_power_dbm, RADIO_PROFILES[self.radio_for(link)].max_tx_power_dbm)

    @property
    def mtu_bytes(self) -> int:
        """Largest application payload one transmission of this class's link carries."""
        return int(getattr(self, self.link).mtu_bytes)


@dataclass(frozen=True)
class BridgeConfig:
    links: tuple[str, ...] = field(
        default=LINKS, metadata=doc("radios every bridge listens with: any of ble, fsk, lora")
    )
    ble_tx_power_dbm: float = field(
        default=8.0, metadata=doc("BLE transmit power (ASSUMPTION; nRF52840 maximum)", "dBm")
    )
    fsk_tx_power_dbm: float = field(
        default=20.0, metadata=doc("FSK transmit power (ASSUMPTION)", "dBm")
    )
    lora_tx_power_dbm: float = field(
        default=20.0, metadata=doc("LoRa transmit power (ASSUMPTION)", "dBm")
    )
    lora_demodulators: int = field(
        default=8,
        metadata=doc("LoRa packets decoded at once (SX1301/SX1302 gateway: 8 paths)"),
    )
    fsk_demodulators: int = field(default=1, metadata=doc("FSK packets decoded at once"))
    ble_demodulators: int = field(default=1, metadata=doc("BLE PDUs received at once"))
    scan_interval_s: float = field(
        default=0.1, metadata=doc("BLE scan interval; channel 37->38->39 each interval", "s")
    )
    scan_window_s: float = field(
        default=0.1,
        metadata=doc("BLE scan window per interval (= interval: continuous, ASSUMPTION)", "s"),
    )
    backhaul_latency_median_s: float = field(
        default=0.05,
        metadata=doc("median bridge -> network server latency, log-normal (ASSUMPTION)", "s"),
    )
    backhaul_latency_sigma: float = field(
        default=0.5, metadata=doc("log-normal shape (sigma of ln latency) (ASSUMPTION)")
    )
    fsk_beacon_interval_s: float = field(
        default=10.0, metadata=doc("FSK beacon period, network-wide time grid (Sidewalk)", "s")
    )
    fsk_slot_s: float = field(
        default=0.063, metadata=doc("FSK slot length of the time grid (Sidewalk: 63 ms)", "s")
    )
    fsk_beacon_bytes: int = field(
        default=16, metadata=doc("FSK beacon payload on air (ASSUMPTION)", "B")
    )
    backhaul_rate_bps: float = field(
        default=80_000.0,
        metadata=doc(
            "bandwidth of each bridge's Sidewalk uplink to the server, a FIFO queue "
            "(Sidewalk FAQ: 80 kbps); 0 = unlimited",
            "bit/s",
        ),
    )
    backhaul_queue_bytes: float = field(
        default=0.0,
        metadata=doc(
            "bytes a bridge may hold queued; more are dropped (ASSUMPTION); 0 = no limit", "B"
        ),
    )
    backhaul_overhead_bytes: int = field(
        default=24,
        metadata=doc(
            "bytes a bridge adds to each forwarded frame (metadata: gateway, RSSI, time; "
            "ASSUMPTION)",
            "B",
        ),
    )
    monthly_allowance_bytes: float = field(
        default=500e6,
        metadata=doc(
            "Sidewalk data per account per month, uplink and downlink (Sidewalk FAQ: 500 MB); "
            "copies over it are dropped; 0 = unlimited",
            "B",
        ),
    )
    allowance_period_s: float = field(
        default=30 * 86_400.0,
        metadata=doc("accounting period of the allowance (ASSUMPTION: a 30-day month)", "s"),
    )
    bridges_per_account: int = field(
        default=1, metadata=doc("bridges owned by one account, sharing its allowance")
    )
    backhaul_availability: float = field(
        default=1.0,
        metadata=doc("long-run share of time the internet link is up; 1 = never down"),
    )
    backhaul_outage_mean_s: float = field(
        default=1800.0, metadata=doc("mean length of one backhaul outage (ASSUMPTION)", "s")
    )
    relay: bool = field(
        default=False,
        metadata=doc(
            "bridges relay frames over the radio (a router role) when they cannot forward them "
            "over their own backhaul, under a relaying [routing] strategy"
        ),
    )

    def __post_init__(self) -> None:
        require(len(self.links) > 0, "links", "must name at least one of ble, fsk, lora")
        for link in self.links:
            require(link in LINKS, "links", f"unknown link {link!r}; allowed: {', '.join(LINKS)}")
        require(len(set(self.links)) == len(self.links), "links", "lists a link twice")
        for key in ("lora_demodulators", "fsk_demodulators", "ble_demodulators"):
            require(1 <= getattr(self, key) <= 64, key, "must be in 1..64")
        require(self.scan_interval_s > 0, "scan_interval_s", "must be > 0")
        require(
            0 < self.scan_window_s <= self.scan_interval_s,
            "scan_window_s",
            "must be in (0, scan_interval_s]",
        )
        require(self.backhaul_latency_median_s >= 0, "backhaul_latency_median_s", "must be >= 0")
        require(self.backhaul_latency_sigma >= 0, "backhaul_latency_sigma", "must be >= 0")
        require(
            0 < self.backhaul_availability <= 1,
            "backhaul_availability",
            f"must be in (0, 1], got {self.backhaul_availability}",
        )
        require(self.backhaul_outage_mean_s > 0, "backhaul_outage_mean_s", "must be > 0")
        require_finite(self, ("fsk_beacon_interval_s", "fsk_slot_s"), positive=True)
        require(0 <= self.fsk_beacon_bytes <= 255, "fsk_beacon_bytes", "must be in 0..255")
        for key in ("backhaul_rate_bps", "backhaul_queue_bytes", "monthly_allowance_bytes"):
            value = getattr(self, key)
            require(
                math.isfinite(value) and value >= 0,
                key,
                f"must be >= 0 (0: unlimited), got {value}",
            )
        require(
            0 <= self.backhaul_overhead_bytes <= 65535,
            "backhaul_overhead_bytes",
            "must be in 0..65535",
        )
        require(
            math.isfinite(self.allowance_period_s) and self.allowance_period_s > 0,
            "allowance_period_s",
            f"must be > 0, got {self.allowance_period_s}",
        )
        require(
            1 <= self.bridges_per_account <= 1_000_000,
            "bridges_per_account",
            f"must be >= 1, got {self.bridges_per_account}",
        )
        for key in ("ble_tx_power_dbm", "fsk_tx_power_dbm", "lora_tx_power_dbm"):
            require(-30 <= getattr(self, key) <= 30, key, "must be in -30..30")

    def tx_power_dbm(self, link: str) -> float:
        return float(getattr(self, f"{link}_tx_power_dbm"))

    def demodulators(self, link: str) -> int:
        return int(getattr(self, f"{link}_demodulators"))


@dataclass(frozen=True)
class PropagationExtras:
    """Terms added to whichever path-loss model is chosen."""

    wall_loss_db: float = field(
        default=10.0,
        metadata=doc(
            "added once per indoor end of a link (ITU-R P.2109-style building entry; ASSUMPTION)",
            "dB",
        ),
    )

    def __post_init__(self) -> None:
        require(0 <= self.wall_loss_db <= 60, "wall_loss_db", "must be in 0..60")


@dataclass(frozen=True)
class PrivacyConfig:
    """Sidewalk's privacy model: rotating transmission IDs and layered encryption."""

    rotation_period_s: float = field(
        default=900.0,
        metadata=doc(
            "transmission IDs rotate this often (Sidewalk privacy whitepaper: every 15 minutes); "
            "0 turns rotation off",
            "s",
        ),
    )
    encryption_overhead_bytes: int = field(
        default=0,
        metadata=doc(
            "bytes the three encryption layers add to every frame on air (ASSUMPTION: Amazon "
            "publishes no sizes; 0 keeps airtimes equal to the PHY's closed forms)",
            "B",
        ),
    )
    observe: bool = field(
        default=True,
        metadata=doc(
            "record which bridge heard which endpoint when, for the linkability metric (one "
            "entry per decoded copy: turn off for very large runs)"
        ),
    )

    def __post_init__(self) -> None:
        require(
            math.isfinite(self.rotation_period_s) and self.rotation_period_s >= 0,
            "rotation_period_s",
            f"must be >= 0 (0: no rotation), got {self.rotation_period_s}",
        )
        require(
            0 <= self.encryption_overhead_bytes <= 64,
            "encryption_overhead_bytes",
            f"must be in 0..64, got {self.encryption_overhead_bytes}",
        )


@dataclass(frozen=True)
class MetricsConfig:
    coverage_pdr_threshold: float = field(
        default=0.9, metadata=doc("an endpoint is covered when its PDR reaches this")
    )
    area_link: str = field(
        default="auto",
        metadata=doc(
            "link whose reach gives area_coverage: ble, fsk, lora or auto (largest class)"
        ),
    )
    area_probe_spacing_m: float = field(
        default=0.0,
        metadata=doc("probe grid spacing; 0 chooses about 40,000 probes over the area", "m"),
    )
    area_margin_m: float = field(
        default=0.0, metadata=doc("probes closer than this to the area's edge are left out", "m")
    )

    def __post_init__(self) -> None:
        require(
            0 < self.coverage_pdr_threshold <= 1,
            "coverage_pdr_threshold",
            "must be in (0, 1]",
        )
        require(
            self.area_link in (*LINKS, "auto"),
            "area_link",
            f"must be one of ble, fsk, lora, auto; got {self.area_link!r}",
        )
        require(self.area_probe_spacing_m >= 0, "area_probe_spacing_m", "must be >= 0")
        require(self.area_margin_m >= 0, "area_margin_m", "must be >= 0")


STRATEGIES: tuple[str, ...] = ("direct", "flood", "contention_flood", "gradient")


@dataclass(frozen=True)
class RoutingConfig:
    """How frames travel from endpoints to a bridge (``mesh.routing``). ``direct`` is Sidewalk's
    star; the others relay over nodes whose role has ``relay = true``."""

    strategy: str = field(
        default="direct",
        metadata=doc("direct, flood (managed flooding), contention_flood or gradient"),
    )
    ttl: int = field(
        default=7,
        metadata=doc(
            "flood (and gradient): initial TTL; a node relays when TTL >= 2 and decrements it "
            "(Bluetooth Mesh Profile 1.0.1, 3.4.6.3), so a frame makes at most ttl radio hops"
        ),
    )
    cache_size: int = field(
        default=64,
        metadata=doc(
            "flood, contention_flood: seen-message cache entries per relay, oldest evicted first "
            "(ASSUMPTION; the Mesh Profile leaves the size to the implementation)"
        ),
    )
    relay_retransmits: int = field(
        default=2,
        metadata=doc("flood: extra transmissions of each relayed frame (Relay Retransmit Count)"),
    )
    relay_interval_s: float = field(
        default=0.02,
        metadata=doc("flood: spacing of those transmissions (Relay Retransmit Interval)", "s"),
    )
    relay_delay_max_s: float = field(
        default=0.01,
        metadata=doc(
            "flood: a relay waits U(0, this) before its first transmission, like the random "
            "advertising delay (ASSUMPTION)",
            "s",
        ),
    )
    hop_limit: int = field(
        default=3,
        metadata=doc(
            "contention_flood: rebroadcasts a frame may take (Meshtastic hop_limit, default 3, "
            "at most 7)"
        ),
    )
    snr_min_db: float = field(
        default=-20.0,
        metadata=doc("contention_flood: SNR mapped to the smallest contention window", "dB"),
    )
    snr_max_db: float = field(
        default=10.0,
        metadata=doc("contention_flood: SNR mapped to the largest contention window", "dB"),
    )
    cw_min: int = field(
        default=3, metadata=doc("contention_flood: smallest window exponent (Meshtastic CWmin)")
    )
    cw_max: int = field(
        default=8, metadata=doc("contention_flood: largest window exponent (Meshtastic CWmax)")
    )
    originator_retries: int = field(
        default=3,
        metadata=doc(
            "contention_flood: retransmissions by the originator when it overhears no "
            "rebroadcast of its frame (implicit ACK) and no bridge decoded it"
        ),
    )
    beacon_interval_s: float = field(
        default=60.0,
        metadata=doc("gradient: every bridge and routed relay beacons its metric this often", "s"),
    )
    metric: str = field(
        default="hops",
        metadata=doc(
            "gradient: hops (hop count) or etx (expected transmissions, from beacon reception "
            "ratios; De Couto et al. 2003)"
        ),
    )
    etx_window: int = field(
        default=8, metadata=doc("gradient, etx: beacons per neighbour the ratio is computed over")
    )
    hop_retries: int = field(
        default=3,
        metadata=doc("gradient: retransmissions to the parent when its ACK is missing"),
    )
    parent_loss: int = field(
        default=2,
        metadata=doc(
            "gradient: frames in a row that the parent did not acknowledge before a node "
            "switches to its next best neighbour"
        ),
    )
    ack_delay_s: float = field(
        default=0.01,
        metadata=doc("gradient: a hop's ACK follows its frame after this turnaround", "s"),
    )
    relay_payload_overhead_bytes: int = field(
        default=0,
        metadata=doc(
            "bytes a relaying header (TTL, source, sequence) adds to every relayed frame on "
            "air (ASSUMPTION; 0 keeps relayed frames as long as the endpoint's)",
            "B",
        ),
    )

    def __post_init__(self) -> None:
        require(
            self.strategy in STRATEGIES,
            "strategy",
            f"must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}",
        )
        require(2 <= self.ttl <= 127, "ttl", f"must be in 2..127, got {self.ttl}")
        require(self.cache_size >= 1, "cache_size", "must be >= 1")
        require(0 <= self.relay_retransmits <= 7, "relay_retransmits", "must be in 0..7")
        require(1 <= self.hop_limit <= 7, "hop_limit", f"must be in 1..7, got {self.hop_limit}")
        require(
            0 <= self.cw_min <= self.cw_max <= 15,
            "cw_min",
            f"must satisfy 0 <= cw_min <= cw_max <= 15, got {self.cw_min}, {self.cw_max}",
        )
        require(self.snr_min_db < self.snr_max_db, "snr_min_db", "must be below snr_max_db")
        require(0 <= self.originator_retries <= 7, "originator_retries", "must be in 0..7")
        require(
            self.metric in ("hops", "etx"), "metric", f"must be hops or etx; got {self.metric!r}"
        )
        require(self.etx_window >= 1, "etx_window", "must be >= 1")
        require(0 <= self.hop_retries <= 15, "hop_retries", "must be in 0..15")
        require(self.parent_loss >= 1, "parent_loss", "must be >= 1")
        require(
            0 <= self.relay_payload_overhead_bytes <= 32,
            "relay_payload_overhead_bytes",
            "must be in 0..32",
        )
        require_finite(self, ("relay_interval_s", "relay_delay_max_s", "ack_delay_s"))
        require_finite(self, ("beacon_interval_s",), positive=True)

    @property
    def relaying(self) -> bool:
        return self.strategy != "direct"


@dataclass(frozen=True)
class OutageWindow:
    """One scheduled outage of some bridges."""

    bridges: tuple[int, ...] = field(
        default=(), metadata=doc("node ids of the bridges (as in nodes.csv / the topology)")
    )
    kind: str = field(
        default="power",
        metadata=doc("power (the bridge is off: no radio, no internet) or backhaul (no internet)"),
    )
    start_s: float = field(default=0.0, metadata=doc("outage start", "s"))
    end_s: float = field(default=0.0, metadata=doc("outage end", "s"))

    def __post_init__(self) -> None:
        require(len(self.bridges) > 0, "bridges", "must name at least one bridge node id")
        require(
            self.kind in ("power", "backhaul"),
            "kind",
            f"must be power or backhaul; got {self.kind!r}",
        )
        require_finite(self, ("start_s", "end_s"))
        require(self.end_s > self.start_s, "end_s", "must be after start_s")


@dataclass(frozen=True)
class NodeFailure:
    """A node that stops for good."""

    node: int = field(default=-1, metadata=doc("node id"))
    at_s: float = field(default=0.0, metadata=doc("when it fails", "s"))

    def __post_init__(self) -> None:
        require(self.node >= 0, "node", "must be a node id >= 0")
        require_finite(self, ("at_s",))


@dataclass(frozen=True)
class JammerConfig:
    """An interference source: bursts of power on one link's band."""

    x_m: float = field(default=0.0, metadata=doc("position", "m"))
    y_m: float = field(default=0.0, metadata=doc("position", "m"))
    link: str = field(default="lora", metadata=doc("band jammed: ble, fsk or lora (all channels)"))
    tx_power_dbm: float = field(default=14.0, metadata=doc("jammer power", "dBm"))
    duty_cycle: float = field(default=0.1, metadata=doc("share of time on, in (0, 1]"))
    burst_s: float = field(default=1.0, metadata=doc("length of one burst", "s"))
    start_s: float = field(default=0.0, metadata=doc("first possible burst", "s"))
    end_s: float = field(default=math.inf, metadata=doc("no burst after this", "s"))

    def __post_init__(self) -> None:
        require(self.link in LINKS, "link", f"must be one of {', '.join(LINKS)}; got {self.link!r}")
        require(0 < self.duty_cycle <= 1, "duty_cycle", "must be in (0, 1]")
        for key in ("x_m", "y_m", "tx_power_dbm"):
            require(math.isfinite(getattr(self, key)), key, "must be a finite number")
        require_finite(self, ("start_s",))
        require_finite(self, ("burst_s",), positive=True)
        require(self.end_s > self.start_s, "end_s", "must be after start_s")


@dataclass(frozen=True)
class FaultsConfig:
    """Bridge outages, permanent failures and jammers (``mesh.faults``); all seeded."""

    power_mtbf_s: float = field(
        default=0.0,
        metadata=doc("mean time between bridge power outages; 0: none (exponential)", "s"),
    )
    power_mttr_s: float = field(
        default=3600.0, metadata=doc("mean length of a power outage (exponential)", "s")
    )
    backhaul_mtbf_s: float = field(
        default=0.0,
        metadata=doc(
            "mean time between internet outages of each bridge; 0: none (besides "
            "[bridge] backhaul_availability)",
            "s",
        ),
    )
    backhaul_mttr_s: float = field(
        default=3600.0, metadata=doc("mean length of an internet outage", "s")
    )
    failure_fraction: float = field(
        default=0.0,
        metadata=doc(
            "share of bridges and relays that fail for good, each at a uniform time in the run"
        ),
    )
    outages: tuple[OutageWindow, ...] = field(
        default=(), metadata=doc("scheduled outages: [[faults.outages]] tables")
    )
    failures: tuple[NodeFailure, ...] = field(
        default=(), metadata=doc("scheduled permanent failures: [[faults.failures]] tables")
    )
    jammers: tuple[JammerConfig, ...] = field(
        default=(), metadata=doc("interference sources: [[faults.jammers]] tables")
    )

    def __post_init__(self) -> None:
        require_finite(self, ("power_mtbf_s", "backhaul_mtbf_s", "failure_fraction"))
        require_finite(self, ("power_mttr_s", "backhaul_mttr_s"), positive=True)
        require(0 <= self.failure_fraction <= 1, "failure_fraction", "must be in 0..1")

    @property
    def any(self) -> bool:
        return bool(
            self.power_mtbf_s
            or self.backhaul_mtbf_s
            or self.failure_fraction
            or self.outages
            or self.failures
            or self.jammers
        )


@dataclass(frozen=True)
class SimConfig:
    """Everything one run needs. ``topology`` and ``propagation`` are parameter dataclasses from
    ``topologies`` and ``radios.propagation``; their ``name`` class attribute selects the kind."""

    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    topology: Any = None
    propagation: Any = field(default_factory=LogDistance)
    walls: PropagationExtras = field(default_factory=PropagationExtras)
    medium: MediumConfig = field(default_factory=MediumConfig)
    endpoint_classes: tuple[EndpointConfig, ...] = (EndpointConfig(),)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)

    def __post_init__(self) -> None:
        require(len(self.endpoint_classes) > 0, "endpoint_class", "at least one class is needed")
        names = [c.name for c in self.endpoint_classes]
        require(len(set(names)) == len(names), "endpoint_class", f"duplicate class names {names}")
        area_link = self.metrics.area_link
        require(
            area_link == "auto" or area_link in self.links_in_use,
            "metrics.area_link",
            f"{area_link!r} is not the link of any endpoint class "
            f"({', '.join(self.links_in_use)}); use one of those or auto",
        )
        slot_s = self.bridge.fsk_slot_s
        for c in self.endpoint_classes:
            slots = c.fsk_link.rx_window_interval_s / slot_s
            require(
                "fsk" not in c.links or abs(slots - round(slots)) <= 1e-6 * slots,
                "endpoint_class",
                f"class {c.name}: fsk_link.rx_window_interval_s = "
                f"{c.fsk_link.rx_window_interval_s:g} s is not a whole number of slots "
                f"(bridge.fsk_slot_s = {slot_s:g} s)",
            )
        overhead = self.privacy.encryption_overhead_bytes
        for c in self.endpoint_classes:
            for link in c.links:
                mtu = int(getattr(c, link).mtu_bytes)
                require(
                    overhead < mtu,
                    "privacy.encryption_overhead_bytes",
                    f"{overhead} B leaves no room for data in the {mtu} B {link} MTU "
                    f"of class {c.name}",
                )
                if link == "ble":
                    continue
                # every other frame the class sends or receives on this link carries it too
                frames = {"ack_payload_bytes": c.ack_payload_bytes}
                if c.downlink.enabled:
                    frames["downlink.payload_bytes"] = c.downlink.payload_bytes
                if link == "lora" and c.lora_link.periodic_listen_s:
                    frames["lora_link.keepalive_bytes"] = c.lora_link.keepalive_bytes
                for key, size in frames.items():
                    require(
                        size + overhead <= mtu,
                        "endpoint_class",
                        f"class {c.name}: {key} = {size} B + {overhead} B of encryption overhead "
                        f"is over the {mtu} B {link} MTU",
                    )
        rotation_s = self.privacy.rotation_period_s
        horizon_s = 2 * self.scenario.duration_s + 86_400.0
        require(
            rotation_s == 0 or horizon_s / rotation_s < 2**32,
            "privacy.rotation_period_s",
            f"{rotation_s:g} s gives more than 2**32 ID epochs over the run; use a longer period",
        )
        for jammer in self.faults.jammers:
            require(
                jammer.link in self.links_in_use,
                "faults.jammers",
                f"a jammer on {jammer.link} jams nothing: no endpoint class uses that link "
                f"({', '.join(self.links_in_use)})",
            )
        total = sum(c.share for c in self.endpoint_classes)
        require(
            abs(total - 1.0) <= 1e-6,
            "endpoint_class",
            f"class shares must sum to 1, got {total:g}",
        )

    @property
    def links_in_use(self) -> tuple[str, ...]:
        used = {link for c in self.endpoint_classes for link in c.links}
        return tuple(link for link in LINKS if link in used)
