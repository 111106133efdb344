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
from collections import deque

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

    def book(self, copies: np.ndarray, bytes_: np.ndarray, t_s: float) -> None:
        """Charge per-node totals of copies (``copies``, ``bytes_``: arrays over all nodes) that
        are known to fit (the caller proved no account can exceed its allowance), all in the
        period of ``t_s``: one vectorised step for many frames."""
        k = self.period(t_s)
        if k != self._period:
            self._period = k
            self._used = np.zeros(self.n_accounts, dtype=np.int64)
            self.used_bytes[k] = self._used
        self._last_t_s = max(self._last_t_s, t_s)
        nodes = np.flatnonzero(copies)
        if nodes.size:
            self._used += np.bincount(
                self.account_of_bridge[nodes], weights=bytes_[nodes], minlength=self.n_accounts
            ).astype(np.int64)
            self.copies_charged[nodes] += copies[nodes]


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


#: Copies held (as decoder arrays) before they are counted into the per-bridge arrays: bounds
#: the memory they hold and the temporary arrays of one count (4M copies: 16 MiB of int32).
FLUSH_COPIES = 4_000_000


class BridgeLimits:
    """Both limits applied to the copies of each forwarded frame, as the engine calls them.

    Exact, and cheap in the common case. Queue: a copy waits only at a bridge still sending an
    earlier copy, and only the frames of the last few milliseconds can still be in service, so
    they are kept in a short list (no per-bridge array is touched when that list is empty).
    Allowance: while the largest account usage at the last count plus every byte sent since
    stays within the allowance, no account can exceed it, so nothing is checked per copy.
    When both hold, every copy leaves at ``t + service`` and is only remembered (its decoder
    array, a view) to be counted later in one vectorised step. Otherwise the frame's copies go
    through the queue recursion and :class:`DataAllowance` one by one (a copy the queue refuses is
    not charged; one the allowance refuses never enters the queue).
    :class:`BackhaulQueue` is the plain reference this class is tested against.

    Load per node: ``copies_forwarded``, ``bytes_forwarded``, ``queueing_delay_s`` (total),
    ``dropped_queue``, ``dropped_allowance``, ``downlink_bytes``. Call :meth:`flush` first.
    """

    def __init__(
        self,
        n_nodes: int,
        account_of_bridge: np.ndarray,
        rate_bps: float,
        queue_limit_bytes: float,
        allowance_bytes: float,
        period_s: float,
        rows: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        """``rows``: per link, the neighbour table's (indptr, index), so that a frame decoded by
        its transmitter's whole row is counted as one number (see :meth:`forward`)."""
        self.rate_bps = float(rate_bps)  # 0: unlimited
        self.queue_limit_bytes = float(queue_limit_bytes) if rate_bps else math.inf
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
        self._allowance = allowance_bytes if allowance_bytes else math.inf
        self._s_per_byte = 8 / rate_bps if rate_bps else 0.0
        # bytes every account may still send before the next count: allowance - (largest usage
        # at the last count) - (bytes sent since); inf without an allowance
        self._budget = self._allowance
        self._period = 0
        self._period_start_s = 0.0
        self._period_end_s = self.allowance.period_s if self.allowance is not None else math.inf
        # frames possibly still in service: (last departure, bridges, departures or None = all
        # at the last departure), in the order they were sent
        self._recent: deque[tuple[float, np.ndarray, np.ndarray | None]] = deque()
        self._scratch = np.full(n_nodes, -math.inf)
        self._pending: dict[int, list[np.ndarray]] = {}  # copy size -> decoder arrays
        self._pending_copies = 0
        self._pending_t_s = 0.0
        self._pending_downlinks: list[tuple[int, int]] = []
        owned = account_of_bridge[account_of_bridge >= 0]
        # most bridges one account owns: the most copies of one frame it can be charged for
        self._per_account = int(np.bincount(owned).max()) if owned.size else 1
        self._rows = rows or {}
        self._row_length = {
            link: np.diff(indptr).tolist() for link, (indptr, _) in self._rows.items()
        }
        # frames whose copies went to the transmitter's whole table row: (link, size) -> count
        # per transmitter, turned into per-bridge counts through the table at the next count
        self._full_rows: dict[tuple[str, int], list[int]] = {}
        self._n = self.copies_forwarded.size

    def service_s(self, size_bytes: int) -> float:
        """Time one copy of ``size_bytes`` takes to leave a bridge (0: unlimited rate)."""
        return size_bytes * 8 / self.rate_bps if self.rate_bps else 0.0

    def forward(
        self,
        bridges: np.ndarray,
        t_s: float,
        size_bytes: int,
        row_of: int = -1,
        link: str = "",
    ) -> np.ndarray | None:
        """Copies of one frame at ``t_s`` from the distinct ``bridges``: None when every copy is
        kept and leaves at ``t_s + service_s(size)``, else the departure per bridge (NaN:
        dropped by the allowance or the queue limit). ``row_of``: the transmitter, when
        ``bridges`` is its whole row of ``link``'s table (the copies are then counted per
        transmitter and spread over the row later, not copy by copy).

        The allowance bound needs no per-copy count either: one frame adds at most
        ``min(copies, largest number of bridges of one account)`` copies to any account."""
        k = bridges.size
        cost = size_bytes * (k if k < self._per_account else self._per_account)
        recent = self._recent
        while recent and recent[0][0] <= t_s:
            recent.popleft()
        if (
            not recent
            and cost <= self._budget
            and t_s < self._period_end_s
            and size_bytes <= self.queue_limit_bytes
        ):  # the common case: nobody busy, no account near its allowance
            self._budget -= cost
            self._pending_t_s = t_s
            if row_of >= 0 and k == self._row_length[link][row_of]:
                counts = self._full_rows.get((link, size_bytes))
                if counts is None:
                    counts = self._full_rows[(link, size_bytes)] = [0] * self._n
                counts[row_of] += 1
            else:
                pending = self._pending.get(size_bytes)
                if pending is None:
                    pending = self._pending[size_bytes] = []
                pending.append(bridges)
                self._pending_copies += k
                if self._pending_copies >= FLUSH_COPIES:
                    self.flush()
            if self.rate_bps:
                recent.append((t_s + size_bytes * self._s_per_byte, bridges, None))
            return None
        allowance_ok = True
        if self.allowance is not None:
            self._new_period(t_s)
            if cost > self._budget:
                self.flush()  # count what is pending: the bound gets tight again
                allowance_ok = cost <= self._budget
        busy = self._busy_s(bridges, t_s) if recent else None
        if allowance_ok and busy is None and size_bytes <= self.queue_limit_bytes:
            self._budget -= cost
            self._pending_t_s = t_s
            self._pending.setdefault(size_bytes, []).append(bridges)
            self._pending_copies += k
            if self.rate_bps:
                recent.append((t_s + size_bytes * self._s_per_byte, bridges, None))
            if self._pending_copies >= FLUSH_COPIES:
                self.flush()
            return None
        return self._exact(bridges, t_s, size_bytes, busy, allowance_ok)

    def _busy_s(self, bridges: np.ndarray, t_s: float) -> np.ndarray | None:
        """When each of ``bridges`` finishes its earlier copies, or None if all are idle."""
        scratch = self._scratch
        for end_s, sent, departures in self._recent:
            scratch[sent] = end_s if departures is None else departures
        busy = scratch[bridges]
        for _, sent, _ in self._recent:
            scratch[sent] = -math.inf
        return busy if bool(np.any(busy > t_s)) else None

    def _exact(
        self,
        bridges: np.ndarray,
        t_s: float,
        size_bytes: int,
        busy: np.ndarray | None,
        allowance_ok: bool,
    ) -> np.ndarray:
        k = int(bridges.size)
        service_s = self.service_s(size_bytes)
        if allowance_ok and busy is not None and math.isinf(self.queue_limit_bytes):
            # the common slow case: some bridges still sending, nothing can be dropped
            wait_s = busy - t_s
            waiting = wait_s > 0
            late_s = wait_s[waiting]
            departure = np.full(k, t_s + service_s)
            departure[waiting] += late_s
            self.queueing_delay_s[bridges[waiting]] += late_s
            self._budget -= size_bytes * min(k, self._per_account)
            self._pending.setdefault(size_bytes, []).append(bridges)
            self._pending_copies += k
            self._pending_t_s = t_s
            self._recent.append((t_s + service_s + float(late_s.max()), bridges, departure))
            if self._pending_copies >= FLUSH_COPIES:
                self.flush()
            return departure
        allowance = self.allowance
        charged = allowance is not None and not allowance_ok
        start_s = np.full(k, t_s) if busy is None else np.maximum(busy, t_s)
        kept = (start_s - t_s) * (self.rate_bps / 8) + size_bytes <= (
            self.queue_limit_bytes + _BACKLOG_SLACK_BYTES
        )
        self.dropped_queue[bridges[~kept]] += 1
        if charged:  # some account may reach its allowance: charge copy by copy, in order,
            # only the copies the queue takes (a copy that fits neither counts as a queue drop)
            assert allowance is not None
            self.flush()
            fits = np.flatnonzero(kept)
            allowed = allowance.charge(bridges[fits], t_s, size_bytes)
            self.dropped_allowance[bridges[fits[~allowed]]] += 1
            kept[fits[~allowed]] = False
        departure = np.where(kept, start_s + service_s, np.nan)
        sent = bridges[kept]
        self.queueing_delay_s[sent] += start_s[kept] - t_s
        if charged:
            assert allowance is not None
            self._budget = self._allowance - int(allowance._used.max(initial=0))
            self.copies_forwarded[sent] += 1
            self.bytes_forwarded[sent] += size_bytes
        else:  # counted (and charged) with the pending copies
            self._pending.setdefault(size_bytes, []).append(sent)
            self._pending_copies += int(sent.size)
            self._pending_t_s = t_s
            self._budget -= size_bytes * int(sent.size)
        if self.rate_bps and sent.size:
            self._recent.append((float(departure[kept].max()), sent, departure[kept]))
        if self._pending_copies >= FLUSH_COPIES:
            self.flush()
        return departure

    def _new_period(self, t_s: float) -> None:
        assert self.allowance is not None
        if self._period_start_s <= t_s < self._period_end_s:
            return
        period = self.allowance.period(t_s)
        self.flush()
        self._period = period
        self._period_start_s = period * self.allowance.period_s
        self._period_end_s = (period + 1) * self.allowance.period_s
        self._budget = self._allowance

    def charge_downlink(self, bridge: int, t_s: float, size_bytes: int) -> bool:
        """A downlink of ``size_bytes`` reaches ``bridge`` from the server: charge the account
        (downlinks count against the allowance); False when that would exceed it."""
        self.downlink_bytes[bridge] += size_bytes
        if self.allowance is None:
            return True
        self._new_period(t_s)
        if size_bytes <= self._budget:
            self._pending_downlinks.append((bridge, size_bytes))
            self._pending_t_s = t_s
            self._budget -= size_bytes
            return True
        self.flush()
        ok = bool(self.allowance.charge(np.array([bridge]), t_s, size_bytes)[0])
        self._budget = self._allowance - int(self.allowance._used.max(initial=0))
        if not ok:
            self.downlink_bytes[bridge] -= size_bytes
        return ok

    def flush(self) -> None:
        """Count the pending fast-path copies into the per-bridge arrays and the allowance."""
        n = self.copies_forwarded.size
        if self._pending_downlinks:
            if self.allowance is not None:
                down = np.array(self._pending_downlinks, dtype=np.int64)
                copies = np.bincount(down[:, 0], minlength=n)
                bytes_ = np.bincount(down[:, 0], weights=down[:, 1], minlength=n)
                self.allowance.book(copies, bytes_, self._pending_t_s)
            self._pending_downlinks.clear()
        if self._pending or self._full_rows:
            copies = np.zeros(n, dtype=np.int64)
            bytes_ = np.zeros(n, dtype=np.int64)
            for size, arrays in self._pending.items():
                count = np.bincount(np.concatenate(arrays), minlength=n)
                copies += count
                bytes_ += size * count
            for (link, size), per_tx in self._full_rows.items():
                indptr, index = self._rows[link]
                frames = np.repeat(np.asarray(per_tx, dtype=np.int64), np.diff(indptr))
                count = np.bincount(index, weights=frames, minlength=n).astype(np.int64)
                copies += count
                bytes_ += size * count
            self.copies_forwarded += copies
            self.bytes_forwarded += bytes_
            if self.allowance is not None:
                self.allowance.book(copies, bytes_, self._pending_t_s)
            self._pending.clear()
            self._full_rows.clear()
            self._pending_copies = 0
        if self.allowance is not None:
            self._budget = self._allowance - int(self.allowance._used.max(initial=0))
