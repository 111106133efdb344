"""Tier 2 (always on, no hardware): bleak driven through its ``backend=`` seam by a backend on
Google's Bumble stack (``experiments.ble.sim``), with virtual advertisers whose RSSI follows a
known log-distance model and a Nordic UART Service peripheral on an in-process link. A real BLE
host stack on both sides (HCI, L2CAP, ATT/GATT); the code under test is the same as with an
adapter."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("bumble")  # pinned in the test and dev extras; never absent in CI

from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason

from experiments.ble import sim
from experiments.ble.bridge import Bridge
from experiments.ble.calibrate import fit_samples, read_samples
from experiments.ble.errors import NO_ADAPTER, PERMISSION, POWERED_OFF, BleUnavailable
from experiments.ble.record import Recorder, csv_text
from experiments.ble.scanner import Scanner
from experiments.ble.sim import VirtualAdvertiser, VirtualNus, World, WorldConfig, demo_world
from experiments.cli import main
from experiments.runner import write_folder
from experiments.spec import load_spec
from radios.propagation import LogDistance

BOARD = "C0:FF:EE:00:02:01"
SPEC = """
[scenario]
duration_s = {duration}
[topology]
kind = "random"
width_m = 100
height_m = 100
bridges = 3
endpoints = 4
[propagation]
model = "log_distance"
shadowing_sigma_db = 0
{profile}
[endpoint]
link = "ble"
interval_s = 5
tx_power_dbm = 0
[bridge]
links = ["ble"]
[ble]
realtime_factor = {factor}
min_interval_s = 0.1
[ble.nus]
address = "{board}"
x_m = 50
y_m = 50
backoff_initial_s = 0.05
backoff_max_s = 0.2
"""


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Wait (polling) until ``condition()`` holds: counts of events, not wall-clock sleeps, so
    the tests hold on a loaded machine."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


def quiet_world() -> WorldConfig:
    """The demo street with a board that does not echo (the tests send its messages)."""
    return dataclasses.replace(
        demo_world(), peripherals=(VirtualNus(BOARD, 3.0, 0.0, echo_prefix=None),)
    )


def write_spec(tmp_path: Path, duration: float, factor: float = 0.5, profile: str = "") -> Path:
    path = tmp_path / "bridge.toml"
    path.write_text(SPEC.format(duration=duration, factor=factor, board=BOARD, profile=profile))
    return path


def test_scan_reports_every_device_with_the_model_rssi() -> None:
    async def scan() -> dict[str, list[int]]:
        async with World(demo_world()) as world, Scanner(backend=world.scanner_backend()) as s:
            rssi: dict[str, list[int]] = {}
            s.subscribe(lambda adv: rssi.setdefault(adv.address, []).append(adv.rssi_dbm))
            await until(lambda: len(rssi) == 5 and min(map(len, rssi.values())) >= 15)
            kinds = {a: s.latest[a].kinds for a in s.latest}
            assert kinds == {
                "C0:FF:EE:00:00:01": ("sidewalk",),
                "C0:FF:EE:00:00:02": ("sidewalk",),
                "C0:FF:EE:00:00:03": ("sidewalk",),
                "C0:FF:EE:00:01:01": (),
                BOARD: ("nus",),
            }
            assert s.latest["C0:FF:EE:00:01:01"].manufacturer_data == ((0x0059, b"\x01\x17"),)
            return rssi

    rssi = asyncio.run(scan())
    model = demo_world().propagation
    for address, d in (("C0:FF:EE:00:00:01", 2.0), ("C0:FF:EE:00:00:03", 25.0)):
        expected = -float(model.median_loss_db(d, 2.44e9))
        samples = np.array(rssi[address])
        assert samples.size >= 10
        assert abs(samples.mean() - expected) < 4 * 3.0 / np.sqrt(samples.size) + 0.5


def test_a_second_scan_is_refused_like_bluez_does() -> None:
    async def twice() -> None:
        async with World(demo_world()) as world:
            backend = world.scanner_backend()
            async with Scanner(backend=backend), Scanner(backend=backend):
                pass

    with pytest.raises(BleUnavailable, match="a scan is already running") as info:
        asyncio.run(twice())
    assert info.value.kind == "busy"


def test_calibration_recovers_the_model_the_link_applies(tmp_path: Path) -> None:
    truth = LogDistance(exponent=2.8, reference_loss_db=42.0, shadowing_sigma_db=2.0)
    distances = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
    config = WorldConfig(
        advertisers=tuple(
            VirtualAdvertiser(f"C0:FF:EE:00:10:{k:02X}", d, 0.0, tx_power_dbm=4, interval_ms=10)
            for k, d in enumerate(distances)
        ),
        propagation=truth,
        seed=7,
    )
    recorder = Recorder({f"C0:FF:EE:00:10:{k:02X}": d for k, d in enumerate(distances)})

    async def record() -> None:
        async with World(config) as world, Scanner(backend=world.scanner_backend()) as s:
            s.subscribe(recorder)
            await until(lambda: len({r.address for r in recorder.rows[150:]}) == 6)

    asyncio.run(record())
    rows = recorder.rows
    assert len(rows) >= 150 and all(r.tx_power_dbm == 4 for r in rows)
    csv_path = tmp_path / "rssi.csv"
    csv_path.write_text(csv_text(rows))
    fit = fit_samples(read_samples(csv_path))
    # recovery error against the link's model, within 3 standard errors
    assert abs(fit.exponent - 2.8) < 3 * fit.exponent_se and fit.exponent_se < 0.1
    assert abs(fit.reference_loss_db - 42.0) < 3 * fit.reference_loss_se_db
    # shadowing plus the controller's 1 dB RSSI rounding (variance 1/12)
    assert fit.shadowing_sigma_db == pytest.approx(np.sqrt(4.0 + 1 / 12), rel=0.2)


def board_messages(bridge: Bridge) -> list[bytes]:
    return [r.payload for r in bridge.hooks.uplinks if r.node == bridge.slots.nus]


BEACONS = {"C0:FF:EE:00:00:01", "C0:FF:EE:00:00:02", "C0:FF:EE:00:00:03", "C0:FF:EE:00:01:01"}


def devices_heard(bridge: Bridge) -> set[str]:
    return {r.name for r in bridge.hooks.uplinks if r.node != bridge.slots.nus}


async def run_bridge(bridge: Bridge, world: World, drop: bool = False) -> None:
    """Run the bridge until the board, once connected, has sent a line and had three lines
    routed to it, and every beacon was heard (with ``drop``: then drops the link, and sends
    another line once reconnected); then stop it as Ctrl-C does."""
    task = asyncio.create_task(bridge.run())
    await until(lambda: bridge.link is not None and bridge.link.connected.is_set())
    await world.notify(BOARD, b"temp=21\n")
    await until(
        lambda: (
            board_messages(bridge) == [b"temp=21"]
            and bridge.writes >= 3
            and devices_heard(bridge) == BEACONS
        )
    )
    if drop:
        await world.drop(BOARD)
        await until(lambda: bridge.link is not None and bridge.link.connections == 2)
        await world.notify(BOARD, b"back\n")
        await until(lambda: len(board_messages(bridge)) == 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def slow_writes(backend: type) -> type:
    """The client backend with every write awaited a little longer (a D-Bus round trip)."""

    async def write_gatt_char(self: Any, characteristic: Any, data: Any, response: bool) -> None:
        await asyncio.sleep(0.002)
        await backend.write_gatt_char(self, characteristic, data, response)

    return type("SlowClient", (backend,), {"write_gatt_char": write_gatt_char})


@pytest.mark.parametrize("slow", [False, True], ids=["writes", "slow-writes"])
def test_bridge_injects_real_advertisers_and_runs_the_uart_both_ways(
    tmp_path: Path, slow: bool
) -> None:
    spec = load_spec(write_spec(tmp_path, duration=3600.0))

    async def go() -> tuple[Bridge, dict[str, list[bytes]]]:
        async with World(quiet_world()) as world:
            client = world.client_backend()
            bridge = Bridge(
                spec,
                scanner_backend=world.scanner_backend(),
                client_backend=slow_writes(client) if slow else client,
            )
            await run_bridge(bridge, world)
            return bridge, world.received

    bridge, received = asyncio.run(go())
    ups = bridge.hooks.uplinks
    nus = bridge.slots.nus
    assert devices_heard(bridge) == BEACONS
    assert sum(r.fate == "delivered" for r in ups) > 0
    board_up = [r for r in ups if r.node == nus]
    assert [(r.payload, r.tag) for r in board_up] == [(b"temp=21", "nus")]
    assert board_up[0].fate == "delivered"
    # delivered uplinks of the others, routed to the board and written to its RX, whole and
    # in the order they were delivered
    text = b"".join(received[BOARD]).decode()
    lines = [line for line in text.split("\n") if line]
    assert lines and all(line.split()[0] in BEACONS for line in lines)
    assert len(lines) == bridge.writes >= 3
    delivered_down = [r for r in bridge.hooks.downlinks if r.fate == "delivered"]
    assert len(delivered_down) >= bridge.writes  # (the last ones may be on their way)
    assert lines == [r.payload.decode().strip() for r in delivered_down[: len(lines)]]
    assert bridge.outages == [] and bridge.interrupted
    files = bridge.files()
    assert files["uplinks.csv"].count("\n") == len(ups) + 1
    assert '"interrupted": true' in files["bridge.json"]


def test_the_bridge_survives_the_board_dropping_the_link(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, duration=3600.0))

    async def go() -> Bridge:
        async with World(quiet_world()) as world:
            bridge = Bridge(
                spec,
                scanner_backend=world.scanner_backend(),
                client_backend=world.client_backend(),
            )
            await run_bridge(bridge, world, drop=True)
            return bridge

    bridge = asyncio.run(go())
    (outage,) = bridge.outages
    assert outage.address == BOARD and outage.reason == "disconnected"
    assert outage.end_s > outage.start_s and outage.attempts >= 1
    assert board_messages(bridge) == [b"temp=21", b"back"]  # heard again after reconnecting
    assert bridge.link is not None and bridge.link.connections == 2
    assert "disconnected" in bridge.files()["outages.csv"]


def test_cancelling_the_bridge_keeps_the_results_so_far(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, duration=3600.0))
    shown_on: set[str] = set()

    def on_row(row: object) -> None:
        shown_on.add(threading.current_thread().name)

    async def go() -> Bridge:
        async with World(quiet_world()) as world:
            bridge = Bridge(
                spec,
                scanner_backend=world.scanner_backend(),
                client_backend=world.client_backend(),
                on_row=on_row,
            )
            task = asyncio.create_task(bridge.run())
            await until(lambda: len(bridge.hooks.uplinks) >= 3 and bool(shown_on))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return bridge

    bridge = asyncio.run(go())
    assert bridge.interrupted and bridge.hooks.uplinks
    assert shown_on == {threading.main_thread().name}  # rows are shown on the loop's thread
    write_folder(tmp_path / "out", bridge.files())
    summary = json.loads((tmp_path / "out" / "bridge.json").read_text())
    assert summary["interrupted"] and summary["simulation_stopped"] and summary["error"] is None


def test_a_simulation_that_does_not_stop_is_waited_for_a_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()

    def stuck(*args: Any, **kwargs: Any) -> None:  # deaf to the hand-off's stop
        release.wait(60)

    monkeypatch.setattr("experiments.ble.bridge.simulate", stuck)
    spec = load_spec(write_spec(tmp_path, duration=3600.0))

    async def go() -> tuple[Bridge, float]:
        async with World(quiet_world()) as world:
            bridge = Bridge(
                spec,
                scanner_backend=world.scanner_backend(),
                client_backend=world.client_backend(),
            )
            bridge.join_timeout_s = 0.2
            task = asyncio.create_task(bridge.run())
            await until(lambda: bridge.link is not None and bridge.link.connected.is_set())
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return bridge, time.monotonic() - started

    try:
        bridge, waited_s = asyncio.run(go())
    finally:
        release.set()
    assert bridge.worker_stuck and waited_s < 10
    assert bridge.link is not None and bridge.link.client is None  # closed all the same
    assert json.loads(bridge.files()["bridge.json"])["simulation_stopped"] is False


def test_cancelling_twice_still_closes_the_link(tmp_path: Path) -> None:
    """A second Ctrl-C (a second cancel) while the bridge is shutting down does not skip
    closing the board's link."""
    spec = load_spec(write_spec(tmp_path, duration=3600.0))

    async def go() -> tuple[Bridge, int]:
        async with World(quiet_world()) as world:
            bridge = Bridge(
                spec,
                scanner_backend=world.scanner_backend(),
                client_backend=world.client_backend(),
            )
            task = asyncio.create_task(bridge.run())
            await until(lambda: bridge.link is not None and bridge.link.connected.is_set())
            task.cancel()
            await until(lambda: bridge.handoff.stopped)  # shutting down
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            board = world.devices[BOARD]
            await until(lambda: not board.connections)
            return bridge, len(board.connections)

    bridge, connections = asyncio.run(go())
    assert bridge.interrupted and connections == 0
    assert bridge.link is not None and bridge.link.client is None
    assert bridge.wall_s > 0  # the clean-up ran to its end


