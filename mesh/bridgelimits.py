"""Bridge uplink limits: a per-bridge bandwidth cap with a FIFO queue, and per-account data
allowances.

Model:

- ``BackhaulQueue``: each bridge's uplink to the network server is a FIFO queue served at a constant
  ``rate_bps`` (a work-conserving constant-rate server). A copy arriving at ``t_s`` leaves the
  bridge at ``D = max(t_s, busy_until) + size_bytes * 8 / rate_bps`` (Lindley's recursion, e.g.
  Kleinrock, "Queueing Systems", vol. 1, 1975, ch. 8). The backlog of a bridge at ``t_s`` (bytes
  still queued or in service, including the part of the copy in service not yet sent) is
  ``max(busy_until - t_s, 0) * rate_bps / 8``; with a finite ``queue_limit_bytes`` a copy is
  dropped when the backlog plus the copy would exceed the limit (tail drop).
- ``DataAllowance``: bridges belong to accounts; each account may send ``allowance_bytes`` per
  accounting period of ``period_s`` (period ``k = floor(t_s / period_s)``, the counter restarts at
  zero at each period boundary). Copies that would take an account over its allowance are dropped;
  the copies of one call are charged in the order given, so the allowance is never exceeded.
- ``accounts``: groups bridges into accounts of ``bridges_per_account`` bridges.

Source: Amazon Sidewalk documentation and FAQ: the maximum bandwidth of Sidewalk from a bridge to
the Sidewalk server is 80 kbps; the total monthly Sidewalk data per account is capped at 500 MB; an
account may own one or more bridges. ASSUMPTIONS (not published by Amazon): 80 kbps is taken as
80,000 bit/s of payload (no protocol overhead on top of the bytes passed in) and 500 MB as
500,000,000 bytes; the accounting period is a fixed 30-day month (calendar months vary, and the
phase of the billing month is unknown, so period 0 starts at t = 0); the queue discipline is FIFO
with tail drop; the number of bridges per account (default 1).

Leaves out: other household traffic sharing the internet link; TCP or TLS dynamics, framing
overhead and the link's own latency (the bandwidth is a constant-rate server; latency and outages
are ``mesh.backhaul``'s); data sent by an account for anything other than forwarded copies; the
order in which a caller applies the two limits (a copy refused by one is simply not passed to the
other by the caller).

Both classes expect the calls in nondecreasing time order and the bridges of one call to be
distinct (a bridge decodes a frame once); each call is a handful of vectorised numpy operations.
"""

from __future__ import annotations

import math

import numpy as np

SIDEWALK_RATE_BPS = 80_000.0
"""Maximum bridge-to-server bandwidth (Amazon Sidewalk FAQ: 80 kbps; ASSUMPTION: 1 k = 1000)."""
SIDEWALK_ALLOWANCE_BYTES = 500_000_000
"""Monthly Sidewalk data per account (Amazon Sidewalk FAQ: 500 MB; ASSUMPTION: 1 MB = 10**6 B)."""
MONTH_S = 30 * 86_400.0
"""Accounting period. ASSUMPTION: a fixed 30-day month (calendar months vary)."""
_BACKLOG_SLACK_BYTES = 1e-6
"""Rounding slack when comparing a backlog computed from times with the byte limit."""


def _check_size(size_bytes: int) -> None:
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int | np.integer):
        raise ValueError(f"size_bytes must be an integer, got {size_bytes!r}")
    if size_bytes <= 0:
        raise ValueError(f"size_bytes must be positive, got {size_bytes}")


