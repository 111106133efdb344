"""Tests for radios.ble against Core Specification packet-format closed forms."""

from __future__ import annotations

import dataclasses

import pytest

from radios import ble

US = 1e-6


def test_legacy_adv_1m() -> None:
    # ADV_NONCONN_IND with AdvA 6 + 31 B AdvData: payload 37 -> (1+4+2+37+3)*8 us = 376 us.
    assert ble.airtime_s(37, "1M") == pytest.approx(376 * US, abs=1e-12)
    # Maximum LE 1M packet (255 B payload): 265 B * 8 us = 2120 us.
    assert ble.airtime_s(255, "1M") == pytest.approx(2120 * US, abs=1e-12)


def test_2m() -> None:
    # (2+4+2+N+3) * 8 / 2 us: N = 251 -> 1048 us; N = 255 -> 1064 us.
    assert ble.airtime_s(251, "2M") == pytest.approx(1048 * US, abs=1e-12)
    assert ble.airtime_s(255, "2M") == pytest.approx(1064 * US, abs=1e-12)


def test_coded() -> None:
    # 80 us preamble + 37 bits * 8 us (FEC block 1 = 296 us) + (16 + 8N + 24 + 3) bits * S us.
    assert ble.airtime_s(255, "coded_s8") == pytest.approx(17040 * US, abs=1e-12)
    assert ble.airtime_s(0, "coded_s8") == pytest.approx((80 + 296 + 43 * 8) * US, abs=1e-12)
    assert ble.airtime_s(255, "coded_s2") == pytest.approx(
        (80 + 296 + (16 + 8 * 255 + 27) * 2) * US, abs=1e-12
    )
    assert ble.airtime_s(37, "coded_s2") < ble.airtime_s(37, "coded_s8")


def test_validation() -> None:
    with pytest.raises(ValueError, match="phy"):
        ble.airtime_s(10, "3M")
    with pytest.raises(ValueError, match="pdu_payload_bytes"):
        ble.airtime_s(256, "1M")
    with pytest.raises(ValueError, match="pdu_payload_bytes"):
        ble.airtime_s(-1, "1M")
    with pytest.raises(ValueError, match="phy"):
        ble.sensitivity_dbm("bogus")


def test_constants() -> None:
    assert ble.sensitivity_dbm("1M") == -95.0
    assert ble.sensitivity_dbm("2M") == -92.0
    assert ble.sensitivity_dbm("coded_s2") == -99.0
    assert ble.sensitivity_dbm("coded_s8") == -103.0
    assert ble.CO_CHANNEL_REJECTION_DB == 21.0
    assert ble.ADV_CHANNELS == (37, 38, 39)
    assert dict(ble.ADV_CHANNEL_FREQUENCY_HZ) == {37: 2402e6, 38: 2426e6, 39: 2480e6}
    assert ble.FREQUENCY_HZ == 2.44e9
    assert ble.ADV_DELAY_MAX_S == 0.010
    with pytest.raises(TypeError):
        ble.SENSITIVITY_DBM["1M"] = 0.0  # type: ignore[index]


def test_ble_params() -> None:
    p = ble.BleParams()
    assert (p.phy, p.adv_interval_s, p.adv_events) == ("1M", 0.16, 3)
    # 31 B AdvData - 3 B Flags AD - 4 B Service Data AD header (len, type, UUID16) = 24 B.
    assert p.mtu_bytes == 31 - 3 - 4
    # AdvA 6 + Flags AD 3 + Service Data header 4 = 13 B; full packet is a 37 B legacy PDU.
    assert p.pdu_overhead_bytes == 6 + 3 + 4
    assert p.airtime_s(24) == pytest.approx(376 * US, abs=1e-12)
    assert p.airtime_s(0) == ble.airtime_s(13, "1M")
    assert p.event_duration_s(24) == pytest.approx(3 * 376 * US + 2 * p.adv_pdu_gap_s)
    assert p.sensitivity_dbm() == -95.0
    with pytest.raises(ValueError, match="payload_bytes"):
        p.airtime_s(25)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.phy = "2M"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "field_name"),
    [
        ({"phy": "5M"}, "phy"),
        ({"adv_interval_s": 0.01}, "adv_interval_s"),
        ({"adv_interval_s": 20.0}, "adv_interval_s"),
        ({"adv_events": 0}, "adv_events"),
        ({"adv_pdu_gap_s": -1e-3}, "adv_pdu_gap_s"),
        ({"mtu_bytes": 0}, "mtu_bytes"),
        ({"mtu_bytes": 250, "pdu_overhead_bytes": 13}, "mtu_bytes"),
    ],
)
def test_ble_params_validation(kwargs: dict[str, object], field_name: str) -> None:
    with pytest.raises(ValueError, match=field_name):
        ble.BleParams(**kwargs)  # type: ignore[arg-type]


def test_ble_params_metadata() -> None:
    for f in dataclasses.fields(ble.BleParams):
        assert f.metadata["doc"] and isinstance(f.metadata["unit"], str)