def test_a_failed_discovery_leaves_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("discovery failed")

    monkeypatch.setattr(sim.Peer, "discover_services", fail)

    async def go() -> None:
        async with World(quiet_world()) as world:
            client = world.client_backend()(BOARD, timeout=5.0)
            with pytest.raises(RuntimeError, match="discovery failed"):
                await client.connect(pair=False)
            board = world.devices[BOARD]
            await until(lambda: not board.connections)
            assert not client.is_connected

    asyncio.run(go())


def world_without_nus() -> WorldConfig:
    """The demo street, where the board's address is a plain beacon (no NUS)."""
    beacon = VirtualAdvertiser(BOARD, 3.0, 0.0, name="not-nus")
    return dataclasses.replace(
        demo_world(), advertisers=(*demo_world().advertisers, beacon), peripherals=()
    )


def test_a_board_without_nus_is_one_message_and_the_results_so_far(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim, "demo_world", world_without_nus)
    spec = write_spec(tmp_path, duration=3600.0)
    out = tmp_path / "out"
    args = ["ble", "bridge", str(spec), "--out", str(out), "--backend", "bumble", "--quiet"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"error: {BOARD} has no Nordic UART Service")
    assert lines[1:] == [f"results so far written to {out}/"]
    summary = json.loads((out / "bridge.json").read_text())
    assert "has no Nordic UART Service" in summary["error"] and not summary["interrupted"]
    assert "uplinks.csv" in {p.name for p in out.iterdir()}


