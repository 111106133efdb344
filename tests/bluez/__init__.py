"""Tier 3: unmodified bleak against real BlueZ and a Bumble controller on /dev/vhci (a VM)."""
