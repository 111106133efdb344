"""US-style suburban street grid: blocks of back-to-back lots, houses, yards and streets.

What it models
    A rectangular grid of city blocks separated by streets.  Each block holds two rows of
    ``homes_per_block_side`` lots placed back to back: the south row fronts the street below the
    block, the north row the street above.  A lot is ``lot_width_m`` along the street by
    ``lot_depth_m`` deep, so a block is ``homes_per_block_side*lot_width_m`` by ``2*lot_depth_m``.
    Streets of ``street_width_m`` run between all blocks and around the edge, so the study area is

        width_m  = cols*block_w + (cols+1)*street_width_m
        height_m = rows*block_h + (rows+1)*street_width_m

    with ``n_blocks = ceil(homes / (2*homes_per_block_side))`` blocks laid out so that the *area*
    is as close to square as the block grid allows: ``cols`` minimises ``|ln(width/height)|``,
    ``rows = ceil(n_blocks/cols)``.  Blocks are
    filled in order (row by row from the origin, x fastest; inside a block the south row west to
    east, then the north row), so exactly ``homes`` lots are occupied; leftover lots and blocks stay
    empty but their streets exist.  Each occupied lot has one ``house_width_m x house_depth_m``
    house footprint, centred along the frontage and ``setback_m`` back from the street.

    * Bridges: exactly ``round(bridge_fraction*homes)`` houses (rounded half up, chosen uniformly
      without replacement) host one bridge at a uniform point of the footprint (indoor, HOUSE).
    * Endpoints: ``endpoints`` if given, else ``round(endpoints_per_home*homes)``.  Each endpoint
      independently picks a class with probabilities ``house_share / yard_share / street_share``:
      house -> uniform point in the footprint of a uniformly chosen house (indoor, HOUSE);
      yard -> uniform point in a uniformly chosen lot outside its footprint (outdoor, YARD);
      street -> uniform along the street centre lines, weighted by length (outdoor, STREET).
    * ``streets_m`` holds the centre lines, split at intersections (one segment per block side),
      for a later mobility model.  ``fields["lot"]`` (int64) gives the lot / home index of every
      node (index into :func:`layout` ``.lots_m``), -1 for street endpoints.

Defaults and sources
    * Lot 20 m x 35 m = 700 m^2 (~7,500 sq ft): the US Census Bureau Survey of Construction
      ("Characteristics of New Housing") reports a median lot of new single-family detached homes
      just under 8,600 sq ft (~800 m^2) in 2015, with 42 % of 2022 sales on lots under 7,000 sq ft.
    * Street 12 m (~40 ft): between typical local-street pavement (26-36 ft curb to curb) and
      right of way (50-60 ft) in US municipal subdivision codes; ASSUMPTION as a single number.
    * House 12 m x 12 m footprint (~1,550 sq ft): Census average new-home floor area ~2,500 sq ft
      (2019) over one to two storeys plus garage; ASSUMPTION.
    * Setback 6 m (~20 ft): common minimum front setback in US residential zoning; ASSUMPTION.
    * 10 lots per block side (200 m blocks): ASSUMPTION, typical suburban block length.
    * bridge_fraction 0.2, endpoints_per_home 1.5 and the 0.6 / 0.25 / 0.15 house/yard/street
      split: ASSUMPTION (no public Sidewalk adoption data); sweep them in experiments.
    With the defaults, 400 homes occupy 1072 m x 340 m, i.e. ~1,100 homes/km^2 (~4.4 homes per
    gross acre), within the 3-6 units/acre typical of US single-family suburbs.

What it leaves out
    Curved streets, cul-de-sacs, alleys, lot-size variation, multi-unit buildings, house interiors
    and floors (indoor is a single flag), trees and fences, empty lots in the middle of the
    neighbourhood, and correlation between endpoints and the bridge owner's house.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Final

import numpy as np

from topologies.base import (
    PLACE_HOUSE,
    PLACE_STREET,
    PLACE_YARD,
    ROLE_BRIDGE,
    ROLE_ENDPOINT,
    Topology,
    TopologyError,
    check_float,
    check_int,
    meta,
)

__all__ = (
    "SuburbLayout",
    "SuburbParams",
    "generate",
    "layout",
)

SHARE_TOLERANCE: Final[float] = 1e-9

_HOUSE, _YARD, _STREET = 0, 1, 2  # endpoint location classes, in share order


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


@dataclass(frozen=True)
class SuburbParams:
    """Parameters of the suburban street-grid topology."""

    name: ClassVar[str] = "suburb"

    homes: int = field(default=400, metadata=meta("number of occupied lots (one house each)"))
    bridge_fraction: float = field(
        default=0.2, metadata=meta("fraction of houses hosting one bridge (rounded half up)")
    )
    lot_width_m: float = field(default=20.0, metadata=meta("lot frontage along the street", "m"))
    lot_depth_m: float = field(
        default=35.0, metadata=meta("lot depth from the street to the back lot line", "m")
    )
    street_width_m: float = field(
        default=12.0, metadata=meta("street width between blocks and around the edge", "m")
    )
    homes_per_block_side: int = field(
        default=10, metadata=meta("lots per row; a block has two rows back to back")
    )
    endpoints: int | None = field(
        default=None, metadata=meta("total endpoints; if unset, round(endpoints_per_home*homes)")
    )
    endpoints_per_home: float = field(
        default=1.5, metadata=meta("endpoints per home, used when endpoints is unset")
    )
    house_share: float = field(
        default=0.6, metadata=meta("probability an endpoint is inside a house (indoor)")
    )
    yard_share: float = field(
        default=0.25, metadata=meta("probability an endpoint is in a yard (outdoor)")
    )
    street_share: float = field(
        default=0.15, metadata=meta("probability an endpoint is on a street centre line")
    )
    house_width_m: float = field(
        default=12.0, metadata=meta("house footprint width along the street", "m")
    )
    house_depth_m: float = field(
        default=12.0, metadata=meta("house footprint depth away from the street", "m")
    )
    setback_m: float = field(
        default=6.0, metadata=meta("distance from the street lot line to the house front", "m")
    )

    def __post_init__(self) -> None:
        check_int("homes", self.homes, 1)
        check_float("bridge_fraction", self.bridge_fraction, minimum=0.0, maximum=1.0)
        for name in ("lot_width_m", "lot_depth_m", "street_width_m"):
            check_float(name, getattr(self, name), minimum=0.0, strict_minimum=True)
        check_int("homes_per_block_side", self.homes_per_block_side, 1)
        if self.endpoints is not None:
            check_int("endpoints", self.endpoints, 0)
        check_float("endpoints_per_home", self.endpoints_per_home, minimum=0.0)
        for name in ("house_share", "yard_share", "street_share"):
            check_float(name, getattr(self, name), minimum=0.0, maximum=1.0)
        total = float(self.house_share) + float(self.yard_share) + float(self.street_share)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise TopologyError(
                "house_share + yard_share + street_share must sum to 1 (within 1e-9), got "
                f"{self.house_share!r} + {self.yard_share!r} + {self.street_share!r} = {total!r}"
            )
        for name in ("house_width_m", "house_depth_m"):
            check_float(name, getattr(self, name), minimum=0.0, strict_minimum=True)
        check_float("setback_m", self.setback_m, minimum=0.0)
        if self.house_width_m > self.lot_width_m:
            raise TopologyError(
                f"house_width_m must be <= lot_width_m ({self.lot_width_m!r}), "
                f"got {self.house_width_m!r}"
            )
        if self.setback_m + self.house_depth_m > self.lot_depth_m:
            raise TopologyError(
                f"setback_m + house_depth_m must be <= lot_depth_m ({self.lot_depth_m!r}), got "
                f"{self.setback_m!r} + {self.house_depth_m!r}"
            )
        if self.yard_share > 0 and self.house_width_m * self.house_depth_m >= (
            self.lot_width_m * self.lot_depth_m
        ):
            raise TopologyError(
                "yard_share must be 0 when the house footprint fills the whole lot "
                f"(house_width_m x house_depth_m = lot_width_m x lot_depth_m), got "
                f"{self.yard_share!r}"
            )

    @property
    def n_bridges(self) -> int:
        """Number of bridges: ``bridge_fraction*homes`` rounded half up."""
        return _round_half_up(float(self.bridge_fraction) * int(self.homes))

    @property
    def n_endpoints(self) -> int:
        """Number of endpoints: ``endpoints`` or ``endpoints_per_home*homes`` rounded half up."""
        if self.endpoints is not None:
            return int(self.endpoints)
        return _round_half_up(float(self.endpoints_per_home) * int(self.homes))


@dataclass(frozen=True, eq=False)
class SuburbLayout:
    """Deterministic geometry of a suburb (no random choices); rectangles are x0, y0, x1, y1.

    All arrays are read-only.
    """

    lots_m: np.ndarray
    """(homes, 4) occupied lots, in fill order (index = home / lot number)."""
    houses_m: np.ndarray
    """(homes, 4) house footprints, one per occupied lot."""
    front_y_m: np.ndarray
    """(homes,) y of the lot line on the street side (the house faces this street)."""
    front_dir: np.ndarray
    """(homes,) +1 if the lot extends upwards (north) from its front line, -1 if downwards."""
    streets_m: np.ndarray
    """(k, 4) street centre-line segments x0, y0, x1, y1, split at intersections."""
    blocks_x: int
    """Number of block columns."""
    blocks_y: int
    """Number of block rows."""
    width_m: float
    """Full extent in x including the perimeter streets."""
    height_m: float
    """Full extent in y including the perimeter streets."""

    def __post_init__(self) -> None:
        for name in ("lots_m", "houses_m", "front_y_m", "front_dir", "streets_m"):
            getattr(self, name).flags.writeable = False


def _near_square_columns(n_blocks: int, pitch_x_m: float, pitch_y_m: float, street_m: float) -> int:
    """Block columns whose street grid comes closest to a square area (ties: fewer empty
    blocks, then fewer columns)."""

    def badness(cols: int) -> tuple[float, int, int]:
        rows = math.ceil(n_blocks / cols)
        width = cols * pitch_x_m + street_m
        height = rows * pitch_y_m + street_m
        return (abs(math.log(width / height)), cols * rows - n_blocks, cols)

    return min(range(1, n_blocks + 1), key=badness)


def layout(params: SuburbParams) -> SuburbLayout:
    """Compute lots, house footprints and streets for ``params`` (deterministic)."""
    homes = int(params.homes)
    per_side = int(params.homes_per_block_side)
    lw, ld = float(params.lot_width_m), float(params.lot_depth_m)
    sw = float(params.street_width_m)
    block_w, block_h = per_side * lw, 2.0 * ld

    n_blocks = math.ceil(homes / (2 * per_side))
    cols = _near_square_columns(n_blocks, block_w + sw, block_h + sw, sw)
    rows = math.ceil(n_blocks / cols)
    width_m = cols * block_w + (cols + 1) * sw
    height_m = rows * block_h + (rows + 1) * sw

    lot = np.arange(homes)
    block, k = np.divmod(lot, 2 * per_side)
    row, col = np.divmod(block, cols)
    side, pos = np.divmod(k, per_side)  # side 0 = south row, 1 = north row
    block_x0 = sw + col * (block_w + sw)
    block_y0 = sw + row * (block_h + sw)
    lot_x0 = block_x0 + pos * lw
    lot_y0 = block_y0 + side * ld
    lots = np.column_stack([lot_x0, lot_y0, lot_x0 + lw, lot_y0 + ld]).astype(np.float64)
    front_y = np.where(side == 0, block_y0, block_y0 + block_h).astype(np.float64)
    front_dir = np.where(side == 0, 1, -1).astype(np.int8)

    hw, hd, sb = float(params.house_width_m), float(params.house_depth_m), float(params.setback_m)
    hx0 = lot_x0 + (lw - hw) / 2.0
    near = front_y + front_dir * sb
    far = front_y + front_dir * (sb + hd)
    houses = np.column_stack([hx0, np.minimum(near, far), hx0 + hw, np.maximum(near, far)]).astype(
        np.float64
    )

    xs = sw / 2.0 + np.arange(cols + 1) * (block_w + sw)  # vertical centre lines
    ys = sw / 2.0 + np.arange(rows + 1) * (block_h + sw)  # horizontal centre lines
    hx, hy = np.meshgrid(np.arange(cols), ys, indexing="xy")
    horizontal = np.column_stack([xs[hx.ravel()], hy.ravel(), xs[hx.ravel() + 1], hy.ravel()])
    vy, vx = np.meshgrid(np.arange(rows), xs, indexing="xy")
    vertical = np.column_stack([vx.ravel(), ys[vy.ravel()], vx.ravel(), ys[vy.ravel() + 1]])
    streets = np.concatenate([horizontal, vertical]).astype(np.float64)

    return SuburbLayout(
        lots_m=lots,
        houses_m=houses,
        front_y_m=front_y,
        front_dir=front_dir,
        streets_m=streets,
        blocks_x=cols,
        blocks_y=rows,
        width_m=width_m,
        height_m=height_m,
    )


def _in_rects(rng: np.random.Generator, rects: np.ndarray) -> np.ndarray:
    """One uniform point in each rectangle row (x0, y0, x1, y1)."""
    u = rng.random((len(rects), 2))
    return rects[:, 0:2] + u * (rects[:, 2:4] - rects[:, 0:2])


def _yard_points(
    rng: np.random.Generator, params: SuburbParams, geo: SuburbLayout, lots: np.ndarray
) -> np.ndarray:
    """Uniform points in ``lots`` minus their house footprints (exact, no rejection).

    The yard of a lot is split into four rectangles in lot-local coordinates (u along the
    frontage, v away from the street): front yard, back yard and the two side strips; one is
    chosen with probability proportional to its area, then a uniform point inside it.
    """
    lw, ld = float(params.lot_width_m), float(params.lot_depth_m)
    hw, hd, sb = float(params.house_width_m), float(params.house_depth_m), float(params.setback_m)
    side = (lw - hw) / 2.0
    local = np.array(  # u0, v0, u1, v1
        [
            [0.0, 0.0, lw, sb],  # front yard
            [0.0, sb + hd, lw, ld],  # back yard
            [0.0, sb, side, sb + hd],  # left strip
            [lw - side, sb, lw, sb + hd],  # right strip
        ]
    )
    areas = (local[:, 2] - local[:, 0]) * (local[:, 3] - local[:, 1])
    which = rng.choice(len(local), size=len(lots), p=areas / areas.sum())
    uv = _in_rects(rng, local[which])
    x = geo.lots_m[lots, 0] + uv[:, 0]
    y = geo.front_y_m[lots] + geo.front_dir[lots] * uv[:, 1]
    return np.column_stack([x, y])


def _street_points(rng: np.random.Generator, streets: np.ndarray, count: int) -> np.ndarray:
    """``count`` points uniform along the union of segments (segment chosen by length)."""
    lengths = np.hypot(streets[:, 2] - streets[:, 0], streets[:, 3] - streets[:, 1])
    seg = rng.choice(len(streets), size=count, p=lengths / lengths.sum())
    t = rng.random(count)[:, None]
    return streets[seg, 0:2] + t * (streets[seg, 2:4] - streets[seg, 0:2])


def generate(params: SuburbParams, rng: np.random.Generator) -> Topology:
    """Draw one realisation of the suburb (layout is deterministic, placement random).

    Random draws, in order: bridge houses (``rng.choice`` without replacement), bridge points,
    endpoint classes, then house, yard and street endpoint placements.
    """
    geo = layout(params)
    homes = int(params.homes)
    n_b, n_e = params.n_bridges, params.n_endpoints

    bridge_lots = np.sort(rng.choice(homes, size=n_b, replace=False)).astype(np.int64)
    bridge_xy = _in_rects(rng, geo.houses_m[bridge_lots])

    shares = np.array([params.house_share, params.yard_share, params.street_share], dtype=float)
    klass = rng.choice(3, size=n_e, p=shares / shares.sum())
    ep_xy = np.empty((n_e, 2), dtype=np.float64)
    ep_lot = np.full(n_e, -1, dtype=np.int64)
    ep_place = np.empty(n_e, dtype=np.int8)

    m = klass == _HOUSE
    lots = rng.integers(0, homes, size=int(m.sum()))
    ep_xy[m], ep_lot[m], ep_place[m] = _in_rects(rng, geo.houses_m[lots]), lots, PLACE_HOUSE

    m = klass == _YARD
    lots = rng.integers(0, homes, size=int(m.sum()))
    ep_xy[m], ep_lot[m], ep_place[m] = _yard_points(rng, params, geo, lots), lots, PLACE_YARD

    m = klass == _STREET
    ep_xy[m], ep_place[m] = _street_points(rng, geo.streets_m, int(m.sum())), PLACE_STREET

    return Topology(
        positions_m=np.concatenate([bridge_xy, ep_xy]),
        roles=np.concatenate(
            [np.full(n_b, ROLE_BRIDGE, dtype=np.int8), np.full(n_e, ROLE_ENDPOINT, dtype=np.int8)]
        ),
        indoor=np.concatenate([np.ones(n_b, dtype=bool), klass == _HOUSE]),
        places=np.concatenate([np.full(n_b, PLACE_HOUSE, dtype=np.int8), ep_place]),
        width_m=geo.width_m,
        height_m=geo.height_m,
        fields={"lot": np.concatenate([bridge_lots, ep_lot])},
        streets_m=geo.streets_m,
    )
