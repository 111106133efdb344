"""From an RSSI recording to a propagation profile (``sidemesh ble calibrate``).

What it does
    Reads a CSV written by ``sidemesh ble record`` (rows without a distance are skipped),
    turns each row into a path loss ``L = P_tx - RSSI`` (the advertised TX Power Level of the
    row, else ``--tx-power-dbm``), fits the log-distance model (:mod:`radios.calibration`,
    optionally on per-position means and with a bootstrap) and writes a *propagation profile*:
    a TOML file whose ``[propagation]`` table a spec names with ``profile = "street.toml"``,
    with ``reference_frequency_hz`` set to the BLE band so that the engine scales the
    reference loss to other links by Friis' 20 log10(f) (an extrapolation: the exponent and
    sigma measured at 2.4 GHz are kept), and a ``[calibration]`` table of provenance and
    uncertainties. With matplotlib, a figure of the data and the fit.

    Sigma: by default every sample is a row of the fit, and sigma is the spread of all
    samples around the line. Samples taken at one position share that position's shadowing
    and differ by fast fading (multipath, people moving, the three advertising channels), so
    this sigma counts fast fading as shadowing and overstates it; with ``average`` the fit uses
    one mean per position and sigma is the spread of the positions (shadowing only, but from
    few rows: record several positions per distance). :func:`sigma_note` says so when a
    recording has many samples per position and ``average`` is off.

Sources: Rappaport 2nd ed. section 4.9 (via :mod:`radios.calibration`); BLE advertising
channels 37/38/39 at 2402/2426/2480 MHz (Core Spec v5.3 Vol 6 Part A 2), whose centre 2.44 GHz
is ``radios.ble.FREQUENCY_HZ``.

Leaves out: per-device or per-channel offsets (all rows are pooled: record one device per
walk, or devices with the same radio).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.ble.record import COLUMNS
from radios.ble import FREQUENCY_HZ as BLE_FREQUENCY_HZ
from radios.calibration import PathLossFit, fit_log_distance, position_means
from radios.propagation import LogDistance


class CalibrationError(ValueError):
    """Bad input: the message names the file, line and column."""


@dataclass(frozen=True)
class Samples:
    address: np.ndarray
    loss_db: np.ndarray
    distance_m: np.ndarray
    skipped: int  # rows without a distance


def read_samples(path: Path, tx_power_dbm: float | None = None) -> Samples:
    """Path-loss samples of the CSV at ``path``; :class:`CalibrationError` on bad input."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CalibrationError(f"{path}: cannot be read ({err})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    missing = [c for c in ("address", "rssi_dbm", "distance_m") if c not in (header or [])]
    if header is None or missing:
        raise CalibrationError(
            f"{path}: line 1: missing column(s) {', '.join(missing) or 'all'}; a recording has "
            f"the columns {','.join(COLUMNS)}"
        )
    col = {name: header.index(name) for name in header}
    addresses: list[str] = []
    loss: list[float] = []
    distance: list[float] = []
    skipped = 0
    for line, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise CalibrationError(
                f"{path}: line {line}: {len(cells)} cells, the header has {len(header)}"
            )
        d_text = cells[col["distance_m"]].strip()
        if not d_text:
            skipped += 1
            continue
        d = _number(path, line, "distance_m", d_text)
        if d <= 0:
            raise CalibrationError(
                f"{path}: line {line}: column distance_m: must be > 0, got {d_text}"
            )
        rssi = _number(path, line, "rssi_dbm", cells[col["rssi_dbm"]])
        tx_text = cells[col["tx_power_dbm"]].strip() if "tx_power_dbm" in col else ""
        if tx_text:
            tx = _number(path, line, "tx_power_dbm", tx_text)
        elif tx_power_dbm is not None:
            tx = tx_power_dbm
        else:
            raise CalibrationError(
                f"{path}: line {line}: column tx_power_dbm: the device does not advertise its TX "
                "power; give it with --tx-power-dbm (from its datasheet or firmware)"
            )
        addresses.append(cells[col["address"]].strip().upper())
        loss.append(tx - rssi)
        distance.append(d)
    return Samples(np.array(addresses), np.array(loss), np.array(distance), skipped)


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise CalibrationError(f"{path}: line {line}: column {column}: not a number: {text!r}")
    return value


def fit_samples(
    samples: Samples,
    reference_distance_m: float = 1.0,
    average: bool = False,
    bootstrap: int = 0,
    seed: int = 1,
) -> PathLossFit:
    loss, d = samples.loss_db, samples.distance_m
    if average:
        loss, d = position_means(samples.address, loss, d)
    rng = np.random.Generator(np.random.PCG64(seed)) if bootstrap else None
    try:
        return fit_log_distance(loss, d, reference_distance_m, bootstrap, rng)
    except ValueError as err:
        raise CalibrationError(f"cannot fit: {err}") from None


