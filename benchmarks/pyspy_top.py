"""Summarise a ``py-spy record --format raw`` file (collapsed stacks) into hotspot tables.

Usage::

    py-spy record -r 250 -f raw -o /tmp/x.raw -- \\
        python benchmarks/bench.py --worker sim default /tmp/x.json
    python benchmarks/pyspy_top.py /tmp/x.raw [--top 25] [--project mesh/,radios/,experiments/]

Three views, each as a share of all samples:

* ``self``      - the leaf frame (function and current line), i.e. where the CPU was;
* ``line``      - the deepest *project* frame (``--project`` path prefixes), so time spent inside
                  numpy/SimPy is charged to the line of ``mesh/`` that called it; samples without a
                  project frame are charged to their leaf library (``simpy/core.py`` etc.);
* ``inclusive`` - every project function on the stack, counted once per sample.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def parse(path: Path) -> list[tuple[list[tuple[str, str, str]], int]]:
    stacks = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        stack_text, _, count = raw.rpartition(" ")
        frames = []
        for part in stack_text.split(";"):
            m = FRAME.match(part)
            if m:
                frames.append((m["func"], m["file"], m["line"] or "?"))
            else:
                frames.append((part, "?", "?"))
        stacks.append((frames, int(count)))
    return stacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--project", default="mesh/,radios/,experiments/,topologies/")
    args = parser.parse_args(argv)
    prefixes = tuple(p for p in args.project.split(",") if p)
    stacks = parse(args.raw)
    total = sum(c for _, c in stacks)
    if total == 0:
        print("no samples", file=sys.stderr)
        return 1

    leaf: Counter[str] = Counter()
    line: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        func, file, ln = frames[-1]
        leaf[f"{func}  {file}:{ln}"] += count
        project = [f for f in frames if f[1].startswith(prefixes)]
        if project:
            func, file, ln = project[-1]
            line[f"{func}  {file}:{ln}"] += count
        else:
            line[f"(no project frame) {func}  {file}"] += count
        for name in {f"{f[0]}  {f[1]}" for f in project}:
            inclusive[name] += count

    print(f"{total} samples from {args.raw}")
    for title, counter in (
        ("self (leaf frame)", leaf),
        ("charged to the deepest project line", line),
        ("inclusive, project functions", inclusive),
    ):
        print(f"\n{title}")
        for name, count in counter.most_common(args.top):
            print(f"  {100 * count / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
