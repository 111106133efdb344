"""Static link gains between nodes: path loss, per-link shadowing and wall loss.

Model: ``gain_db(i, j) = -(median_loss(d_ij, f) + X_ij) - wall(i) - wall(j)`` where the median loss
comes from the scenario's propagation model (``radios.propagation``), ``X_ij`` is the static,
reciprocal, seeded log-normal shadowing of the unordered pair (``radios.propagation``'s pair hash,
keyed by one draw from the run's ``shadowing`` stream, truncated at ``clip`` standard deviations)
and ``wall(k)`` is the configured wall loss when node ``k`` is indoor. The same function serves the
neighbour tables, interference and listen-before-talk, so every part of the engine sees the same
channel (area coverage uses the same median loss and walls, without shadowing).

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
    _x: np.ndarray = field(init=False, repr=False)
    _y: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sigma = float(self.model.shadowing_sigma_db)
        clip = float(self.model.shadowing_clip_sigma)
        object.__setattr__(self, "_shadowing", PairShadowing(self.shadow_key, sigma, clip))
        object.__setattr__(self, "_walls_db", self.wall_loss_db * self.indoor.astype(np.float64))
        object.__setattr__(self, "_loss", {})
        object.__setattr__(self, "_x", np.ascontiguousarray(self.positions_m[:, 0]))
        object.__setattr__(self, "_y", np.ascontiguousarray(self.positions_m[:, 1]))

    def _median_loss(self, squared_distance_m2: np.ndarray, frequency_hz: float) -> np.ndarray:
        loss = self._loss.get(frequency_hz)
        if loss is None:
            loss = self._loss[frequency_hz] = self.model.loss_function(frequency_hz)
        return np.array(loss(squared_distance_m2), dtype=np.float64)

    def squared_distance_m2(self, tx: np.ndarray, rx: np.ndarray) -> np.ndarray:
        dx = self._x.take(tx) - self._x.take(rx)
        dy = self._y.take(tx) - self._y.take(rx)
        return dx * dx + dy * dy

    def gain_db(self, tx: np.ndarray, rx: np.ndarray, frequency_hz: float) -> np.ndarray:
        """Gain (negative loss) in dB for each pair ``(tx[k], rx[k])`` of node ids."""
        return self.gain_at_db(tx, rx, self.squared_distance_m2(tx, rx), frequency_hz)

    def gain_at_db(
        self, tx: np.ndarray, rx: np.ndarray, squared_distance_m2: np.ndarray, frequency_hz: float
    ) -> np.ndarray:
        """As :meth:`gain_db` when the squared distances are already known."""
        loss = self._median_loss(squared_distance_m2, frequency_hz)
        loss += self._shadowing(tx, rx)
        loss += self._walls_db.take(tx)
        loss += self._walls_db.take(rx)
        return np.negative(loss, out=loss)

    def from_point_db(self, point_m: np.ndarray, frequency_hz: float) -> np.ndarray:
        """Gain from an outdoor point (a jammer) to every node: median loss and the node's wall,
        no shadowing."""
        dx = self._x - float(point_m[0])
        dy = self._y - float(point_m[1])
        loss = self._median_loss(dx * dx + dy * dy, frequency_hz)
        return np.asarray(-(loss + self._walls_db), dtype=np.float64)

    def gain_from_db(
        self, point_m: np.ndarray, shadow_id: np.ndarray, rx: np.ndarray, frequency_hz: float
    ) -> np.ndarray:
        """Gain from outdoor points ``point_m`` (k, 2) to nodes ``rx`` (k,), with the pair
        shadowing of ``(shadow_id[k], rx[k])``: a moving node stands for the id of the place it
        is at (``mesh.movers``)."""
        dx = self._x.take(rx) - point_m[:, 0]
        dy = self._y.take(rx) - point_m[:, 1]
        loss = self._median_loss(dx * dx + dy * dy, frequency_hz)
        loss += self._shadowing(shadow_id, rx)
        loss += self._walls_db.take(rx)
        return np.negative(loss, out=loss)

    def max_range_m(self, max_loss_db: float, frequency_hz: float) -> float:
        """Largest distance at which any link (most favourable shadowing, no walls) could have a
        loss of at most ``max_loss_db``: the pruning radius of neighbour searches."""
        return float(self.model.max_range_m(max_loss_db, frequency_hz))
