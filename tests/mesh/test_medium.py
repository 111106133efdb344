"""The medium's reception rules on hand-built neighbour tables, against numbers from the models."""

from __future__ import annotations

import numpy as np
import pytest

from mesh.links import sir_weights
from mesh.medium import LinkMedium, Medium, ScanSchedule
from mesh.neighbours import NeighbourTable
from mesh.records import (
    RX_COLLISION,
    RX_HALF_DUPLEX,
    RX_NOT_LISTENING,
    RX_OK,
    RX_RECEIVER_BUSY,
)
from radios import lora

SENS_SF7 = lora.sensitivity_dbm(7)


class StubGain:
    """Path gains from a dict, for both the tables and the medium's on-the-fly interference."""

    def __init__(self, links: dict[int, dict[int, float]]) -> None:
        self.links = links

    def gain_db(self, tx: np.ndarray, rx: np.ndarray, frequency_hz: float) -> np.ndarray:
        return np.array(
            [self.links.get(int(a), {}).get(int(b), -np.inf) for a, b in zip(tx, rx, strict=True)]
        )


def table(n: int, links: dict[int, dict[int, float]], threshold_dbm: float) -> NeighbourTable:
    """Decode table from {tx: {rx: gain_db}} at 14 dBm: pairs reaching the threshold."""
    indptr = [0]
    index: list[int] = []
    rssi: list[float] = []
    for node in range(n):
        row = links.get(node, {})
        for rx in sorted(row):
            if 14.0 + row[rx] >= threshold_dbm:
                index.append(rx)
                rssi.append(14.0 + row[rx])
        indptr.append(len(index))
    return NeighbourTable(
        np.array(indptr), np.array(index, dtype=np.int32), np.array(rssi), np.full(n, threshold_dbm)
    )


def lora_medium(
    n: int,
    links: dict[int, dict[int, float]],
    capture: bool = True,
    demodulators: int = 8,
    listeners: tuple[int, ...] = (0,),
    threshold_dbm: float = SENS_SF7,
) -> Medium:
    listening = np.zeros(n, dtype=bool)
    listening[list(listeners)] = True
    cap = np.full(n, demodulators, dtype=np.int32)
    weights = sir_weights(np.array(lora.rejection_matrix("goursaud")), capture)
    lm = LinkMedium(
        link="lora",
        table=table(n, links, threshold_dbm),
        tx_power_dbm=np.full(n, 14.0),
        weights=weights,
        capacity=cap,
        listening=listening,
        always_listening=False,
        floor_dbm=threshold_dbm - 6.0,
        frequency_hz=915e6,
        min_capacity=demodulators,
    )
    return Medium(n, {"lora": lm}, StubGain(links), capture, listening.copy())  # type: ignore[arg-type]


def outcome_at(tx, node: int) -> int:
    return int(tx.outcome[list(tx.rx).index(node)])


def test_lone_frame_above_sensitivity_is_received_and_below_is_not() -> None:
    # node 1 -> bridge 0 at exactly the sensitivity; node 2 just below it
    m = lora_medium(3, {1: {0: SENS_SF7 - 14.0}, 2: {0: SENS_SF7 - 14.0 - 0.01}})
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
    m.end(a)
    b = m.start(2, "lora", 0, 2, SENS_SF7, 1.0, 0.05, 1)
    m.end(b)
    assert outcome_at(a, 0) == RX_OK
    assert b.rx.size == 0  # below sensitivity: not a decode candidate at all


@pytest.mark.parametrize(("sir_db", "stronger_survives"), [(6.0, True), (5.9, False), (10.0, True)])
def test_same_sf_capture_threshold_is_6_db(sir_db: float, stronger_survives: bool) -> None:
    m = lora_medium(3, {1: {0: -80.0}, 2: {0: -80.0 - sir_db}})
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
    b = m.start(2, "lora", 0, 2, SENS_SF7, 0.01, 0.05, 1)
    m.end(a)
    m.end(b)
    assert (outcome_at(a, 0) == RX_OK) is stronger_survives
    assert outcome_at(b, 0) == RX_COLLISION


def test_capture_off_destroys_both_whatever_the_powers() -> None:
    m = lora_medium(3, {1: {0: -60.0}, 2: {0: -100.0}}, capture=False)
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
    b = m.start(2, "lora", 0, 2, SENS_SF7, 0.04, 0.05, 1)
    m.end(a)
    m.end(b)
    assert outcome_at(a, 0) == RX_COLLISION
    assert outcome_at(b, 0) == RX_COLLISION


def test_frames_that_do_not_overlap_do_not_interfere() -> None:
    m = lora_medium(3, {1: {0: -80.0}, 2: {0: -80.0}}, capture=False)
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
    m.end(a)
    b = m.start(2, "lora", 0, 2, SENS_SF7, 0.05, 0.05, 1)
    m.end(b)
    assert outcome_at(a, 0) == RX_OK and outcome_at(b, 0) == RX_OK