class UnavailableScanner(BaseBleakScanner):
    """A scanner backend whose adapter is not available, for ``reason``."""

    reason = BleakBluetoothNotAvailableReason.UNKNOWN

    def __init__(
        self, detection_callback: Any, service_uuids: Any, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(detection_callback, service_uuids)

    async def start(self) -> None:
        raise BleakBluetoothNotAvailableError("Bluetooth is not available here", self.reason)

    async def stop(self) -> None:
        pass


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("NO_BLUETOOTH", f"{NO_ADAPTER} (Bluetooth is not available here)"),
        ("POWERED_OFF", POWERED_OFF),
        ("DENIED_BY_USER", PERMISSION),
    ],
)
def test_adapter_problems_through_bleak_are_one_message_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reason: str, message: str
) -> None:
    backend = type(
        "Unavailable", (UnavailableScanner,), {"reason": BleakBluetoothNotAvailableReason[reason]}
    )
    monkeypatch.setattr(sim.World, "scanner_backend", lambda self: backend)
    runner = CliRunner()
    scan = runner.invoke(main, ["ble", "scan", "--backend", "bumble", "--duration", "1s"])
    assert (scan.exit_code, scan.output) == (2, f"error: {message}\n"), repr(scan.exception)
    out = tmp_path / "out"
    spec = write_spec(tmp_path, duration=3600.0)
    bridge = runner.invoke(
        main, ["ble", "bridge", str(spec), "--out", str(out), "--backend", "bumble"]
    )
    assert (bridge.exit_code, bridge.output) == (2, f"error: {message}\n")
    assert not out.exists()  # nothing ran: nothing written


