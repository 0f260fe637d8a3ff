"""A second process that solves the sign patterns a re-solve is about to ask for.

A two-step re-solve (:mod:`pma_lab.optimize.strategies`) runs its sign-fixed solves one
after the other, and on 2 cores the other core is idle. With
``RebalanceProblem(..., workers=2)`` the problem forks a copy of itself (:class:`Lookahead`,
once, at the first solve that can use it) and, at two points where the next solves are
known in advance, hands the copy one of them while it solves another:

* the two roundings of the relaxation: this process solves the net-trade rounding, the
  copy the ``lambda > 0.5`` rounding;
* while a flip is solved here, the copy solves the minimum-trade re-solve of the best
  pattern so far (used when the flip does not win and no other flip follows).

Nothing else changes: the solves are asked for in the same order, each with the same
Parameter values, caps and sides, and a solve the copy made is taken (its variables, its
multipliers, its log entry) only when it is the very request this process would solve
next, compared byte for byte (:func:`request`); otherwise it is solved here as before.
Every sign-fixed solve sets its solver up anew (``RebalanceProblem.history_free``, the
default; without it there is no copy), so a solve depends on its request alone and the
copy's is this process's to the bit: the trades are the same; the solves the copy made
for nothing cost CPU on the other core, not time. The copy is killed with the problem
(or when its parent dies) and forked again after
:meth:`~pma_lab.optimize.rebalance.RebalanceProblem.add_constraint`.

Requests and replies are pickled over an anonymous pipe between this process and its own
forked copy (``multiprocessing.Pipe``, never a file or a socket): nothing another user
wrote is ever unpickled.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import sys
import weakref
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem

__all__ = ["Lookahead", "request"]

# the Parameters the sides and caps set (RebalanceProblem._set_caps): sent as arguments
_CAPS = ("buy_cap", "sell_ok", "w_cap")


def request(p: RebalanceProblem, sell: np.ndarray, buy: np.ndarray, lot_cap: np.ndarray,
            w_cap: np.ndarray) -> bytes:
    """Everything a sign-fixed solve of ``p`` depends on, as bytes (the request sent).

    The settings, every Parameter's value but the caps (set from the arguments), whether
    the TE cap is lifted and already known to bind, the sides of the loss-relevant names
    and the caps. Two equal requests give the same solve.
    """
    values = {k: np.asarray(v.value) for k, v in p.P.items() if k not in _CAPS}
    rel = p._loss_relevant()
    return pickle.dumps((p.settings, values, p.lift_te_cap, p._cap_bound,
                         np.asarray(sell, dtype=bool) & rel, np.asarray(buy, dtype=float),
                         np.asarray(lot_cap, dtype=float), np.asarray(w_cap, dtype=float)),
                        protocol=pickle.HIGHEST_PROTOCOL)


class Lookahead:
    """A forked copy of a problem solving one sign-fixed request at a time beside it.

    Parameters
    ----------
    p : RebalanceProblem
        Forked as it stands (compiled problems included); held by a weak reference.

    Attributes
    ----------
    stats : collections.Counter
        ``posted`` requests, ``used`` replies (solves this process did not make) and
        ``unused`` ones.
    """

    def __init__(self, p: RebalanceProblem):
        self._owner = os.getpid()  # the process that forked the copy (and may use it)
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(p, child, os.getpid()), daemon=True)
        self._proc.start()
        child.close()
        self._pending: bytes | None = None  # the request being solved, or solved
        self.stats: Counter = Counter()
        # the copy dies with the problem
        self._finalizer = weakref.finalize(p, _stop, self._proc, self._conn, self._owner)
        _LIVE.add(self)

    @property
    def alive(self) -> bool:
        """Whether the copy is running and this process forked it."""
        return (os.getpid() == self._owner and self._finalizer.alive
                and self._proc.is_alive())

    def _recv(self) -> bytes | None:
        """The copy's next reply (waiting for it); ``None`` if the copy is gone.

        Anything else raised while waiting (an interrupt, a signal handler's exception)
        stops the copy before it propagates: its reply would otherwise stay in the pipe
        and be taken as the answer to the next request (review, session 11).
        """
        try:
            return self._conn.recv_bytes()
        except (EOFError, OSError):
            return None
        except BaseException:
            self.close()
            raise

    def busy(self) -> bool:
        """Whether a request is being solved (its reply not yet arrived)."""
        return self._pending is not None and not self._conn.poll()

    def post(self, p: RebalanceProblem, sell: np.ndarray, buy: np.ndarray,
             lot_cap: np.ndarray, w_cap: np.ndarray) -> bool:
        """Ask the copy to solve this request, unless it is busy; return whether asked.

        A finished reply nobody took is dropped; a request already posted is kept.
        """
        req = request(p, sell, buy, lot_cap, w_cap)
        if self._pending == req:
            return True
        if self.busy():
            return False
        self._drop()
        try:
            self._conn.send_bytes(pickle.dumps((sell, buy, lot_cap, w_cap, req),
                                               protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            return False
        self._pending = req
        self.stats["posted"] += 1
        return True

    def take(self, p: RebalanceProblem, sell: np.ndarray, buy: np.ndarray,
             lot_cap: np.ndarray, w_cap: np.ndarray) -> tuple | None:
        """The copy's reply to exactly this request (waiting for it), else ``None``."""
        if self._pending is None or self._pending != request(p, sell, buy, lot_cap, w_cap):
            return None
        raw = self._recv()
        self._pending = None
        if raw is None:
            return None
        reply = pickle.loads(raw)
        if reply[0] == "error":
            self.stats["unused"] += 1
            return None
        self.stats["used"] += 1
        return reply

    def _drop(self) -> None:
        """Read and drop a reply nobody will take (waiting for it)."""
        if self._pending is not None:
            self._recv()
            self._pending = None
            self.stats["unused"] += 1

    def close(self) -> None:
        """Stop the copy (in the process that forked it; elsewhere only forget it)."""
        self._pending = None
        self._finalizer()

    def _forget(self) -> None:
        """In a forked child of the owner: drop the inherited copy without touching it."""
        self._finalizer.detach()
        self._pending = None
        # multiprocessing's exit handler would join it ("can only join a child process")
        mp.process._children.discard(self._proc)  # noqa: SLF001


_LIVE: weakref.WeakSet = weakref.WeakSet()
"""The copies this process holds (forgotten in a forked child: :func:`_after_fork`)."""


def _after_fork() -> None:
    for la in list(_LIVE):
        la._forget()
    _LIVE.clear()


os.register_at_fork(after_in_child=_after_fork)


def _stop(proc: mp.Process, conn: object, owner: int) -> None:
    with contextlib.suppress(Exception):
        conn.close()
    if os.getpid() != owner:  # a forked child's inherited copy: not its own to stop
        return
    if proc.is_alive():
        proc.kill()
    with contextlib.suppress(Exception):
        proc.join(1.0)


def _serve(p: RebalanceProblem, conn: object, parent: int) -> None:
    """The copy: solve each request (sides, caps, and the problem's state as sent)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)
    while True:
        try:
            msg = conn.recv_bytes()
        except (EOFError, OSError):
            os._exit(0)
        sell, buy, lot_cap, w_cap, req = pickle.loads(msg)
        try:
            settings, values, lift, cap_bound = pickle.loads(req)[:4]
            p.settings = settings
            for k, v in values.items():
                p.P[k].value = v
            p.lift_te_cap, p._cap_bound = lift, cap_bound
            p.history_free = True  # a new solver each solve, as in the parent
            p._log, p._inaccurate = [], 0
            status = p._fixed_solve(sell, buy, lot_cap, w_cap)
            prob = p._exact_solved
            reply = (status, prob is p._exact_cache.get(True), p._cap_bound, prob.status,
                     prob.value, [v.value for v in prob.variables()],
                     [c.dual_value for c in prob.constraints], p._log, p._inaccurate)
        except Exception as e:  # noqa: BLE001 - the parent solves it itself
            reply = ("error", repr(e))
        try:
            conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except (OSError, pickle.PicklingError):
            os._exit(1)