def test_other_channel_does_not_interfere() -> None:
    m = lora_medium(3, {1: {0: -80.0}, 2: {0: -80.0}}, capture=False)
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
    b = m.start(2, "lora", 1, 2, SENS_SF7, 0.01, 0.05, 1)
    m.end(a)
    m.end(b)
    assert outcome_at(a, 0) == RX_OK and outcome_at(b, 0) == RX_OK


def test_inter_sf_rejection_uses_the_goursaud_table() -> None:
    # SF7 signal 15 dB weaker than an SF12 interferer: Goursaud[SF7][SF12] = -20 dB -> survives.
    # SF12 signal 15 dB stronger than SF7 interferer survives too (threshold -36 dB).
    matrix = lora.rejection_matrix("goursaud")
    assert matrix[7 - 5, 12 - 5] == -20.0
    m = lora_medium(3, {1: {0: -95.0}, 2: {0: -80.0}})
    sf7 = m.start(1, "lora", 0, 7 - 5, SENS_SF7, 0.0, 0.05, 0)
    sf12 = m.start(2, "lora", 0, 12 - 5, lora.sensitivity_dbm(12), 0.0, 1.0, 1)
    m.end(sf7)
    m.end(sf12)
    assert outcome_at(sf7, 0) == RX_OK
    assert outcome_at(sf12, 0) == RX_OK
    # 21 dB weaker than SF12: below the -20 dB threshold -> lost
    m = lora_medium(3, {1: {0: -101.0}, 2: {0: -80.0}})
    sf7 = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
    sf12 = m.start(2, "lora", 0, 7, lora.sensitivity_dbm(12), 0.0, 1.0, 1)
    m.end(sf7)
    m.end(sf12)
    assert outcome_at(sf7, 0) == RX_COLLISION


def test_interference_adds_up_over_interferers() -> None:
    # Two interferers each 7 dB below the signal: alone each is survivable (7 >= 6 dB), together
    # their sum is 7 - 3.01 = 3.99 dB below: lost.
    m = lora_medium(4, {1: {0: -80.0}, 2: {0: -87.0}, 3: {0: -87.0}})
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.1, 0)
    b = m.start(2, "lora", 0, 2, SENS_SF7, 0.01, 0.01, 1)
    m.end(b)
    c = m.start(3, "lora", 0, 2, SENS_SF7, 0.03, 0.01, 2)
    m.end(c)
    m.end(a)
    assert outcome_at(a, 0) == RX_OK  # never two at once
    m = lora_medium(4, {1: {0: -80.0}, 2: {0: -87.0}, 3: {0: -87.0}})
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.1, 0)
    b = m.start(2, "lora", 0, 2, SENS_SF7, 0.01, 0.05, 1)
    c = m.start(3, "lora", 0, 2, SENS_SF7, 0.03, 0.05, 2)
    m.end(b)
    m.end(c)
    m.end(a)
    assert outcome_at(a, 0) == RX_COLLISION


def test_demodulator_limit_makes_the_ninth_frame_busy() -> None:
    links = {k: {0: -80.0} for k in range(1, 11)}
    m = lora_medium(11, links, demodulators=8)
    txs = [m.start(k, "lora", k, 2, SENS_SF7, 0.0, 0.05, k) for k in range(1, 10)]  # 9 channels
    for tx in txs:
        m.end(tx)
    assert [outcome_at(tx, 0) for tx in txs] == [RX_OK] * 8 + [RX_RECEIVER_BUSY]
    # demodulators are released at the end of each frame
    late = m.start(10, "lora", 0, 2, SENS_SF7, 1.0, 0.05, 10)
    m.end(late)
    assert outcome_at(late, 0) == RX_OK


def test_half_duplex_receiver_that_transmits_loses_the_frame() -> None:
    # node 0 listens; it starts transmitting while node 1's frame is on air
    m = lora_medium(3, {1: {0: -80.0}, 0: {2: -80.0}})
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
    b = m.start(0, "lora", 5, 2, SENS_SF7, 0.01, 0.02, 1)
    m.end(b)
    m.end(a)
    assert outcome_at(a, 0) == RX_HALF_DUPLEX
    # and a frame that starts while the receiver transmits is lost the same way
    m = lora_medium(3, {1: {0: -80.0}, 0: {2: -80.0}})
    b = m.start(0, "lora", 5, 2, SENS_SF7, 0.0, 0.05, 1)
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.01, 0.02, 0)
    m.end(a)
    m.end(b)
    assert outcome_at(a, 0) == RX_HALF_DUPLEX