def test_record_calibrate_bridge_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    rssi = tmp_path / "rssi.csv"
    for address, d in (("C0:FF:EE:00:00:01", 2), ("C0:FF:EE:00:00:02", 8)):
        args = ["ble", "record", "--backend", "bumble", "--out", str(rssi), "--duration", "0.4s"]
        args += ["--distance", f"{address}={d}", "--append"]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
    profile = tmp_path / "street.toml"
    result = runner.invoke(main, ["ble", "calibrate", str(rssi), "--out", str(profile)])
    assert result.exit_code == 0, result.output
    spec = write_spec(tmp_path, duration=1.0, factor=0.5, profile='profile = "street.toml"')
    loaded = load_spec(spec).config.propagation
    assert loaded.reference_frequency_hz == 2.44e9  # the profile's key
    out = tmp_path / "out"
    args = ["ble", "bridge", str(spec), "--out", str(out), "--backend", "bumble", "--quiet"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "results written to" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "bridge.json",
        "devices.csv",
        "downlinks.csv",
        "outages.csv",
        "uplinks.csv",
    ]


def read_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """The child's next line of output, or "" if none comes within ``timeout_s``."""
    assert proc.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return lines[0] if lines else ""


def test_ctrl_c_stops_the_bridge_and_writes_the_results_so_far(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, duration=3600.0, factor=1.0)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "experiments", "ble", "bridge", str(spec), "--out", str(out)]
    proc = subprocess.Popen(
        [*command, "--backend", "bumble"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        line = read_line(proc, timeout_s=60)  # the first uplink: the bridge is running
        assert "uplink" in line
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()  # (a no-op once it has exited)
        proc.wait()
    assert proc.returncode == 130, stderr
    assert f"interrupted: results so far written to {out}/" in stderr
    assert '"interrupted": true' in (out / "bridge.json").read_text()
    assert (out / "uplinks.csv").read_text().count("\n") >= 2