class BackhaulQueue:
    """Per-bridge FIFO uplink at a constant rate, with an optional per-bridge queue limit.

    Tracked per node (index = node index; zero for nodes that never forward):

    - ``busy_until_s``: time the bridge's uplink finishes sending everything admitted so far.
    - ``bytes_forwarded``, ``copies_forwarded``: admitted copies and their bytes.
    - ``copies_dropped``: copies refused because the queue limit would have been exceeded.
    - ``queueing_delay_s``: total time admitted copies waited before their service started
      (divide by ``copies_forwarded`` for the mean wait, a load metric).
    """

    def __init__(
        self,
        n_nodes: int,
        rate_bps: float = SIDEWALK_RATE_BPS,
        queue_limit_bytes: float = math.inf,
    ) -> None:
        if n_nodes < 0:
            raise ValueError(f"n_nodes must be >= 0, got {n_nodes}")
        if not (rate_bps > 0 and math.isfinite(rate_bps)):
            raise ValueError(f"rate_bps must be positive and finite, got {rate_bps}")
        if not queue_limit_bytes >= 0:
            raise ValueError(
                f"queue_limit_bytes must be >= 0 (math.inf: no limit), got {queue_limit_bytes}"
            )
        self.rate_bps = float(rate_bps)
        self.queue_limit_bytes = float(queue_limit_bytes)
        self.busy_until_s = np.zeros(n_nodes, dtype=np.float64)
        self.bytes_forwarded = np.zeros(n_nodes, dtype=np.int64)
        self.copies_forwarded = np.zeros(n_nodes, dtype=np.int64)
        self.copies_dropped = np.zeros(n_nodes, dtype=np.int64)
        self.queueing_delay_s = np.zeros(n_nodes, dtype=np.float64)
        self._last_t_s = -math.inf

    def service_s(self, size_bytes: int) -> float:
        """Time to send ``size_bytes`` at the uplink rate."""
        return size_bytes * 8 / self.rate_bps

    def any_queued(self, bridges: np.ndarray, t_s: float) -> bool:
        """Whether any of ``bridges`` is still sending at ``t_s``. When False, ``admit`` at
        ``t_s`` gives every copy the departure ``t_s + service_s(size)`` with no wait, and drops
        none unless the copy alone exceeds the queue limit."""
        return bool(np.any(self.busy_until_s[bridges] > t_s))

    def backlog_bytes(self, bridges: np.ndarray, t_s: float) -> np.ndarray:
        """Bytes still queued or in service at each of ``bridges`` at ``t_s``."""
        return np.maximum(self.busy_until_s[bridges] - t_s, 0.0) * (self.rate_bps / 8)

    def admit(self, bridges: np.ndarray, t_s: float, size_bytes: int) -> np.ndarray:
        """Queue one copy of ``size_bytes`` at each of the distinct ``bridges`` at ``t_s``.

        Returns, per bridge, the time the copy has finished leaving the bridge, or NaN where the
        copy was dropped by the queue limit.
        """
        _check_size(size_bytes)
        if t_s < self._last_t_s:
            raise ValueError(f"calls must be in nondecreasing time order: {t_s} < {self._last_t_s}")
        self._last_t_s = t_s
        start_s = np.maximum(self.busy_until_s[bridges], t_s)
        wait_s = start_s - t_s
        departure_s = start_s + self.service_s(size_bytes)
        kept, kept_departure_s, kept_wait_s = bridges, departure_s, wait_s
        if not math.isinf(self.queue_limit_bytes):
            backlog_bytes = wait_s * (self.rate_bps / 8)
            fits = backlog_bytes + size_bytes <= self.queue_limit_bytes + _BACKLOG_SLACK_BYTES
            if not fits.all():
                self.copies_dropped[bridges[~fits]] += 1
                kept, kept_departure_s, kept_wait_s = bridges[fits], departure_s[fits], wait_s[fits]
                departure_s[~fits] = np.nan
        self.busy_until_s[kept] = kept_departure_s
        self.bytes_forwarded[kept] += size_bytes
        self.copies_forwarded[kept] += 1
        self.queueing_delay_s[kept] += kept_wait_s
        return departure_s


