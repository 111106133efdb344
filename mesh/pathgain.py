"""Static link gains between nodes: path loss, per-link shadowing and wall loss.

Model: ``gain_db(i, j) = -(median_loss(d_ij, f) + X_ij) - wall(i) - wall(j)`` where the median loss
comes from the scenario's propagation model (``radios.propagation``), ``X_ij`` is the static,
reciprocal, seeded log-normal shadowing of the unordered pair (``radios.propagation.shadowing_db``,
keyed by one draw from the run's ``shadowing`` stream) and ``wall(k)`` is the configured wall loss
when node ``k`` is indoor. The same function serves the neighbour tables, listen-before-talk and
area coverage, so every part of the engine sees the same channel.

Leaves out: fast fading, antenna patterns and heights, per-channel frequency differences within a
band (each link uses its band's centre frequency), time-varying shadowing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from radios.propagation import shadowing_db


@dataclass(frozen=True)
class PathGain:
    positions_m: np.ndarray
    indoor: np.ndarray
    model: Any
    wall_loss_db: float
    shadow_key: int

    def gain_db(self, tx: np.ndarray, rx: np.ndarray, frequency_hz: float) -> np.ndarray:
        """Gain (negative loss) in dB for each pair ``(tx[k], rx[k])``."""
        tx = np.asarray(tx, dtype=np.int64)
        rx = np.asarray(rx, dtype=np.int64)
        delta = self.positions_m[tx] - self.positions_m[rx]
        distance_m = np.hypot(delta[:, 0], delta[:, 1])
        return self.gain_at_db(tx, rx, distance_m, frequency_hz)

    def gain_at_db(
        self, tx: np.ndarray, rx: np.ndarray, distance_m: np.ndarray, frequency_hz: float
    ) -> np.ndarray:
        """As :meth:`gain_db` when the distances are already known."""
        loss = np.asarray(self.model.median_loss_db(distance_m, frequency_hz), dtype=np.float64)
        sigma = float(self.model.shadowing_sigma_db)
        if sigma > 0:
            loss = loss + shadowing_db(
                self.shadow_key, tx, rx, sigma, float(self.model.shadowing_clip_sigma)
            )
        walls = self.wall_loss_db * (
            self.indoor[tx].astype(np.float64) + self.indoor[rx].astype(np.float64)
        )
        return -(loss + walls)

    def max_range_m(self, max_loss_db: float, frequency_hz: float) -> float:
        """Largest distance at which any link (most favourable shadowing, no walls) could have a
        loss of at most ``max_loss_db``: the pruning radius of neighbour searches."""
        return float(self.model.max_range_m(max_loss_db, frequency_hz))
