"""What the engine needs to know about each radio link, derived from ``radios``.

Model: a link is a band (900 MHz for FSK and LoRa, 2.4 GHz for BLE), a centre frequency, a set of
channels and a matrix of signal-to-interference thresholds between its *variants* (LoRa spreading
factors SF5..SF12; one variant for FSK and BLE). A transmission survives interference at a receiver
when ``S >= sum_k w[v_s, v_k] * I_k`` with ``w = 10**(threshold_dB / 10)``: for one interferer this
is exactly the per-interferer SIR test of Goursaud & Gorce (2015) / Croce et al. (2018); with
several it is their cumulative generalisation. With capture off, ``w`` is 1 between equal variants
and 0 between different ones: any overlap of equal variants destroys both, different SFs are
orthogonal.

Sources: thresholds, sensitivities and airtimes are those of ``radios.lora``, ``radios.fsk`` and
``radios.ble`` (each cites its datasheet or standard).

Leaves out: FSK/LoRa cross-technology interference (they are separate channel sets), adjacent
channel interference, per-channel frequency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mesh.config import EndpointConfig, MediumConfig
from radios import ble, fsk, lora
from radios.energy import RadioEnergyProfile

BAND: dict[str, str] = {"ble": "2.4GHz", "fsk": "900MHz", "lora": "900MHz"}
BANDS: tuple[str, ...] = ("900MHz", "2.4GHz")
FREQUENCY_HZ: dict[str, float] = {
    "ble": ble.FREQUENCY_HZ,
    "fsk": lora.FREQUENCY_HZ,
    "lora": lora.FREQUENCY_HZ,
}
N_VARIANTS: dict[str, int] = {"ble": 1, "fsk": 1, "lora": 8}
N_CHANNELS: dict[str, int] = {"ble": len(ble.ADV_CHANNELS)}


@dataclass(frozen=True)
class ClassPhy:
    """The physical layer one endpoint class transmits with."""

    link: str
    variant: int
    channels: int
    mtu_bytes: int
    sensitivity_dbm: float
    config: EndpointConfig
    overhead_bytes: int = 0  # security overhead on air per frame (``[privacy]``)
    tx_power_dbm: float = 14.0
    state_offset: int = 0  # ledger state offset of the radio chip sending on this link

    listens: bool = field(init=False)
    """Whether the endpoint opens receive windows that follow its uplinks (downlinks enabled, or
    LoRa receive windows after each uplink)."""

    def __post_init__(self) -> None:
        cfg = self.config
        lora = cfg.lora_link
        lora_windows = self.link == "lora" and (lora.rx_windows > 0 or lora.periodic_listen_s > 0)
        object.__setattr__(self, "listens", lora_windows or cfg.downlink.enabled)

    def airtime_s(self, payload_bytes: int) -> float:
        """On-air time of one frame carrying ``payload_bytes`` of application data (plus the
        security overhead)."""
        params = getattr(self.config, self.link)
        return float(params.airtime_s(payload_bytes + self.overhead_bytes))


def class_phy(
    cfg: EndpointConfig, overhead_bytes: int = 0, link: str | None = None, state_offset: int = 0
) -> ClassPhy:
    """The PHY one class sends with on ``link`` (default: its primary link).
    ``overhead_bytes`` of every frame are security overhead, so the application payload one
    frame carries (``mtu_bytes``) is that much smaller. ``state_offset`` selects the ledger
    states of the radio chip doing it (``mesh.ledger``: 0 for the class's main chip)."""
    link = cfg.link if link is None else link
    if link == "lora":
        variant, channels = cfg.lora.sf - 5, cfg.lora.channels
        mtu, sensitivity = cfg.lora.mtu_bytes, cfg.lora.sensitivity_dbm()
    elif link == "fsk":
        variant, channels = 0, cfg.fsk.channels
        mtu, sensitivity = cfg.fsk.mtu_bytes, float(cfg.fsk.sensitivity_dbm)
    else:
        variant, channels = 0, len(ble.ADV_CHANNELS)
        mtu, sensitivity = cfg.ble.mtu_bytes, cfg.ble.sensitivity_dbm()
    return ClassPhy(
        link,
        variant,
        channels,
        mtu - overhead_bytes,
        sensitivity,
        cfg,
        overhead_bytes,
        cfg.tx_power_for(link),
        state_offset,
    )


def packet_energy_j(phy: ClassPhy, profile: RadioEnergyProfile, voltage_v: float) -> float:
    """Transmit energy of one application packet on ``phy`` (every frame and, on BLE, every
    advertising PDU): the ranking behind ``link_policy = "lowest_energy"``."""
    cfg = phy.config
    frames = max(1, -(-cfg.payload_bytes // max(phy.mtu_bytes, 1)))
    size = min(cfg.payload_bytes, phy.mtu_bytes)
    pdus = 3 * cfg.ble.adv_events if phy.link == "ble" else 1
    airtime_s = phy.airtime_s(size) * frames * pdus
    return airtime_s * profile.tx_current_at(phy.tx_power_dbm) * voltage_v


def sir_thresholds_db(
    link: str, classes: tuple[EndpointConfig, ...], medium: MediumConfig
) -> np.ndarray:
    """Threshold matrix ``[signal variant, interferer variant]`` in dB for ``link``."""
    if link == "lora":
        return np.array(lora.rejection_matrix(medium.lora_rejection), dtype=np.float64)
    if link == "fsk":
        values = [c.fsk.co_channel_rejection_db for c in classes if "fsk" in c.links]
        return np.array([[max(values, default=fsk.FskParams().co_channel_rejection_db)]])
    return np.array([[ble.CO_CHANNEL_REJECTION_DB]])


def sir_weights(thresholds_db: np.ndarray, capture: bool) -> np.ndarray:
    """Linear weights applied to interferer power (see module docstring)."""
    if capture:
        return np.asarray(10.0 ** (thresholds_db / 10.0), dtype=np.float64)
    return np.eye(thresholds_db.shape[0], dtype=np.float64)
