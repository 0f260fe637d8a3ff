"""Optimality gap of the two-step rebalance against exhaustive sign enumeration.

Random small books (real tickers, real risk model, lots with random bases and dates) are
solved twice: with Moehle et al.'s two-step method and with every sign pattern of the
names holding a loss lot (the exact optimum of the nonconvex problem, since each pattern's
problem is convex). The gap is the two-step objective's excess over the best pattern's,
relative to the size of the objective. Each book is also solved with the net-trade
rounding alone (``sign_rule="net"``, the method before issue 16) for the before/after study.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd

from pma_lab.optimize.rebalance import RebalanceProblem, RebalanceSettings, account_state
from pma_lab.portfolio.risk import RiskModel
from pma_lab.tax.ledger import Account, Ledger
from pma_lab.tax.liability import TaxProfile

__all__ = ["STUDY_AS_OF", "study_market", "random_book", "book_state", "random_account",
           "gap_study"]

STUDY_AS_OF = dt.date(2024, 6, 28)
"""The study's date (its random books' prices, lots' ages and risk model)."""


def study_market(as_of: dt.date = STUDY_AS_OF) -> tuple[RiskModel, pd.Series, pd.Series]:
    """The study's universe on ``as_of``: the risk model, its tickers' prices, GICS sectors.

    What :func:`random_book` and :func:`book_state` take (the gap benchmark and the tests
    of the solvers that use random books).
    """
    from pma_lab.market.data import load_market
    from pma_lab.portfolio.risk import estimate_risk_model

    m = load_market()
    rm = estimate_risk_model(as_of, market=m)
    px = m.prices.at(as_of, list(rm.tickers))
    return rm, px, m.universe.frame().set_index("ticker").gics_sector


def random_book(rng: np.random.Generator, risk: RiskModel, prices: pd.Series,
                sectors: pd.Series, n_names: int = 8, as_of: dt.date = dt.date(2024, 6, 28)
                ) -> tuple[Ledger, RiskModel, pd.Series]:
    """A random account of ``n_names`` real tickers with 1-4 lots each."""
    names = list(rng.choice(list(risk.tickers), n_names, replace=False))
    sub = risk.subset(names)
    target = pd.Series(rng.dirichlet(np.ones(n_names)), index=names)
    led = Ledger([Account("T")])
    for t in names:
        if rng.random() < 0.15:
            continue  # not held yet
        for _ in range(int(rng.integers(1, 5))):
            p = float(prices[t])
            basis_ps = p * float(rng.uniform(0.5, 1.6))
            shares = Decimal(int(rng.integers(5, 200)))
            acq = as_of - dt.timedelta(days=int(rng.integers(10, 1500)))
            led.add_lot("T", t, shares, Decimal(str(round(float(shares) * basis_ps, 2))), acq)
    return led, sub, target


def book_state(ledger: Ledger, risk: RiskModel, target: pd.Series, prices: pd.Series,
               sectors: pd.Series, as_of: dt.date = dt.date(2024, 6, 28)):
    """The account state of a :func:`random_book`.

    The study's rates (40.8 % short-term, 23.8 % long-term), no cash and no ETFs.
    """
    tax = TaxProfile.from_rates(0.408, 0.238)
    etf = pd.DataFrame({"ticker": [], "category": [], "gics_sector": []})
    return account_state(ledger, "T", as_of, prices, risk, target, tax, cash=0.0,
                         sectors=sectors, etf_info=etf)


def random_account(market: tuple[RiskModel, pd.Series, pd.Series], seed: int, n_names: int,
                   as_of: dt.date = STUDY_AS_OF):
    """A :func:`random_book` of ``n_names`` (seeded) and its :func:`book_state`.

    ``market``: :func:`study_market`'s ``(risk, prices, sectors)``. Returns ``(state,
    risk of the book's names, target, ledger)``.
    """
    rm, px, sectors = market
    led, sub, target = random_book(np.random.default_rng(seed), rm, px, sectors, n_names)
    return book_state(led, sub, target, px, sectors, as_of), sub, target, led


def gap_study(n_books: int, risk: RiskModel, prices: pd.Series, sectors: pd.Series,
              seed: int = 0, as_of: dt.date = dt.date(2024, 6, 28)) -> pd.DataFrame:
    """Solve ``n_books`` random books both ways; one row per book with the gap."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_books):
        led, sub, target = random_book(rng, risk, prices, sectors, int(rng.integers(3, 9)),
                                       as_of)
        if not led.lots():
            continue
        gamma = float(np.exp(rng.uniform(np.log(0.01), np.log(2.0))))
        st = book_state(led, sub, target, prices, sectors, as_of)
        prob = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=gamma,
                                                                   sign_rule="net"))
        prob.solve("two_step")
        f_net = float(prob.exact.value)
        prob.update(sign_rule="best")
        two = prob.solve("two_step")
        f_two = float(prob.exact.value)
        ref = prob.solve("enumerate")
        f_ref = float(prob.exact.value)
        scale = max(abs(f_ref), 1e-9)
        rows.append({"book": k, "names": len(sub.tickers), "lots": len(st.lots),
                     "loss_names": int(st.lots[st.lots.gain < 0].ticker.nunique()),
                     "gamma_tax": gamma, "objective_two_step": f_two,
                     "objective_exact": f_ref, "gap": max(f_two - f_ref, 0.0) / scale,
                     "objective_net_rule": f_net,
                     "gap_net_rule": max(f_net - f_ref, 0.0) / scale,
                     "te_two_step": two.summary.te_after, "te_exact": ref.summary.te_after,
                     "solves_exact": int(ref.summary.solves)})
    return pd.DataFrame(rows)
