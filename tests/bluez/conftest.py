"""Tier-3 gate: tests marked ``bluez`` need /dev/vhci (a kernel with Bluetooth, as in the VM
that tests/bluez/run-tier3.sh boots); elsewhere they are skipped, unless
SIDEMESH_BLUEZ_REQUIRED=1 (set by run-in-the-VM), where a missing /dev/vhci is an error, so
the tier can never pass by skipping everything.

Leaves out: checking that bluetoothd runs (each test waits for its adapter on D-Bus and fails
with a timeout when BlueZ is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

VHCI = Path("/dev/vhci")

REQUIRED = os.environ.get("SIDEMESH_BLUEZ_REQUIRED") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if VHCI.exists():
        return
    if REQUIRED:
        raise pytest.UsageError(f"SIDEMESH_BLUEZ_REQUIRED=1 but {VHCI} is missing")
    skip = pytest.mark.skip(reason=f"no {VHCI}: tier 3 runs in a VM (tests/bluez/run-tier3.sh)")
    for item in items:
        if item.get_closest_marker("bluez") is not None:
            item.add_marker(skip)
