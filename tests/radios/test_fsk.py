"""Tests for radios.fsk: closed-form airtime and parameter validation."""

from __future__ import annotations

import dataclasses
import math

import pytest

from radios import fsk


def test_airtime_closed_form() -> None:
    # 19 B payload: 8 * (8 + 2 + 2 + 19 + 2) / 50 000 = 5.28 ms.
    assert fsk.airtime_s(19) == pytest.approx(5.28e-3, rel=1e-12)
    assert fsk.FskParams().airtime_s(19) == fsk.airtime_s(19)
    # Empty payload: 14 B of overhead -> 2.24 ms; full 200 B MTU -> 34.24 ms.
    assert fsk.airtime_s(0) == pytest.approx(8 * 14 / 50_000, rel=1e-12)
    assert fsk.airtime_s(200) == pytest.approx(8 * 214 / 50_000, rel=1e-12)


def test_airtime_custom_params() -> None:
    p = fsk.FskParams(bitrate_bps=100_000, preamble_bytes=4, crc_bytes=4)
    assert p.overhead_bytes == 4 + 2 + 2 + 4
    assert fsk.airtime_s(50, p) == pytest.approx(8 * (12 + 50) / 100_000, rel=1e-12)


def test_airtime_validation() -> None:
    with pytest.raises(ValueError, match="payload_bytes"):
        fsk.airtime_s(-1)
    with pytest.raises(ValueError, match="mtu"):
        fsk.airtime_s(201)


@pytest.mark.parametrize(
    ("kwargs", "field_name"),
    [
        ({"bitrate_bps": 0}, "bitrate_bps"),
        ({"deviation_hz": -1.0}, "deviation_hz"),
        ({"preamble_bytes": -1}, "preamble_bytes"),
        ({"channels": 0}, "channels"),
        ({"mtu_bytes": 0}, "mtu_bytes"),
        ({"sensitivity_dbm": math.nan}, "sensitivity_dbm"),
        ({"co_channel_rejection_db": math.inf}, "co_channel_rejection_db"),
    ],
)
def test_params_validation(kwargs: dict[str, object], field_name: str) -> None:
    with pytest.raises(ValueError, match=field_name):
        fsk.FskParams(**kwargs)  # type: ignore[arg-type]


def test_defaults_and_metadata() -> None:
    p = fsk.FskParams()
    assert (p.bitrate_bps, p.deviation_hz) == (50_000, 25_000)
    # Modulation index h = 2 * deviation / bitrate = 1.0 (802.15.4g SUN FSK mode #1).
    assert 2 * p.deviation_hz / p.bitrate_bps == 1.0
    assert p.mtu_bytes == 200 and p.channels == 8
    for f in dataclasses.fields(fsk.FskParams):
        assert f.metadata["doc"] and isinstance(f.metadata["unit"], str)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.bitrate_bps = 1.0  # type: ignore[misc]


def test_sensitivity_default_consistent_with_thermal_closed_form() -> None:
    # -174 dBm/Hz + 10 log10(100 kHz Carson bandwidth) + 6 dB NF + 7.9 dB SNR (non-coherent
    # BFSK at BER 1e-3 in 100 kHz) + ~1 dB implementation loss.
    snr_db = 10 * math.log10(2 * math.log(500)) + 10 * math.log10(50e3 / 100e3)
    estimate = -174 + 10 * math.log10(100e3) + 6.0 + snr_db + 1.0
    assert abs(fsk.FskParams().sensitivity_dbm - estimate) <= 2.0
    assert fsk.FskParams().co_channel_rejection_db == pytest.approx(round(snr_db + 1.0), abs=0.5)
