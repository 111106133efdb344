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

    listens: bool = field(init=False)
    """Whether the endpoint opens receive windows that follow its uplinks (downlinks enabled, or
    LoRa receive windows after each uplink)."""

    def __post_init__(self) -> None:
        cfg = self.config
        lora_windows = self.link == "lora" and cfg.lora_link.rx_windows > 0
        object.__setattr__(self, "listens", cfg.downlink.enabled or lora_windows)

    def airtime_s(self, payload_bytes: int) -> float:
        """On-air time of one frame carrying ``payload_bytes`` of application data (plus the
        security overhead)."""
        params = getattr(self.config, self.link)
        return float(params.airtime_s(payload_bytes + self.overhead_bytes))


def class_phy(cfg: EndpointConfig, overhead_bytes: int = 0) -> ClassPhy:
    """The PHY of one class; ``overhead_bytes`` of every frame are security overhead, so the
    application payload one frame carries (``mtu_bytes``) is that much smaller."""
    if cfg.link == "lora":
        return ClassPhy(
            "lora",
            cfg.lora.sf - 5,
            cfg.lora.channels,
            cfg.lora.mtu_bytes - overhead_bytes,
            cfg.lora.sensitivity_dbm(),
            cfg,
            overhead_bytes,
        )
    if cfg.link == "fsk":
        return ClassPhy(
            "fsk",
            0,
            cfg.fsk.channels,
            cfg.fsk.mtu_bytes - overhead_bytes,
            float(cfg.fsk.sensitivity_dbm),
            cfg,
            overhead_bytes,
        )
    return ClassPhy(
        "ble",
        0,
        len(ble.ADV_CHANNELS),
        cfg.ble.mtu_bytes - overhead_bytes,
        cfg.ble.sensitivity_dbm(),
        cfg,
        overhead_bytes,
    )


def sir_thresholds_db(
    link: str, classes: tuple[EndpointConfig, ...], medium: MediumConfig
) -> np.ndarray:
    """Threshold matrix ``[signal variant, interferer variant]`` in dB for ``link``."""
    if link == "lora":
        return np.array(lora.rejection_matrix(medium.lora_rejection), dtype=np.float64)
    if link == "fsk":
        values = [c.fsk.co_channel_rejection_db for c in classes if c.link == "fsk"]
        return np.array([[max(values, default=fsk.FskParams().co_channel_rejection_db)]])
    return np.array([[ble.CO_CHANNEL_REJECTION_DB]])


def sir_weights(thresholds_db: np.ndarray, capture: bool) -> np.ndarray:
    """Linear weights applied to interferer power (see module docstring)."""
    if capture:
        return np.asarray(10.0 ** (thresholds_db / 10.0), dtype=np.float64)
    return np.eye(thresholds_db.shape[0], dtype=np.float64)
