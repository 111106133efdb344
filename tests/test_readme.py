"""README is executable documentation: its commands, example spec, API example and reference."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import experiments
from experiments import reference

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_gives_the_two_newcomer_commands_and_ci_runs_the_same_test_command() -> None:
    shell = [b.strip() for b in code_blocks("sh")]
    assert shell[0] == (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/sidemesh run"
    )
    assert shell[1] == ".venv/bin/python -m pytest"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert shell[1] in ci  # (followed by the coverage regression check)
    assert ci[-1] == "bash tests/bluez/run-tier3.sh"  # tier 3 after the whole suite


def test_spec_reference_is_current() -> None:
    assert reference.readme_block() in README, (
        "README's spec reference is stale: run `python -m experiments.reference README.md`"
    )


def test_every_spec_key_is_documented() -> None:
    for _heading, _note, rows in reference.sections():
        for row in rows:
            assert row.doc, f"{row.key} has no documentation"


def test_readme_example_spec_is_the_shipped_closed_form_spec_and_runs(tmp_path) -> None:
    example = next(b for b in code_blocks("toml") if "[scenario]" in b)
    shipped = (REPO / "experiments" / "pure-aloha.toml").read_text(encoding="utf-8")
    assert tomllib.loads(example) == tomllib.loads(shipped)
    path = tmp_path / "example.toml"
    path.write_text(example, encoding="utf-8")
    summary = experiments.run(experiments.load_spec(path, duration="120s")).summary
    assert summary["packets"]["generated"] > 0


def test_readme_python_example_runs(tmp_path, monkeypatch) -> None:
    block = next(b for b in code_blocks("python") if b.startswith("# readme-example"))
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "pure-aloha.toml").write_text(
        (REPO / "experiments" / "pure-aloha.toml").read_text(encoding="utf-8")
    )
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    written = sorted(os.listdir(tmp_path / "out" / "aloha"))
    assert written == [
        "bridges.csv",
        "downlinks.csv",
        "endpoints.csv",
        "packets.csv",
        "run.json",
        "summary.json",
    ]


def test_readme_relaying_spec_snippet_loads_and_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from experiments.runner import run

    block = next(b for b in code_blocks("toml") if "[routing]" in b)
    spec_file = tmp_path / "relay.toml"
    spec_file.write_text(block)
    spec = experiments.load_spec(spec_file, duration="2m")
    assert spec.config.routing.strategy == "flood"
    summary = run(spec).summary
    assert summary["mobility"]["mobile_endpoints"] > 0
    assert summary["faults"]["jammers"] == 1


def test_readme_sweep_example_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from experiments.spec import default_spec_text
    from experiments.sweep import load_sweep

    block = next(b for b in code_blocks("toml") if "[sweep]" in b)
    (tmp_path / "scenario.toml").write_text(default_spec_text())
    (tmp_path / "sweep.toml").write_text(block)
    sweep = load_sweep(tmp_path / "sweep.toml")
    assert len(sweep.points) == 6 and len(sweep.runs()) == 24
    assert "latency_s.p95" in sweep.metrics


def test_readme_ci_workflows_parse_and_keep_their_reports() -> None:
    """The GitHub Actions and GitLab CI examples are valid YAML that keep the JUnit report and
    the summary when the check fails, and install the versions that made the baseline."""
    import json

    import yaml

    section = README.split("## Coverage regression checks in CI\n", 1)[1].split("\n## ", 1)[0]
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, flags=re.S)]
    github = next(b for b in blocks if "jobs" in b)
    gitlab = next(b for b in blocks if "jobs" not in b)
    baseline = json.loads((REPO / "experiments/ci/ci-suburb.baseline.json").read_text())
    python = baseline["versions"]["python"]

    assert github.get("on", github.get(True)) == ["push", "pull_request"]  # YAML 1.1: on is True
    steps = github["jobs"]["sidemesh-check"]["steps"]
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == python
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert "-c experiments/ci/constraints.txt" in install["run"]
    check = next(s for s in steps if "sidemesh check" in s.get("run", ""))
    assert '--markdown "$GITHUB_STEP_SUMMARY"' in check["run"]
    assert "--junit sidemesh-junit.xml" in check["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "sidemesh-junit.xml"

    job = gitlab["sidemesh-check"]
    assert job["image"] == f"python:{python}"
    assert any("-c experiments/ci/constraints.txt" in line for line in job["script"])
    assert any("--junit sidemesh-junit.xml" in line for line in job["script"])
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "sidemesh-junit.xml"
