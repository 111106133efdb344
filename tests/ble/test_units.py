"""Tier 1 (no BLE stack): advertisements, adapter errors, UART chunking and framing, backoff,
recording, calibration files, the [ble] and profile spec keys, and the CLI's error paths."""

from __future__ import annotations

import asyncio
import enum
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from experiments.ble import adverts, calibrate, errors
from experiments.ble.calibrate import CalibrationError, fit_samples, profile_toml, read_samples
from experiments.ble.handoff import Handoff
from experiments.ble.loop import run_interruptible
from experiments.ble.record import Recorder, RssiRow, csv_text, merged_text, parse_distances
from experiments.ble.uart import Backoff, LineFramer, NotificationFramer, chunks
from experiments.cli import main
from experiments.spec import SpecError, load_spec
from radios.propagation import LogDistance

REPO = Path(__file__).resolve().parents[2]
SIDEWALK_UUID = "0000FE03-0000-1000-8000-00805F9B34FB"


# -- advertisements ------------------------------------------------------------------------


def fabricated(**data: object) -> tuple[SimpleNamespace, SimpleNamespace]:
    """A bleak-like (BLEDevice, AdvertisementData) pair."""
    fields = {
        "local_name": None,
        "manufacturer_data": {},
        "service_data": {},
        "service_uuids": [],
        "tx_power": None,
        "rssi": -60,
        **data,
    }
    return SimpleNamespace(address="aa:bb:cc:dd:ee:01", name=None), SimpleNamespace(**fields)


def test_an_advertisement_from_bleak_data_is_recognised() -> None:
    device, data = fabricated(
        local_name="leak-7",
        service_uuids=[SIDEWALK_UUID],
        service_data={SIDEWALK_UUID: b"\x01\x02"},
        manufacturer_data={0x0171: b"\xaa"},
        tx_power=4,
        rssi=-71,
    )
    adv = adverts.from_bleak(device, data, 1.5)
    assert adv.address == "AA:BB:CC:DD:EE:01" and adv.name == "leak-7"
    assert (adv.rssi_dbm, adv.tx_power_dbm, adv.time_s) == (-71, 4, 1.5)
    assert adv.kinds == ("sidewalk",)
    assert adv.payload == b"\x01\x02\xaa"
    assert adv.to_json()["service_data"] == {adverts.SIDEWALK_SERVICE_UUID: "0102"}
    assert "sidewalk" in adverts.table_row(adv) and "fe03:0102" in adverts.table_row(adv)
    assert hash(adv) == hash(adverts.from_bleak(device, data, 1.5))


def test_nus_and_plain_advertisements() -> None:
    nus = adverts.from_bleak(*fabricated(service_uuids=[adverts.NUS_SERVICE_UUID.upper()]), 0.0)
    plain = adverts.from_bleak(*fabricated(local_name="tag"), 0.0)
    both = adverts.make(
        "x", -50, service_uuids=[adverts.NUS_SERVICE_UUID], service_data={SIDEWALK_UUID: b""}
    )
    assert (nus.kinds, plain.kinds, both.kinds) == (("nus",), (), ("sidewalk", "nus"))
    assert plain.payload == b"tag" and plain.tx_power_dbm is None


# -- adapter errors ------------------------------------------------------------------------


class Reason(enum.Enum):
    NO_BLUETOOTH = 1
    NO_BLE_CENTRAL_ROLE = 2
    POWERED_OFF = 3
    DENIED_BY_USER = 4
    DENIED_BY_SYSTEM = 5
    UNKNOWN = 7


class BleakError(Exception):
    pass


class BleakBluetoothNotAvailableError(BleakError):
    """Like bleak 3's: ``args`` is ``(msg, reason)``, so ``str(err)`` shows the tuple."""

    def __init__(self, msg: str, reason: Reason) -> None:
        super().__init__(msg, reason)

    @property
    def reason(self) -> Reason:
        return self.args[1]  # type: ignore[no-any-return]