def test_receiver_switched_off_is_not_listening() -> None:
    m = lora_medium(3, {1: {0: -80.0, 2: -80.0}}, listeners=(0,))
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
    m.end(a)
    assert outcome_at(a, 0) == RX_OK
    assert outcome_at(a, 2) == RX_NOT_LISTENING


def test_ble_scan_schedule_closed_form() -> None:
    """A scanner with window W and interval I hears a PDU of airtime d, sent at a uniformly random
    time on a given channel, with probability (W - d) / (3 I)."""
    rng = np.random.default_rng(5)
    n = 200_000
    schedule = ScanSchedule(np.zeros(1), interval_s=0.1, window_s=0.03)
    t0 = rng.uniform(0, 100, size=n)
    heard = np.array(
        [schedule.listening(np.zeros(1, dtype=np.int64), 1, t, 0.000376)[0] for t in t0[:20000]]
    )
    expected = (0.03 - 0.000376) / (3 * 0.1)
    assert abs(heard.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / heard.size)


def test_interferer_too_weak_to_decode_still_interferes() -> None:
    """Node 2 is below sensitivity at the bridge (not in its decode row) yet only 5 dB under the
    wanted frame: the co-SF threshold of 6 dB is not met."""
    signal = SENS_SF7 + 4.0 - 14.0
    m = lora_medium(3, {1: {0: signal}, 2: {0: signal - 5.0}})
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
    b = m.start(2, "lora", 0, 2, SENS_SF7, 0.01, 0.05, 1)
    m.end(b)
    m.end(a)
    assert b.rx.size == 0
    assert outcome_at(a, 0) == RX_COLLISION


def test_capture_off_ignores_interferers_below_the_floor() -> None:
    signal = SENS_SF7 + 10.0 - 14.0
    for gap_db, lost in ((15.0, True), (17.0, False)):  # floor = sensitivity - 6 dB
        m = lora_medium(3, {1: {0: signal}, 2: {0: signal - gap_db}}, capture=False)
        a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
        b = m.start(2, "lora", 0, 2, SENS_SF7, 0.01, 0.05, 1)
        m.end(b)
        m.end(a)
        assert (outcome_at(a, 0) == RX_COLLISION) is lost


@pytest.mark.parametrize(("below_db", "lost"), [(1.0, True), (10.0, False)])
def test_interferers_outside_the_table_are_settled_exactly(below_db: float, lost: bool) -> None:
    """An interferer too weak to be in the table is first bounded by the table's threshold
    (sensitivity); the reception is then settled with its exact power: 5 dB under the signal is
    lost (< 6 dB), 14 dB under survives."""
    signal = SENS_SF7 + 4.0 - 14.0
    m = lora_medium(3, {1: {0: signal}, 2: {0: SENS_SF7 - below_db - 14.0}})
    a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 0.05, 0)
    b = m.start(2, "lora", 0, 2, SENS_SF7, 0.01, 0.05, 1)
    m.end(b)
    m.end(a)
    assert (outcome_at(a, 0) == RX_COLLISION) is lost


def test_peak_interference_over_time_is_exact() -> None:
    """Signal -80 dBm; two interferers at -87 dBm each (7 dB under: each alone survivable).
    Overlapping each other their sum is 3.99 dB under: lost; one after the other: kept."""
    links = {1: {0: -94.0}, 2: {0: -101.0}, 3: {0: -101.0}}

    def run(second_start_s: float) -> int:
        m = lora_medium(4, links)
        a = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 1.0, 0)
        b = m.start(2, "lora", 0, 2, SENS_SF7, 0.1, 0.2, 1)
        if second_start_s < 0.3:
            c = m.start(3, "lora", 0, 2, SENS_SF7, second_start_s, 0.2, 2)
            m.end(b)
        else:
            m.end(b)
            c = m.start(3, "lora", 0, 2, SENS_SF7, second_start_s, 0.2, 2)
        m.end(c)
        m.end(a)
        return outcome_at(a, 0)

    assert run(0.2) == RX_COLLISION
    assert run(0.5) == RX_OK


def test_reception_aborted_by_transmitting_frees_its_demodulator() -> None:
    """Capacity 1: node 0 locks frame 1, aborts it by transmitting, and can then decode frame 2
    while frame 1 is still on air."""
    m = lora_medium(3, {1: {0: -80.0}, 2: {0: -80.0}, 0: {1: -80.0}}, demodulators=1)
    f1 = m.start(1, "lora", 0, 2, SENS_SF7, 0.0, 1.0, 0)
    own = m.start(0, "lora", 5, 2, SENS_SF7, 0.1, 0.05, 1)
    m.end(own)
    f2 = m.start(2, "lora", 1, 2, SENS_SF7, 0.3, 0.05, 2)
    m.end(f2)
    m.end(f1)
    assert outcome_at(f1, 0) == RX_HALF_DUPLEX
    assert outcome_at(f2, 0) == RX_OK
