"""Renderings of a regression check (``experiments.regression.Report``) for people and machines.

- ``baseline_text``: what ``sidemesh baseline`` stored, per metric;
- ``table_text``: the terminal table (metric, better, baseline, now, delta, tolerance, p,
  verdict) with the warnings and a closing PASS/FAIL line;
- ``junit_xml``: JUnit XML, one ``<testcase>`` per tracked metric, ``<failure>`` for a regressed
  or missing metric, ``<skipped>`` when neither side has a value or the change is not testable.
  The schema is the one Jenkins' JUnit plugin, GitLab's ``artifacts:reports:junit`` and the
  GitHub test-report actions read (``testsuites > testsuite > testcase``, counts as attributes,
  the suite's ``timestamp`` and ``hostname``; Ant's ``junit`` task XML);
- ``markdown``: a job summary (``$GITHUB_STEP_SUMMARY``, a merge-request note), each warning a
  paragraph of its own;
- ``report_data``: the same facts as plain data, for ``--json``.

Leaves out: per-seed values (they are in the baseline file) and any timing per metric (every
metric comes from the same runs, so a test case's ``time`` is 0).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from experiments.regression import (
    FAILING,
    MISSING,
    NO_DATA,
    NOT_TESTABLE,
    OK,
    Baseline,
    Report,
    Verdict,
    fmt,
    fmt_delta,
)

_VERDICT_WORDS = {
    "ok": "ok",
    "improved": "improved",
    "regressed": "REGRESSED",
    "not testable": "not testable",
    "missing": "MISSING",
    "no data": "no data",
}
_HEADER = ("metric", "better", "baseline", "now", "delta", "tolerance", "p", "verdict")


def baseline_text(baseline: Baseline) -> str:
    """Per tracked metric: direction, tolerance, mean, spread and how many runs had a value."""
    lines = [f"  {'metric':<28}{'better':<8}{'tolerance':>10}{'mean':>12}{'sd':>12}{'runs':>6}"]
    for name, rec in baseline.metrics.items():
        lines.append(
            f"  {name:<28}{rec.rule.better:<8}{rec.rule.tolerance!s:>10}{fmt(rec.mean):>12}"
            f"{fmt(rec.sd):>12}{len(rec.present):>6}"
        )
        if not rec.present:
            lines.append(f"    (no value in any run: the check will report {name} as no data)")
    return "\n".join(lines)


def _tolerance(v: Verdict) -> str:
    t = v.rule.tolerance
    return f"{t} ({fmt(v.tolerance_abs)})" if t.relative else str(t)


def _p(v: Verdict) -> str:
    return "-" if v.p_value is None else f"{v.p_value:.2g}"


def _now(v: Verdict) -> str:
    return f"lost {v.lost}/{v.n}" if v.status == MISSING else fmt(v.now_mean)


def _cells(v: Verdict) -> tuple[str, ...]:
    return (
        v.rule.metric,
        v.rule.better,
        fmt(v.baseline_mean),
        _now(v),
        fmt_delta(v.delta),
        _tolerance(v),
        _p(v),
        _VERDICT_WORDS[v.status],
    )


def method(report: Report) -> str:
    """One line on how the verdicts were reached."""
    return (
        f"{len(report.seeds)} seeds ({_seed_range(report.seeds)}), paired one-sided sign-flip "
        f"test; a metric fails when its worsening credibly exceeds its tolerance: p <= "
        f"{report.alpha_per_metric:.2g} (false-alarm rate {report.alpha:g} over "
        f"{len(report.verdicts)} metrics)"
    )


def _seed_range(seeds: tuple[int, ...]) -> str:
    if list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}..{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def notes(report: Report) -> list[str]:
    """The messages worth reading: every metric that is not plainly within its tolerance."""
    return [
        v.message
        for v in report.verdicts
        if v.status != OK or (v.worsening is not None and v.worsening > v.tolerance_abs)
    ]


def conclusion(report: Report) -> str:
    failures = report.failures
    if not failures:
        untested = sum(v.status == NOT_TESTABLE for v in report.verdicts)
        also = f"; {untested} not testable" if untested else ""
        return f"PASS: no tracked metric regressed ({len(report.verdicts)} checked{also})"
    names = ", ".join(f"{v.rule.metric} ({_VERDICT_WORDS[v.status]})" for v in failures)
    return f"FAIL: {len(failures)} of {len(report.verdicts)} metrics: {names}"


def table_text(report: Report) -> str:
    rows = [_HEADER, *(_cells(v) for v in report.verdicts)]
    widths = [max(len(r[k]) for r in rows) for k in range(len(_HEADER))]
    numeric = {2, 3, 4, 6}

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if k in numeric else c.ljust(w)
            for k, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [
        f"sidemesh check {report.spec_source} against {report.baseline_source}",
        method(report),
        "",
        line(_HEADER),
        "  ".join("-" * w for w in widths),
        *(line(_cells(v)) for v in report.verdicts),
        "",
    ]
    out.extend(f"  {message}" for message in notes(report))
    out.extend(f"warning: {w}" for w in report.warnings)
    out.append(conclusion(report))
    return "\n".join(out)


def junit_xml(report: Report) -> str:
    """JUnit XML text: one test suite, one test case per metric."""
    failures = sum(v.status in FAILING for v in report.verdicts)
    skipped = sum(v.status in (NO_DATA, NOT_TESTABLE) for v in report.verdicts)
    counts = {
        "tests": str(len(report.verdicts)),
        "failures": str(failures),
        "errors": "0",
        "skipped": str(skipped),
        "time": f"{report.wall_time_s:.3f}",
    }
    suites = ET.Element("testsuites", {"name": "sidemesh check", **counts})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {
            "name": f"sidemesh check {report.spec_source}",
            **counts,
            "timestamp": report.timestamp,
            "hostname": report.hostname,
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("spec", report.spec_source),
        ("baseline", report.baseline_source),
        ("spec_hash", report.spec_hash),
        ("baseline_spec_hash", report.baseline_hash),
        ("seeds", ",".join(str(s) for s in report.seeds)),
        ("method", method(report)),
        ("sidemesh", report.versions.get("sidemesh", "")),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    classname = f"sidemesh.check.{Path(report.spec_source).stem}"
    for v in report.verdicts:
        case = ET.SubElement(
            suite, "testcase", {"name": v.rule.metric, "classname": classname, "time": "0"}
        )
        detail = "\n".join(f"{h}: {c}" for h, c in zip(_HEADER, _cells(v), strict=True))
        if v.status in FAILING:
            failure = ET.SubElement(case, "failure", {"message": v.message, "type": v.status})
            failure.text = detail
        elif v.status in (NO_DATA, NOT_TESTABLE):
            skipped_case = ET.SubElement(case, "skipped", {"message": v.message})
            skipped_case.text = detail
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"{v.message}\n{detail}"
    if report.warnings:
        err = ET.SubElement(suite, "system-err")
        err.text = "\n".join(f"warning: {w}" for w in report.warnings)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(report: Report) -> str:
    """A Markdown job summary."""
    status = "passed" if report.passed else "FAILED"
    out = [
        f"### sidemesh check {status}: `{report.spec_source}`",
        "",
        f"Baseline `{report.baseline_source}`; {_md(method(report))}.",
        "",
        "| " + " | ".join(_HEADER) + " |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for v in report.verdicts:
        cells = list(_cells(v))
        cells[0] = f"`{cells[0]}`"
        if v.failed:
            cells[-1] = f"**{cells[-1]}**"
        out.append("| " + " | ".join(_md(c) for c in cells) + " |")
    items = [f"- {_md(message)}" for message in notes(report)]
    out.extend(["", *items, *([""] if items else [])])
    for warning in report.warnings:  # a blank line between quotes: one paragraph each
        out.extend([f"> **Warning:** {_md(warning)}", ""])
    out.extend([f"**{conclusion(report)}**", ""])
    return "\n".join(out)


def report_data(report: Report) -> dict[str, Any]:
    """Everything in the report as JSON-ready data."""
    return {
        "passed": report.passed,
        "spec": report.spec_source,
        "baseline": report.baseline_source,
        "spec_hash": report.spec_hash,
        "baseline_spec_hash": report.baseline_hash,
        "spec_changed": report.spec_hash != report.baseline_hash,
        "seeds": list(report.seeds),
        "alpha": report.alpha,
        "alpha_per_metric": report.alpha_per_metric,
        "metrics": [
            {
                "metric": v.rule.metric,
                "better": v.rule.better,
                "tolerance": v.rule.tolerance.to_json(),
                "tolerance_abs": v.tolerance_abs,
                "baseline_mean": v.baseline_mean,
                "now_mean": v.now_mean,
                "delta": v.delta,
                "worsening": v.worsening,
                "p_value": v.p_value,
                "test": v.test,
                "n": v.n,
                "lost": v.lost,
                "verdict": v.status,
                "failed": v.failed,
                "message": v.message,
            }
            for v in report.verdicts
        ],
        "warnings": list(report.warnings),
        "versions": dict(report.versions),
        "baseline_versions": dict(report.baseline_versions),
        "wall_time_s": round(report.wall_time_s, 3),
        "timestamp": report.timestamp,
        "hostname": report.hostname,
    }


def report_json(report: Report) -> str:
    return json.dumps(report_data(report), indent=2, allow_nan=False) + "\n"