class BleakDBusError(BleakError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.dbus_error = name


@pytest.mark.parametrize(
    ("err", "kind", "words"),
    [
        (
            BleakBluetoothNotAvailableError("none", Reason.NO_BLUETOOTH),
            "no_adapter",
            "dongle (Linux: check `bluetoothctl list`) (none)",
        ),
        (BleakBluetoothNotAvailableError("x", Reason.NO_BLE_CENTRAL_ROLE), "no_adapter", "dongle"),
        (BleakBluetoothNotAvailableError("off", Reason.POWERED_OFF), "powered_off", "power on"),
        (BleakBluetoothNotAvailableError("no", Reason.DENIED_BY_SYSTEM), "permission", "group"),
        (BleakBluetoothNotAvailableError("?", Reason.UNKNOWN), "other", "not available: ?"),
        (BleakDBusError("org.bluez.Error.NotReady"), "powered_off", "powered off"),
        (BleakDBusError("org.bluez.Error.NotPermitted"), "permission", "permission"),
        (BleakDBusError("org.freedesktop.DBus.Error.AccessDenied"), "permission", "permission"),
        (BleakDBusError("org.bluez.Error.InProgress"), "busy", "a scan is already running"),
        (BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown"), "no_adapter", "bluetoothd"),
        (PermissionError(13, "denied"), "permission", "permission"),
        (FileNotFoundError(2, "no socket"), "no_adapter", "D-Bus"),
        (BleakError("No powered Bluetooth adapters found."), "powered_off", "powered off"),
        (BleakError("Bluetooth adapter hci9 not found"), "no_adapter", "no Bluetooth"),
    ],
)
def test_every_adapter_problem_has_one_clear_message(
    err: BaseException, kind: str, words: str
) -> None:
    problem = errors.explain(err)
    assert problem is not None and problem.kind == kind and words in str(problem)
    assert problem.exit_code == 2
    assert "Reason" not in str(problem) and "('" not in str(problem)  # no repr of bleak's args


def test_other_errors_are_not_adapter_problems() -> None:
    assert errors.explain(ValueError("x")) is None
    assert errors.explain(BleakDBusError("org.bluez.Error.Failed")) is None


def test_a_missing_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bleak", None)  # import bleak raises ImportError
    with pytest.raises(errors.BleUnavailable, match=r"pip install 'sidemesh\[ble\]'"):
        errors.require_bleak()
    result = CliRunner().invoke(main, ["ble", "scan", "--duration", "1s"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: bleak is not installed: install the BLE extra: pip install 'sidemesh[ble]'"
    ]


def test_the_core_and_the_cli_import_without_bleak() -> None:
    """With bleak and Bumble installed (the test extra), importing the CLI and every BLE module
    but the Bumble street loads neither of them, nor matplotlib."""
    code = (
        "import sys\n"
        "import experiments.cli, experiments.ble.bridge, experiments.ble.calibrate\n"
        "import experiments.ble.record, experiments.ble.uart, experiments.ble.handoff\n"
        "import experiments.ble.scanner, experiments.ble.loop, experiments.ble.adverts\n"
        "heavy = ('bleak', 'bumble', 'matplotlib')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True, text=True
    )
    assert done.stdout.strip() == "[]"


# -- UART ----------------------------------------------------------------------------------


def test_writes_are_cut_to_the_att_mtu_minus_the_3_byte_header() -> None:
    data = bytes(range(50))
    assert [len(c) for c in chunks(data, 23)] == [20, 20, 10]
    assert b"".join(chunks(data, 23)) == data
    assert [len(c) for c in chunks(data, 247)] == [50]
    # BlueZ negotiates ATT_MTU 517, but no attribute value is longer than 512 bytes
    big = bytes(1100)
    assert [len(c) for c in chunks(big, 517)] == [512, 512, 76]
    assert chunks(b"", 23) == [] and chunks(b"x" * 20, 23) == [b"x" * 20]
    for bad in (22, 0, True, 23.0):
        with pytest.raises(ValueError, match="mtu"):
            chunks(data, bad)  # type: ignore[arg-type]


def test_line_framing_rebuilds_messages_across_notifications() -> None:
    framer = LineFramer(max_bytes=8)
    assert framer.feed(b"hel") == []
    assert framer.feed(b"lo\r\nwor") == [b"hello"]
    assert framer.feed(b"ld\n\n") == [b"world"]
    assert framer.feed(b"0123456789\n") == [b"01234567", b"89"]  # cut at max_bytes
    assert NotificationFramer().feed(b"ab") == [b"ab"] and NotificationFramer().feed(b"") == []


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(initial_s=0.5, factor=2.0, max_s=3.0)
    assert [backoff.delay_s(k) for k in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    with pytest.raises(ValueError):
        Backoff(initial_s=0.0)


def test_the_handoff_is_fifo_and_stops() -> None:
    ticks = iter([10.0, 10.5, 11.0])
    handoff = Handoff(clock=lambda: next(ticks))
    handoff.put(2, b"a", "first")
    handoff.put(0, b"b")
    items = handoff.pending()
    assert items is not None
    assert [(i.node, i.payload, i.wall_s, i.tag) for i in items] == [
        (2, b"a", 10.0, "first"),
        (0, b"b", 10.5, ""),
    ]
    assert handoff.pending() == []
    handoff.stop()
    assert handoff.pending() is None and handoff.stopped


def test_handoff_to_a_closed_loop_is_dropped_quietly() -> None:
    loop = asyncio.new_event_loop()
    loop.close()
    Handoff.to_loop(loop, print, "never")


# -- Ctrl-C --------------------------------------------------------------------------------


def test_a_second_ctrl_c_lets_the_clean_up_finish(capsys: pytest.CaptureFixture[str]) -> None:
    steps: list[str] = []

    async def work() -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: cancels the work
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            steps.append("cancelled")
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C again, while cleaning up
            await asyncio.sleep(0.05)
            steps.append("cleaned up")
            raise

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run_interruptible(work())
    assert steps == ["cancelled", "cleaned up"]
    assert "still closing down" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is before


def test_a_third_ctrl_c_aborts_a_clean_up_that_hangs() -> None:
    async def work() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(30)  # never reached

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_interruptible(work())
    assert time.monotonic() - started < 10


def test_without_ctrl_c_the_result_is_returned() -> None:
    async def work() -> int:
        await asyncio.sleep(0)
        return 7

    assert run_interruptible(work()) == 7


# -- recording -----------------------------------------------------------------------------


def test_distances_are_parsed_and_bad_ones_named() -> None:
    assert parse_distances(["aa:bb=2.5", "CC=10"]) == {"AA:BB": 2.5, "CC": 10.0}
    for bad in ("aa:bb", "aa=0", "aa=-1", "=3", "aa=x"):
        with pytest.raises(ValueError, match="ADDRESS=METRES"):
            parse_distances([bad])


def test_a_recorder_keeps_the_devices_asked_for(tmp_path: Path) -> None:
    recorder = Recorder({"AA": 3.0}, only={"AA"}, wall_clock=lambda: 1700000000.25)
    recorder(adverts.make("aa", -60, name="x", tx_power_dbm=4, time_s=1.0))
    recorder(adverts.make("bb", -70, time_s=1.1))
    assert recorder.rows == [RssiRow(1.0, "AA", "x", -60, 4, 3.0, epoch_s=1700000000.25)]
    path = tmp_path / "r.csv"
    path.write_text(csv_text(recorder.rows))
    # a later run appended to it: time_s starts again, epoch_s tells the runs apart
    later = RssiRow(1.0, "AA", "", -61, None, None, epoch_s=1700000600.5)
    text = merged_text(path, [later], append=True)
    assert text.splitlines() == [
        "time_s,epoch_s,address,name,rssi_dbm,tx_power_dbm,distance_m",
        "1.000,1700000000.250,AA,x,-60,4,3",
        "1.000,1700000600.500,AA,,-61,,",
    ]
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="--append needs a file written by"):
        merged_text(path, [], append=True)


# -- calibration files ---------------------------------------------------------------------


def recording(path: Path, model: LogDistance, tx_dbm: int | None, seed: int = 1) -> None:
    rng = np.random.Generator(np.random.PCG64(seed))
    rows = []
    for k, d in enumerate(np.repeat([1.0, 2.0, 4.0, 8.0, 16.0, 32.0], 40)):
        loss = float(model.median_loss_db(d, 2.44e9)) + rng.normal(0, model.shadowing_sigma_db)
        rssi = round((tx_dbm or 0) - loss)
        rows.append(RssiRow(k * 0.1, "AA", "b", rssi, tx_dbm, d))
    rows.append(RssiRow(99.0, "BB", "", -80, None, None))  # no distance: skipped
    path.write_text(csv_text(rows))


def test_a_recording_becomes_a_profile_that_a_spec_names(tmp_path: Path) -> None:
    truth = LogDistance(exponent=2.2, reference_loss_db=43.0, shadowing_sigma_db=3.0)
    recording(tmp_path / "rssi.csv", truth, tx_dbm=4)
    samples = read_samples(tmp_path / "rssi.csv")
    assert samples.skipped == 1 and samples.loss_db.size == 240
    fit = fit_samples(samples)
    assert abs(fit.exponent - 2.2) < 3 * fit.exponent_se
    (tmp_path / "street.toml").write_text(profile_toml(fit, "rssi.csv", False))
    (tmp_path / "s.toml").write_text(
        '[propagation]\nprofile = "street.toml"\nshadowing_clip_sigma = 2\n'
    )
    prop = load_spec(tmp_path / "s.toml").config.propagation
    assert isinstance(prop, LogDistance)
    assert prop.exponent == pytest.approx(fit.exponent, abs=1e-4)
    assert prop.reference_loss_db == pytest.approx(fit.reference_loss_db, abs=1e-3)
    assert prop.reference_frequency_hz == 2.44e9 and prop.shadowing_clip_sigma == 2.0
    over = load_spec(tmp_path / "s.toml", ["propagation.exponent=3.5"]).config.propagation
    assert over.exponent == 3.5  # the spec's keys win


def test_tx_power_must_be_known(tmp_path: Path) -> None:
    truth = LogDistance(exponent=2.0, reference_loss_db=40.0, shadowing_sigma_db=1.0)
    recording(tmp_path / "r.csv", truth, tx_dbm=None)
    with pytest.raises(CalibrationError, match=r"line 2: column tx_power_dbm: .*--tx-power-dbm"):
        read_samples(tmp_path / "r.csv")
    fit = fit_samples(read_samples(tmp_path / "r.csv", tx_power_dbm=0.0))
    assert fit.exponent == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("address,rssi_dbm\nAA,-50\n", "line 1: missing column(s) distance_m"),
        ("address,rssi_dbm,distance_m\nAA,-50\n", "line 2: 2 cells, the header has 3"),
        ("address,rssi_dbm,distance_m\nAA,loud,2\n", "line 2: column rssi_dbm: not a number"),
        ("address,rssi_dbm,distance_m\nAA,-50,-2\n", "line 2: column distance_m: must be > 0"),
    ],
)
def test_bad_recordings_name_the_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.csv"
    path.write_text(text)
    with pytest.raises(CalibrationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_samples(path, tx_power_dbm=0.0)


def test_calibrate_command_errors_exit_2_and_write_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "p.toml"
    missing = runner.invoke(main, ["ble", "calibrate", str(tmp_path / "no.csv"), "--out", str(out)])
    assert missing.exit_code == 2 and "no.csv: file not found" in missing.output
    (tmp_path / "one.csv").write_text("address,rssi_dbm,distance_m\nAA,-50,2\nAA,-51,2\nAA,-52,2\n")
    flat = runner.invoke(
        main,
        ["ble", "calibrate", str(tmp_path / "one.csv"), "--out", str(out), "--tx-power-dbm", "0"],
    )
    assert flat.exit_code == 2 and "two distances" in flat.output
    assert not out.exists()


def test_calibrate_command_writes_the_profile_and_plot(tmp_path: Path) -> None:
    truth = LogDistance(exponent=2.5, reference_loss_db=45.0, shadowing_sigma_db=2.0)
    recording(tmp_path / "rssi.csv", truth, tx_dbm=0)
    out = tmp_path / "street.toml"
    result = CliRunner().invoke(
        main,
        ["ble", "calibrate", str(tmp_path / "rssi.csv"), "--out", str(out), "--bootstrap", "50"],
    )
    assert result.exit_code == 0, result.output
    assert "exponent n" in result.output and "bootstrap 95 %" in result.output
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "exponent_ci95" in out.read_text()
    # 40 samples at each of 6 positions: sigma is mostly fast fading, and the user is told
    assert "note: sigma pools 240 samples taken at 6 positions" in result.stderr
    assert "positions = 6" in out.read_text()
    args = ["ble", "calibrate", str(tmp_path / "rssi.csv"), "--out", str(out), "--force"]
    averaged = CliRunner().invoke(main, [*args, "--average"])
    assert averaged.exit_code == 0, averaged.output
    assert "note:" not in averaged.stderr and "position_means = true" in out.read_text()


def test_calibrate_refuses_to_replace_its_output_without_force(tmp_path: Path) -> None:
    truth = LogDistance(exponent=2.5, reference_loss_db=45.0, shadowing_sigma_db=2.0)
    recording(tmp_path / "rssi.csv", truth, tx_dbm=0)
    out = tmp_path / "street.toml"
    args = ["ble", "calibrate", str(tmp_path / "rssi.csv"), "--out", str(out)]
    for existing in (out, out.with_suffix(".png")):
        existing.write_text("mine")
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2
        assert f"{existing} exists; use --force to replace it" in result.output
        assert existing.read_text() == "mine"
        existing.unlink()
    assert CliRunner().invoke(main, args).exit_code == 0
    assert CliRunner().invoke(main, [*args, "--force"]).exit_code == 0


def test_a_failing_plot_keeps_the_profile_and_no_stale_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth = LogDistance(exponent=2.5, reference_loss_db=45.0, shadowing_sigma_db=2.0)
    recording(tmp_path / "rssi.csv", truth, tx_dbm=0)
    out = tmp_path / "street.toml"
    args = ["ble", "calibrate", str(tmp_path / "rssi.csv"), "--out", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0  # a profile and its figure

    def broken(*args: object) -> bytes:
        raise RuntimeError("no font cache")

    monkeypatch.setattr(calibrate, "plot_png", broken)
    result = CliRunner().invoke(main, [*args, "--force", "--reference-distance-m", "2"])
    assert result.exit_code == 0, result.output
    assert "(no plot: RuntimeError: no font cache)" in result.stderr
    assert "reference_distance_m = 2" in out.read_text()  # the new profile
    assert not out.with_suffix(".png").exists()  # the old figure showed another fit


# -- spec keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "spec", "message"),
    [
        (None, 'profile = "none.toml"', "[propagation] profile: none.toml: file not found"),
        ("[propagation]\nexponent = -1\n", 'profile = "p.toml"', "p.toml: [propagation]"),
        ("[propagation]\nexponnent = 2\n", 'profile = "p.toml"', "exponnent: unknown key"),
        ("[other]\na = 1\n", 'profile = "p.toml"', "p.toml: [other]: unknown section"),
        ("[calibration]\na = 1\n", 'profile = "p.toml"', "needs a [propagation] table"),
        (None, "profile = 3", "[propagation] profile: must be a file name"),
        (
            "[propagation]\nexponent = 2.5\n",
            'profile = "p.toml"\nmodel = "disk"',
            '[propagation] profile: p.toml is a "log_distance" profile but [propagation] model '
            'is "disk"',
        ),
    ],
)
def test_bad_profiles_are_named(
    tmp_path: Path, profile: str | None, spec: str, message: str
) -> None:
    if profile is not None:
        (tmp_path / "p.toml").write_text(profile)
    (tmp_path / "s.toml").write_text(f"[propagation]\n{spec}\n")
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / "s.toml")
    assert message in str(info.value)


def test_the_ble_section_is_validated(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(
        '[ble]\njoin = "sidewalk"\n[[ble.devices]]\naddress = "aa:bb"\nx_m = 3\n'
        '[ble.nus]\naddress = "cc:dd"\n'
    )
    ble = load_spec(tmp_path / "s.toml").ble
    assert ble is not None and ble.devices[0].address == "AA:BB" and ble.nus.enabled
    assert load_spec(None).ble is None
    for bad, message in [
        ('join = "some"', "[ble] join: must be one of all, sidewalk, listed"),
        ("realtime_factor = 0", "[ble] realtime_factor: must be > 0"),
        ('nus = { framing = "bytes" }', "[ble] nus.framing: must be line or notification"),
        ("colour = 1", "[ble] colour: unknown key"),
        ("min_rssi_dbm = nan", "[ble] min_rssi_dbm: must be a finite number, got nan"),
        ("tx_power_dbm = inf", "[ble] tx_power_dbm: must be a finite number, got inf"),
        ("poll_s = nan", "[ble] poll_s: must be a finite number, got nan"),
        ("default_y_m = -inf", "[ble] default_y_m: must be a finite number, got -inf"),
        ('devices = [{ address = "a", x_m = nan }]', "[ble] devices.x_m: must be a finite"),
        ('nus = { address = "b", y_m = inf }', "[ble] nus.y_m: must be a finite number"),
    ]:
        (tmp_path / "b.toml").write_text(f"[ble]\n{bad}\n")
        with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
            load_spec(tmp_path / "b.toml")


def test_bridge_command_refuses_a_bad_spec_before_touching_bluetooth(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text('[routing]\nstrategy = "flood"\n')
    result = CliRunner().invoke(
        main, ["ble", "bridge", str(tmp_path / "s.toml"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "external nodes need direct" in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("ble", "message"),
    [
        (
            '[[ble.devices]]\naddress = "aa:01"\nx_m = 10\n[[ble.devices]]\naddress = "aa:02"\n'
            "x_m = 500\ny_m = 20\n",
            "[[ble.devices]] entry 2 (AA:02) x_m, y_m: (500, 20) m is outside the study area "
            "[0, 100] x [0, 100]",
        ),
        (
            '[ble.nus]\naddress = "bb"\nx_m = -1\n',
            "[ble.nus] x_m, y_m: (-1, 0) m is outside the study area",
        ),
        ("[ble]\ndefault_y_m = 101\n", "[ble] default_x_m, default_y_m: (50, 101) m is outside"),
    ],
)
def test_bridge_command_refuses_a_placement_outside_the_area_before_touching_bluetooth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ble: str, message: str
) -> None:
    monkeypatch.setitem(sys.modules, "bleak", None)  # touching Bluetooth would fail otherwise
    area = '[topology]\nkind = "random"\nwidth_m = 100\nheight_m = 100\n'
    (tmp_path / "s.toml").write_text(area + '[bridge]\nlinks = ["ble"]\n' + ble)
    result = CliRunner().invoke(
        main, ["ble", "bridge", str(tmp_path / "s.toml"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {tmp_path / 's.toml'}: {message}")
    assert not (tmp_path / "o").exists()
