"""The SimPy engine of sidemesh: context, medium, MAC, bridges, backhaul, network server, records.

Entry point: :func:`mesh.simulation.simulate` (``SimConfig -> SimResult``). May import ``radios``
and ``topologies``; never ``experiments``.
"""