def profile_toml(
    fit: PathLossFit, source: str, average: bool, n_positions: int | None = None
) -> str:
    """The propagation profile: ``[propagation]`` for the engine, ``[calibration]`` for people.
    Checked by building the engine's model from it."""
    LogDistance(
        exponent=fit.exponent,
        reference_distance_m=fit.reference_distance_m,
        reference_loss_db=fit.reference_loss_db,
        reference_frequency_hz=BLE_FREQUENCY_HZ,
        shadowing_sigma_db=fit.shadowing_sigma_db,
    )
    lines = [
        "# Propagation profile written by `sidemesh ble calibrate`; name it in a spec with",
        '# [propagation] profile = "<this file>" (keys of the spec override these).',
        "[propagation]",
        'model = "log_distance"',
        f"exponent = {fit.exponent:.4f}",
        f"reference_distance_m = {fit.reference_distance_m:g}",
        f"reference_loss_db = {fit.reference_loss_db:.3f}",
        f"reference_frequency_hz = {BLE_FREQUENCY_HZ:.6g}",
        f"shadowing_sigma_db = {fit.shadowing_sigma_db:.3f}",
        "",
        "[calibration]",
        f"source = {json.dumps(source)}",
        'model = "L = PL(d0) + 10 n log10(d / d0) + X, X ~ N(0, sigma^2); least squares"',
        f"samples = {fit.samples}",
        f"position_means = {'true' if average else 'false'}",
        f"distance_min_m = {fit.distance_min_m:g}",
        f"distance_max_m = {fit.distance_max_m:g}",
        f"exponent_se = {fit.exponent_se:.4f}",
        f"reference_loss_se_db = {fit.reference_loss_se_db:.3f}",
        f"correlation = {fit.correlation:.4f}",
    ]
    if n_positions is not None:
        lines.append(f"positions = {n_positions}")
    if fit.exponent_ci95 is not None:
        assert fit.reference_loss_ci95_db is not None and fit.shadowing_sigma_ci95_db is not None
        lines += [
            f"bootstrap_samples = {fit.bootstrap_samples}",
            f"exponent_ci95 = [{fit.exponent_ci95[0]:.4f}, {fit.exponent_ci95[1]:.4f}]",
            "reference_loss_ci95_db = "
            f"[{fit.reference_loss_ci95_db[0]:.3f}, {fit.reference_loss_ci95_db[1]:.3f}]",
            "shadowing_sigma_ci95_db = "
            f"[{fit.shadowing_sigma_ci95_db[0]:.3f}, {fit.shadowing_sigma_ci95_db[1]:.3f}]",
        ]
    return "\n".join(lines) + "\n"


def positions(samples: Samples) -> int:
    """Distinct (device, distance) positions in ``samples``."""
    return len(set(zip(samples.address.tolist(), samples.distance_m.tolist(), strict=True)))


#: Mean samples per position above which pooled sigma is mostly fast fading (a note is shown).
MANY_SAMPLES_PER_POSITION = 5


def sigma_note(samples: Samples, average: bool) -> str | None:
    """A note for the user when sigma pools many samples per position (see the module)."""
    count = positions(samples)
    if average or count == 0 or samples.loss_db.size < MANY_SAMPLES_PER_POSITION * count:
        return None
    return (
        f"note: sigma pools {samples.loss_db.size} samples taken at {count} positions, so it "
        "counts fast fading at each position as shadowing; --average fits one mean per "
        "position (sigma is then shadowing only; record several positions per distance)"
    )


def summary_text(fit: PathLossFit, skipped: int) -> str:
    text = (
        f"fit of {fit.samples} samples at {fit.distance_min_m:g}..{fit.distance_max_m:g} m"
        + (f" ({skipped} rows without a distance skipped)" if skipped else "")
        + f":\n  exponent n          {fit.exponent:7.3f} +/- {fit.exponent_se:.3f}"
        + f"\n  PL({fit.reference_distance_m:g} m)            {fit.reference_loss_db:7.2f} "
        f"+/- {fit.reference_loss_se_db:.2f} dB"
        + f"\n  shadowing sigma     {fit.shadowing_sigma_db:7.2f} dB"
        + f"\n  correlation(PL, n)  {fit.correlation:7.3f}"
    )
    if fit.exponent_ci95 is not None:
        text += (
            f"\n  bootstrap 95 %: n in [{fit.exponent_ci95[0]:.3f}, {fit.exponent_ci95[1]:.3f}]"
            f" ({fit.bootstrap_samples} resamples)"
        )
    return text


def plot_png(fit: PathLossFit, samples: Samples) -> bytes:
    """Loss against distance (log axis) with the fitted median and +/- sigma: a PNG image."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(samples.distance_m, samples.loss_db, s=6, alpha=0.4, label="samples")
    d = np.geomspace(fit.distance_min_m, fit.distance_max_m, 100)
    median = fit.median_loss_db(d)
    ax.plot(d, median, color="C1", label=f"fit: n = {fit.exponent:.2f}")
    ax.fill_between(
        d,
        median - fit.shadowing_sigma_db,
        median + fit.shadowing_sigma_db,
        color="C1",
        alpha=0.2,
        label=f"+/- sigma = {fit.shadowing_sigma_db:.1f} dB",
    )
    ax.set_xscale("log")
    ax.set_xlabel("distance (m)")
    ax.set_ylabel("path loss (dB)")
    ax.legend()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
    return buffer.getvalue()
