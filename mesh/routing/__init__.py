"""Relaying strategies: how frames travel from endpoints to a bridge.

``direct`` is the foundation's star of bridges (``mesh.forwarding.DirectForwarder``); the
others relay over nodes whose role has ``relay = true`` (``mesh.routing.base``). A new strategy
is one module with a :class:`mesh.routing.base.Relaying` subclass plus one entry in
:data:`STRATEGIES`; ``[routing] strategy`` names it.
"""

from __future__ import annotations

from mesh.routing.base import Relaying
from mesh.routing.contention import ContentionFlood
from mesh.routing.flood import Flood
from mesh.routing.gradient import Gradient

#: Relaying strategies by name (``direct`` is not here: it relays nothing).
STRATEGIES: dict[str, type[Relaying]] = {
    "flood": Flood,
    "contention_flood": ContentionFlood,
    "gradient": Gradient,
}

__all__ = ["STRATEGIES", "Relaying"]