class DataAllowance:
    """Per-account data allowance per accounting period.

    ``account_of_bridge`` maps node index -> account index (-1 for nodes that are not bridges).
    Tracked:

    - ``used_bytes``: dict period index -> bytes charged to each account in that period, shape
      (n_accounts,); only periods in which ``charge`` was called appear. The current period's
      array is updated in place.
    - ``copies_charged``, ``copies_dropped``: per node, copies allowed (and charged) and copies
      refused because the account's allowance would have been exceeded.
    """

    def __init__(
        self,
        account_of_bridge: np.ndarray,
        allowance_bytes: float = SIDEWALK_ALLOWANCE_BYTES,
        period_s: float = MONTH_S,
    ) -> None:
        account_of_bridge = np.asarray(account_of_bridge)
        if account_of_bridge.ndim != 1 or not np.issubdtype(account_of_bridge.dtype, np.integer):
            raise ValueError("account_of_bridge must be a 1-D integer array")
        if account_of_bridge.size and account_of_bridge.min() < -1:
            raise ValueError("account_of_bridge must hold account indices >= 0, or -1 (no bridge)")
        if not allowance_bytes >= 0:
            raise ValueError(
                f"allowance_bytes must be >= 0 (math.inf: none), got {allowance_bytes}"
            )
        if not (period_s > 0 and math.isfinite(period_s)):
            raise ValueError(f"period_s must be positive and finite, got {period_s}")
        self.account_of_bridge = account_of_bridge.astype(np.int64)
        self.n_accounts = int(self.account_of_bridge.max()) + 1 if account_of_bridge.size else 0
        self.allowance_bytes = float(allowance_bytes)
        self.period_s = float(period_s)
        n_nodes = account_of_bridge.size
        self.used_bytes: dict[int, np.ndarray] = {}
        self.copies_charged = np.zeros(n_nodes, dtype=np.int64)
        self.copies_dropped = np.zeros(n_nodes, dtype=np.int64)
        self._last_t_s = -math.inf
        self._period = -1
        self._used = np.zeros(self.n_accounts, dtype=np.int64)

    def period(self, t_s: float) -> int:
        """Index of the accounting period holding ``t_s``."""
        return math.floor(t_s / self.period_s)

    def charge(self, bridges: np.ndarray, t_s: float, size_bytes: int) -> np.ndarray:
        """Charge one copy of ``size_bytes`` from each of the distinct ``bridges`` at ``t_s``.

        Copies are charged in the order of ``bridges``; a copy is allowed when its account's usage
        in the current period plus the copy stays within the allowance. Returns the allowed mask.
        """
        _check_size(size_bytes)
        if t_s < self._last_t_s:
            raise ValueError(f"calls must be in nondecreasing time order: {t_s} < {self._last_t_s}")
        self._last_t_s = t_s
        k = self.period(t_s)
        if k != self._period:
            self._period = k
            self._used = np.zeros(self.n_accounts, dtype=np.int64)
            self.used_bytes[k] = self._used
        acc = self.account_of_bridge[bridges]
        if acc.size and acc.min() < 0:
            raise ValueError("charge: some of the bridges have no account (not bridges)")
        # rank of each copy among the earlier copies of the same account in this call
        n = acc.size
        order = np.argsort(acc, kind="stable")
        sorted_acc = acc[order]
        positions = np.arange(n)
        starts = np.empty(n, dtype=bool)
        starts[:1] = True
        starts[1:] = sorted_acc[1:] != sorted_acc[:-1]
        rank = np.empty(n, dtype=np.int64)
        rank[order] = positions - np.maximum.accumulate(np.where(starts, positions, 0))
        # equal sizes: the allowed copies of an account are a prefix of its copies
        allowed = self._used[acc] + (rank + 1) * size_bytes <= self.allowance_bytes
        np.add.at(self._used, acc[allowed], size_bytes)
        self.copies_charged[bridges[allowed]] += 1
        self.copies_dropped[bridges[~allowed]] += 1
        return np.asarray(allowed)

    def book(self, bridges: np.ndarray, t_s: float, sizes: np.ndarray) -> None:
        """Charge copies that are known to fit (the caller proved no account can exceed its
        allowance), all in the period of ``t_s``: one vectorised step for many frames."""
        k = self.period(t_s)
        if k != self._period:
            self._period = k
            self._used = np.zeros(self.n_accounts, dtype=np.int64)
            self.used_bytes[k] = self._used
        self._last_t_s = max(self._last_t_s, t_s)
        np.add.at(self._used, self.account_of_bridge[bridges], sizes)
        np.add.at(self.copies_charged, bridges, 1)


