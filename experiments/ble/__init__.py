"""Real BLE hardware through bleak: scan, record RSSI, calibrate, and bridge real devices into a
running emulation (``sidemesh ble ...``).

What it holds
    ``adverts`` (advertisements as plain data: Sidewalk 0xFE03 and Nordic UART Service devices
    recognised), ``errors`` (every adapter problem as one message, exit status 2), ``scanner``
    (the one long-lived scanner of an adapter), ``uart`` (a Nordic UART Service link: chunked
    writes, framing, reconnection), ``handoff`` (the only crossing between bleak's asyncio
    loop and the SimPy real-time thread), ``loop`` (a command's event loop and Ctrl-C),
    ``bridge`` (hardware in the loop), ``record`` and ``calibrate`` (RSSI to a propagation
    profile), ``config`` (the ``[ble]`` spec section) and ``sim`` (a virtual street on Bumble
    behind bleak's ``backend=`` seam, for tests and ``--backend bumble``).

    bleak is an optional extra (``pip install 'sidemesh[ble]'``) imported lazily, inside the
    functions that talk to an adapter: importing this package, or ``experiments.cli``, never
    needs it (nor Bumble, which only ``sim`` imports). Every adapter problem (extra missing, no
    adapter, adapter off, no permission, a board without NUS) becomes one
    :class:`experiments.ble.errors.BleUnavailable` with one clear message (exit status 2).

Sources: bleak 3.x (github.com/hbldh/bleak: ``BleakScanner``, ``BleakClient``, the ``backend=``
argument, ``bleak.exc``); Bluetooth Core Specification v5.3 (advertising, ATT); Nordic
Semiconductor's NUS documentation; BlueZ D-Bus API documentation; Bumble (github.com/google/
bumble); each module cites what it follows.

Leaves out: pairing and encrypted boards, extended advertising, devices that rotate their
address (each address is a new device), more than one board, and platform specifics of macOS
and Windows (bleak supports them; untested here).
"""
