"""Tests of the suburban street-grid topology (topologies.suburb)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from topologies.base import PLACE_HOUSE, PLACE_STREET, PLACE_YARD, ROLE_BRIDGE, TopologyError
from topologies.suburb import SuburbParams, generate, layout


def _inside(xy: np.ndarray, rects: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    return (
        (xy[:, 0] >= rects[:, 0] - eps)
        & (xy[:, 0] <= rects[:, 2] + eps)
        & (xy[:, 1] >= rects[:, 1] - eps)
        & (xy[:, 1] <= rects[:, 3] + eps)
    )


def _distance_to_segments(xy: np.ndarray, segs: np.ndarray) -> np.ndarray:
    """Distance from every point to the nearest segment, shape (n,)."""
    a, b = segs[None, :, 0:2], segs[None, :, 2:4]
    p = xy[:, None, :]
    ab = b - a
    t = np.clip(np.sum((p - a) * ab, axis=2) / np.sum(ab * ab, axis=2), 0.0, 1.0)
    closest = a + t[..., None] * ab
    return np.asarray(np.linalg.norm(p - closest, axis=2).min(axis=1))


def test_layout_geometry_defaults() -> None:
    p = SuburbParams()
    geo = layout(p)
    n_blocks = math.ceil(400 / 20)
    # 20 blocks of 200 x 70 m with 12 m streets: 3 x 7 blocks give 648 x 586 m, the layout
    # closest to a square (2 x 10: 436 x 832 m; 4 x 5: 860 x 422 m)
    assert (geo.blocks_x, geo.blocks_y) == (3, 7)
    assert geo.blocks_x * geo.blocks_y >= n_blocks
    assert geo.width_m == pytest.approx(3 * 200 + 4 * 12)
    assert geo.height_m == pytest.approx(7 * 70 + 8 * 12)
    assert geo.lots_m.shape == geo.houses_m.shape == (400, 4)
    # lot sizes and house sizes
    np.testing.assert_allclose(geo.lots_m[:, 2] - geo.lots_m[:, 0], 20.0)
    np.testing.assert_allclose(geo.lots_m[:, 3] - geo.lots_m[:, 1], 35.0)
    np.testing.assert_allclose(geo.houses_m[:, 2] - geo.houses_m[:, 0], 12.0)
    np.testing.assert_allclose(geo.houses_m[:, 3] - geo.houses_m[:, 1], 12.0)
    # houses inside their lots, 6 m back from the street side
    corners = np.concatenate([geo.houses_m[:, 0:2], geo.houses_m[:, 2:4]])
    assert _inside(corners, np.concatenate([geo.lots_m, geo.lots_m])).all()
    gap = np.minimum(
        np.abs(geo.houses_m[:, 1] - geo.front_y_m), np.abs(geo.houses_m[:, 3] - geo.front_y_m)
    )
    np.testing.assert_allclose(gap, 6.0)
    # lots are distinct, do not overlap and stay off the streets
    assert len(np.unique(geo.lots_m, axis=0)) == 400
    centres = (geo.lots_m[:, 0:2] + geo.lots_m[:, 2:4]) / 2
    assert (_distance_to_segments(centres, geo.streets_m) >= 6.0 + 10.0 - 1e-9).all()
    corners = np.concatenate([geo.lots_m[:, 0:2], geo.lots_m[:, 2:4]])
    assert (_distance_to_segments(corners, geo.streets_m) >= 6.0 - 1e-9).all()
    # street centre lines: (rows+1)*cols horizontal + (cols+1)*rows vertical, inside the area
    assert len(geo.streets_m) == 8 * 3 + 4 * 7
    assert (geo.streets_m[:, [0, 2]] == 6.0).any() and geo.streets_m.max() <= geo.width_m - 6.0
    assert not geo.lots_m.flags.writeable


def test_default_density_is_plausible_for_us_suburb() -> None:
    geo = layout(SuburbParams())
    homes_per_km2 = 400 / (geo.width_m * geo.height_m / 1e6)
    assert 700 < homes_per_km2 < 1500  # ~3-6 homes per gross acre


@pytest.mark.parametrize("homes", [1, 19, 20, 21, 150, 401])
def test_exact_home_and_bridge_counts(homes: int) -> None:
    p = SuburbParams(homes=homes, bridge_fraction=0.25)
    geo = layout(p)
    n_blocks = math.ceil(homes / 20)
    assert geo.lots_m.shape[0] == homes
    assert (geo.blocks_y - 1) * geo.blocks_x < n_blocks <= geo.blocks_x * geo.blocks_y
    aspect = abs(math.log(geo.width_m / geo.height_m))
    for cols in range(1, n_blocks + 1):  # no other column count gives a squarer area
        rows = math.ceil(n_blocks / cols)
        other = abs(math.log((cols * 212 + 12) / (rows * 82 + 12)))
        assert aspect <= other + 1e-12
    t = generate(p, np.random.default_rng(homes))
    assert t.n_bridges == math.floor(0.25 * homes + 0.5)
    assert t.n_endpoints == math.floor(1.5 * homes + 0.5)
    assert (t.width_m, t.height_m) == (geo.width_m, geo.height_m)
    np.testing.assert_array_equal(t.streets_m, geo.streets_m)


def test_bridges_in_distinct_house_footprints() -> None:
    p = SuburbParams(homes=200, bridge_fraction=0.5)
    t = generate(p, np.random.default_rng(4))
    geo = layout(p)
    b = t.bridge_ids
    lots = t.fields["lot"][b]
    assert len(np.unique(lots)) == len(b) == 100
    assert np.all(np.diff(lots) > 0)
    assert _inside(t.positions_m[b], geo.houses_m[lots]).all()
    assert t.indoor[b].all() and (t.places[b] == PLACE_HOUSE).all()
    assert (t.roles[b] == ROLE_BRIDGE).all()


def test_all_homes_can_host_bridges() -> None:
    t = generate(SuburbParams(homes=30, bridge_fraction=1.0), np.random.default_rng(0))
    assert sorted(t.fields["lot"][t.bridge_ids].tolist()) == list(range(30))


def test_endpoint_classes_and_positions() -> None:
    p = SuburbParams(homes=100, endpoints=6000)
    t = generate(p, np.random.default_rng(9))
    geo = layout(p)
    e = t.endpoint_ids
    xy, place, lot = t.positions_m[e], t.places[e], t.fields["lot"][e]
    assert len(e) == 6000

    counts = np.array([np.sum(place == c) for c in (PLACE_HOUSE, PLACE_YARD, PLACE_STREET)])
    assert counts.sum() == 6000
    assert stats.chisquare(counts, 6000 * np.array([0.6, 0.25, 0.15])).pvalue > 1e-3
    np.testing.assert_array_equal(t.indoor[e], place == PLACE_HOUSE)

    house = place == PLACE_HOUSE
    assert _inside(xy[house], geo.houses_m[lot[house]]).all()

    yard = place == PLACE_YARD
    assert _inside(xy[yard], geo.lots_m[lot[yard]]).all()
    in_house = _inside(xy[yard], geo.houses_m[lot[yard]], eps=-1e-9)
    assert not in_house.any()

    street = place == PLACE_STREET
    assert (lot[street] == -1).all() and (lot[~street] >= 0).all()
    assert (_distance_to_segments(xy[street], geo.streets_m) < 1e-9).all()


def test_yard_points_uniform_over_yard_area() -> None:
    """Yard endpoints fall in front yard / back yard / side strips in proportion to area."""
    p = SuburbParams(
        homes=20,
        bridge_fraction=0.0,
        endpoints=4000,
        house_share=0.0,
        yard_share=1.0,
        street_share=0.0,
    )
    t = generate(p, np.random.default_rng(21))
    assert t.n_nodes == 4000 and (t.places == PLACE_YARD).all()
    geo = layout(p)
    lot = t.fields["lot"]
    xy = t.positions_m
    depth = np.abs(xy[:, 1] - geo.front_y_m[lot])  # distance from the street lot line
    front = depth < 6.0
    back = depth > 18.0
    side = ~front & ~back
    observed = [front.sum(), back.sum(), side.sum()]
    area = np.array([20 * 6, 20 * 17, 8 * 12], dtype=float)
    assert stats.chisquare(observed, 4000 * area / area.sum()).pvalue > 1e-3


def test_street_points_uniform_by_length() -> None:
    p = SuburbParams(
        homes=80,
        bridge_fraction=0.0,
        endpoints=4000,
        house_share=0.0,
        yard_share=0.0,
        street_share=1.0,
    )
    t = generate(p, np.random.default_rng(22))
    assert t.n_nodes == 4000 and (t.places == PLACE_STREET).all()
    segs = layout(p).streets_m
    horizontal = segs[:, 1] == segs[:, 3]
    length = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])
    share_h = length[horizontal].sum() / length.sum()
    on_h = _distance_to_segments(t.positions_m, segs[horizontal]) < 1e-9
    n_h = int(on_h.sum())
    assert stats.binomtest(n_h, 4000, share_h).pvalue > 1e-3


def test_endpoints_given_and_derived() -> None:
    assert SuburbParams(homes=10, endpoints_per_home=0.25).n_endpoints == 3  # 2.5 rounds up
    assert SuburbParams(homes=10, endpoints=0).n_endpoints == 0
    t = generate(SuburbParams(homes=10, endpoints=0, bridge_fraction=0.0), np.random.default_rng(0))
    assert t.n_nodes == 0


def test_house_filling_lot_width_and_no_setback() -> None:
    p = SuburbParams(homes=12, house_width_m=20.0, setback_m=0.0, endpoints=500)
    t = generate(p, np.random.default_rng(5))
    geo = layout(p)
    e = t.endpoint_ids
    yard = t.places[e] == PLACE_YARD
    lot = t.fields["lot"][e][yard]
    assert _inside(t.positions_m[e][yard], geo.lots_m[lot]).all()
    assert not _inside(t.positions_m[e][yard], geo.houses_m[lot], eps=-1e-9).any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"homes": 0}, r"^homes must be an integer >= 1, got 0$"),
        ({"homes": 10.0}, "homes must be an integer >= 1, got 10.0"),
        ({"bridge_fraction": 1.5}, "bridge_fraction must be a finite number >= 0 and <= 1"),
        ({"lot_width_m": 0.0}, "lot_width_m must be a finite number > 0"),
        ({"street_width_m": -1.0}, "street_width_m must be a finite number > 0"),
        ({"homes_per_block_side": 0}, "homes_per_block_side must be an integer >= 1"),
        ({"endpoints": -1}, "endpoints must be an integer >= 0, got -1"),
        ({"endpoints_per_home": -0.5}, "endpoints_per_home must be a finite number >= 0"),
        ({"house_share": 0.7}, "must sum to 1"),
        ({"street_share": -0.15, "house_share": 0.9}, "street_share must be a finite number >= 0"),
        ({"house_width_m": 25.0}, r"house_width_m must be <= lot_width_m \(20\.0\), got 25\.0"),
        ({"setback_m": 25.0}, r"setback_m \+ house_depth_m must be <= lot_depth_m \(35\.0\)"),
        ({"setback_m": -1.0}, "setback_m must be a finite number >= 0"),
        (
            {"house_width_m": 20.0, "house_depth_m": 35.0, "setback_m": 0.0},
            "yard_share must be 0 when the house footprint fills the whole lot",
        ),
    ],
)
def test_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        SuburbParams(**kwargs)  # type: ignore[arg-type]


def test_shares_sum_tolerance() -> None:
    SuburbParams(house_share=0.6 + 5e-10)  # within 1e-9: accepted
    with pytest.raises(TopologyError, match=r"house_share \+ yard_share \+ street_share"):
        SuburbParams(house_share=0.6 + 1e-8)
