"""Radio physics for sidemesh: pure functions and frozen dataclasses over numpy/scipy.

Modules (import them explicitly, e.g. ``from radios import lora``):

* :mod:`radios.lora` - LoRa time on air (SX127x / SX126x formulas), sensitivity, SNR floors,
  inter-SF rejection matrices (Goursaud 2015, Croce 2018) and Sidewalk LoRa parameters.
* :mod:`radios.fsk` - Sidewalk 900 MHz 2-GFSK 50 kb/s link (802.15.4g SUN-FSK framing).
* :mod:`radios.ble` - Bluetooth LE packet airtime per PHY, sensitivity, advertising setup.
* :mod:`radios.energy` - radio/MCU current profiles (nRF52840, SX1262) and batteries.
* :mod:`radios.propagation` - vectorised path loss models and static pairwise shadowing.

Nothing here knows about the simulation engine, scenarios or topologies; randomness only enters
through explicit arguments (e.g. the shadowing ``key``). Every constant cites its source and
unpublished values are marked ASSUMPTION in their docstrings.
"""
