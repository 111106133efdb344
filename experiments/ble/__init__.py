"""Real BLE hardware through bleak: scan, record RSSI, calibrate, and bridge real devices into a
running emulation (``sidemesh ble ...``).

bleak is an optional extra (``pip install 'sidemesh[ble]'``) imported lazily, inside the functions
that talk to an adapter: importing this package, or ``experiments.cli``, never needs it. Every
adapter problem (extra missing, no adapter, adapter off, no permission) becomes one
:class:`experiments.ble.errors.BleUnavailable` with one clear message (exit status 2).
"""