def accounts(
    n_nodes: int,
    bridges: np.ndarray,
    bridges_per_account: int = 1,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Account index of each node: the bridges, in a random order drawn from ``rng`` (in the
    given order when ``rng`` is None), are grouped into accounts of ``bridges_per_account``
    bridges, the last account possibly smaller. Non-bridges get -1. ``rng`` is drawn from (one
    permutation) whatever ``bridges_per_account`` is, so the stream does not depend on it."""
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer) or n_nodes < 0:
        raise ValueError(f"n_nodes must be an integer >= 0, got {n_nodes!r}")
    if (
        isinstance(bridges_per_account, bool)
        or not isinstance(bridges_per_account, int | np.integer)
        or bridges_per_account < 1
    ):
        raise ValueError(
            f"bridges_per_account must be an integer >= 1, got {bridges_per_account!r}"
        )
    bridges = np.asarray(bridges)
    if bridges.ndim != 1 or not (bridges.size == 0 or np.issubdtype(bridges.dtype, np.integer)):
        raise ValueError("bridges must be a 1-D integer array of node indices")
    if bridges.size and (bridges.min() < 0 or bridges.max() >= n_nodes):
        raise ValueError(f"bridges must be node indices in [0, {n_nodes})")
    if np.unique(bridges).size != bridges.size:
        raise ValueError("bridges must be distinct")
    ordered = rng.permutation(bridges) if rng is not None else bridges
    account_of = np.full(n_nodes, -1, dtype=np.int64)
    account_of[ordered.astype(np.int64)] = np.arange(ordered.size) // bridges_per_account
    return account_of


#: Fast-path frames held before their copies are booked into the per-bridge arrays.
FLUSH_FRAMES = 65_536


class BridgeLimits:
    """Both limits applied to the copies of each forwarded frame, as the engine calls them.

    Exact, and cheap in the common case: when none of the frame's bridges is still sending and no
    account can reach its allowance (the largest account usage at the last booking plus every
    byte sent since stays within it), every copy leaves at ``t + service`` and none is dropped,
    so the frame only marks its bridges busy and is remembered (its decoder array, a view) to be
    counted later in one vectorised step. Otherwise pending frames are booked and the frame goes
    through :class:`BackhaulQueue` and :class:`DataAllowance` copy by copy.

    Load per node: ``copies_forwarded``, ``bytes_forwarded``, ``queueing_delay_s`` (total),
    ``dropped_queue``, ``dropped_allowance``. Call :meth:`flush` before reading them.
    """

    def __init__(
        self,
        n_nodes: int,
        account_of_bridge: np.ndarray,
        rate_bps: float,
        queue_limit_bytes: float,
        allowance_bytes: float,
        period_s: float,
    ) -> None:
        self.queue = BackhaulQueue(n_nodes, rate_bps, queue_limit_bytes) if rate_bps else None
        self.allowance = (
            DataAllowance(account_of_bridge, allowance_bytes, period_s) if allowance_bytes else None
        )
        self.account_of_bridge = account_of_bridge
        self.copies_forwarded = np.zeros(n_nodes, dtype=np.int64)
        self.bytes_forwarded = np.zeros(n_nodes, dtype=np.int64)
        self.queueing_delay_s = np.zeros(n_nodes)
        self.dropped_queue = np.zeros(n_nodes, dtype=np.int64)
        self.dropped_allowance = np.zeros(n_nodes, dtype=np.int64)
        self.downlink_bytes = np.zeros(n_nodes, dtype=np.int64)
        self._queue_limit = queue_limit_bytes if rate_bps else math.inf
        self._allowance = allowance_bytes if allowance_bytes else math.inf
        self._busy_max_s = -math.inf
        self._max_used = 0
        self._period = 0
        self._pending: list[np.ndarray] = []
        self._pending_t: list[float] = []
        self._pending_size: list[int] = []
        self._pending_bytes = 0
        self._pending_downlinks: list[tuple[int, int]] = []
        self._pending_downlink_t_s = 0.0

    def service_s(self, size_bytes: int) -> float:
        return self.queue.service_s(size_bytes) if self.queue is not None else 0.0

    def forward(self, bridges: np.ndarray, t_s: float, size_bytes: int) -> np.ndarray | None:
        """Copies of one frame at ``t_s`` from the distinct ``bridges``: None when every copy is
        kept and leaves at ``t_s + service_s(size)``, else the departure per bridge (NaN:
        dropped by the queue limit or the allowance)."""
        if self.allowance is not None:
            period = self.allowance.period(t_s)
            if period != self._period:
                self.flush()
                self._period = period
                self._max_used = 0
        k = int(bridges.size)
        queue = self.queue
        if (
            size_bytes <= self._queue_limit
            and self._max_used + self._pending_bytes + size_bytes * k <= self._allowance
            and (
                queue is None
                or t_s >= self._busy_max_s
                or not bool(np.any(queue.busy_until_s[bridges] > t_s))
            )
        ):
            self._pending.append(bridges)
            self._pending_t.append(t_s)
            self._pending_size.append(size_bytes)
            self._pending_bytes += size_bytes * k
            if queue is not None:
                end_s = t_s + queue.service_s(size_bytes)
                queue.busy_until_s[bridges] = end_s
                queue._last_t_s = t_s
                if end_s > self._busy_max_s:
                    self._busy_max_s = end_s
            if len(self._pending) >= FLUSH_FRAMES:
                self.flush()
            return None
        self.flush()
        departure = np.full(k, t_s + self.service_s(size_bytes))
        kept = np.ones(k, dtype=bool)
        if self.allowance is not None:
            kept = self.allowance.charge(bridges, t_s, size_bytes)
            self.dropped_allowance[bridges[~kept]] += 1
            self._max_used = int(self.allowance._used.max(initial=0))
        if self.queue is not None and kept.any():
            admitted = self.queue.admit(bridges[kept], t_s, size_bytes)
            departure[kept] = admitted
            queued = np.isnan(admitted)
            self.dropped_queue[bridges[kept][queued]] += 1
            if not queued.all():
                self._busy_max_s = max(self._busy_max_s, float(np.nanmax(admitted)))
            if queued.any():
                kept[np.flatnonzero(kept)[queued]] = False
        departure[~kept] = np.nan
        sent = bridges[kept]
        self.copies_forwarded[sent] += 1
        self.bytes_forwarded[sent] += size_bytes
        self.queueing_delay_s[sent] += departure[kept] - t_s - self.service_s(size_bytes)
        return departure

    def charge_downlink(self, bridge: int, t_s: float, size_bytes: int) -> bool:
        """A downlink of ``size_bytes`` reaches ``bridge`` from the server: charge the account
        (downlinks count against the allowance); False when that would exceed it."""
        self.downlink_bytes[bridge] += size_bytes
        if self.allowance is None:
            return True
        self.forward_period(t_s)
        if self._max_used + self._pending_bytes + size_bytes <= self._allowance:
            self._pending_downlinks.append((bridge, size_bytes))
            self._pending_downlink_t_s = t_s
            self._pending_bytes += size_bytes
            return True
        self.flush()
        ok = bool(self.allowance.charge(np.array([bridge]), t_s, size_bytes)[0])
        self._max_used = int(self.allowance._used.max(initial=0))
        if not ok:
            self.downlink_bytes[bridge] -= size_bytes
        return ok

    def forward_period(self, t_s: float) -> None:
        if self.allowance is not None and self.allowance.period(t_s) != self._period:
            self.flush()
            self._period = self.allowance.period(t_s)
            self._max_used = 0

    def flush(self) -> None:
        """Book the pending fast-path frames into the per-bridge arrays (and the helpers')."""
        if self.allowance is not None and self._pending_downlinks:
            down = np.array(self._pending_downlinks, dtype=np.int64)
            self.allowance.book(down[:, 0], self._pending_downlink_t_s, down[:, 1])
            self._pending_downlinks.clear()
        if self._pending:
            lengths = np.array([b.size for b in self._pending])
            bridges = np.concatenate(self._pending)
            sizes = np.repeat(np.array(self._pending_size, dtype=np.int64), lengths)
            np.add.at(self.copies_forwarded, bridges, 1)
            np.add.at(self.bytes_forwarded, bridges, sizes)
            if self.allowance is not None:
                self.allowance.book(bridges, self._pending_t[-1], sizes)
            self._pending.clear()
            self._pending_t.clear()
            self._pending_size.clear()
        if self.allowance is not None:
            self._max_used = int(self.allowance._used.max(initial=0))
        self._pending_bytes = 0
