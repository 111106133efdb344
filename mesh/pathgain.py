"""Static link gains between nodes: path loss, per-link shadowing and wall loss.

Model: ``gain_db(i, j) = -(median_loss(d_ij, f) + X_ij) - wall(i) - wall(j)`` where the median loss
comes from the scenario's propagation model (``radios.propagation``), ``X_ij`` is the static,
reciprocal, seeded log-normal shadowing of the unordered pair (``radios.propagation``'s pair hash,
keyed by one draw from the run's ``shadowing`` stream, truncated at ``clip`` standard deviations)
and ``wall(k)`` is the configured wall loss when node ``k`` is indoor. The same function serves the
neighbour tables, interference, listen-before-talk and area coverage, so every part of the engine
sees the same channel.

Leaves out: fast fading, antenna patterns and heights, per-channel frequency differences within a
band (each link uses its band's centre frequency), time-varying shadowing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from radios.propagation import PairShadowing


@dataclass(frozen=True)
class PathGain:
    positions_m: np.ndarray
    indoor: np.ndarray
    model: Any
    wall_loss_db: float
    shadow_key: int
    _shadowing: PairShadowing = field(init=False, repr=False)
    _walls_db: np.ndarray = field(init=False, repr=False)
    _loss: dict[float, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sigma = float(self.model.shadowing_sigma_db)
        clip = float(self.model.shadowing_clip_sigma)
        object.__setattr__(self, "_shadowing", PairShadowing(self.shadow_key, sigma, clip))
        object.__setattr__(self, "_walls_db", self.wall_loss_db * self.indoor.astype(np.float64))
        object.__setattr__(self, "_loss", {})

    def _median_loss(self, distance_m: np.ndarray, frequency_hz: float) -> np.ndarray:
        loss = self._loss.get(frequency_hz)
        if loss is None:
            loss = self._loss[frequency_hz] = self.model.loss_function(frequency_hz)
        return np.asarray(loss(distance_m), dtype=np.float64)

    def distance_m(self, tx: np.ndarray, rx: np.ndarray) -> np.ndarray:
        delta = self.positions_m[tx] - self.positions_m[rx]
        return np.hypot(delta[:, 0], delta[:, 1])

    def gain_db(self, tx: np.ndarray, rx: np.ndarray, frequency_hz: float) -> np.ndarray:
        """Gain (negative loss) in dB for each pair ``(tx[k], rx[k])`` of node ids."""
        return self.gain_at_db(tx, rx, self.distance_m(tx, rx), frequency_hz)

    def gain_at_db(
        self, tx: np.ndarray, rx: np.ndarray, distance_m: np.ndarray, frequency_hz: float
    ) -> np.ndarray:
        """As :meth:`gain_db` when the distances are already known."""
        loss = self._median_loss(distance_m, frequency_hz) + self._shadowing(tx, rx)
        return -(loss + self._walls_db[tx] + self._walls_db[rx])

    def max_range_m(self, max_loss_db: float, frequency_hz: float) -> float:
        """Largest distance at which any link (most favourable shadowing, no walls) could have a
        loss of at most ``max_loss_db``: the pruning radius of neighbour searches."""
        return float(self.model.max_range_m(max_loss_db, frequency_hz))
