"""One tax-aware rebalance across a household's taxable, traditional IRA and Roth accounts.

Notation (weights are fractions of the household's value ``V``: every account's lots and
cash; ``a`` runs over accounts, ``i`` over the risk model's stocks, ``l`` over lots):

* ``h0[a, i]`` current weights, ``b[a, i] >= 0`` weight bought, ``x[l] >= 0`` weight sold
  from lot ``l`` (``x <= v``, the lot's weight), ``h[a] = h0[a] + b[a] - S[a] x`` after
  the trade (``S`` maps lots to their account and stock);
* ``w = sum_a h[a]`` the household's weights and ``w_t`` its target (one target for the
  household, scaled by the part not kept as cash); the **household** tracking variance
  ``TE^2 = ||B'(w - w_t)||^2 + ||d o (w - w_t)||^2`` (:mod:`pma_lab.portfolio.risk`), so it does not
  matter to the risk which account holds a name;
* **tax**: only sales in taxable accounts realise gains, ``sum_l rho_l g_l x_l`` with
  ``g_l = 1 - basis_l / value_l`` and ``rho_l`` the client's ST or LT rate (IRA and Roth
  sales realise nothing);
* **asset location**: ``sum_a c[a] . h[a]``, where ``c[a, i]`` is the annual tax cost of
  holding a dollar of ``i`` in account ``a`` (:class:`LocationInputs`): in a taxable account
  the tax on its income (``yield x rate``: dividends at the LT rate, interest at the
  ordinary rate), in a traditional IRA the government's share of its growth
  (``withdrawal rate x expected return``: every dollar withdrawn is ordinary income), in a
  Roth nothing. Tax-inefficient assets (high income) therefore go to the IRA, high-growth
  assets to the Roth, low-income assets stay taxable [I: a one-period approximation of the
  standard asset-location argument; the parameters are explicit inputs];
* objective ``TE^2 + gamma_tax tax + gamma_loc location + gamma_tc spread (sum b + sum x)``.

Constraints: per-account cash (``cash_end[a] >= min_cash[a]``; buys in an account are paid
by its own sales and cash), per-account and household restrictions (no buy), and **wash
sales as hard constraints** across every account (Rev. Rul. 2008-5: an IRA or Roth
purchase washes a taxable loss and the loss is lost for good):

1. the ledger's lock table at ``as_of`` (:meth:`pma_lab.tax.ledger.Ledger.locks`): a group with
   a loss sold in the last 30 days is bought in no account; a group bought in any account
   in the last 30 days has no taxable lot sold at a loss;
2. within the trade: no group both sold at a loss in a taxable account and bought in any
   account. This is the one nonconvex constraint; it is enforced by solving once, then for
   each group that does both keeping the larger side (the loss sale or the purchases, in
   weight) and forbidding the other, and re-solving (two to three solves of one compiled
   problem; a heuristic in the spirit of Moehle et al. 2021's sign fixing);
3. after whole-share rounding the trades are replayed through a fork of the household
   ledger (its IRS-exact wash-sale matching); any match is an error, never a silent result.

**Around the plan's first step** (:class:`FixedTrades`, as the proposal, the dashboard and
``pma-lab household`` solve it): the taxable account's trades are the recommended plan's
first step, kept as they are (its variables are held at zero and the problem starts from
the holdings after them); the retirement accounts are traded around them to the household's
target and asset location; a stock the plan sells at a loss is bought in no account (a
hard constraint: a retirement purchase would disallow the loss for good), and the combined
trades of every account go through the ledger once (step 3), which also gives the
household's tax this year and carryforward.

The problem is built once per household and date; bounds, tax and location coefficients,
cash floors, the target and the aversions are cvxpy Parameters (DPP, asserted).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import cvxpy as cp
import numpy as np
import pandas as pd
import scipy.sparse as sp

from pma_lab import accounts as labels
from pma_lab.accounts import (  # noqa: F401 - re-exported (their home before accounts)
    MIN_CASH_CONFLICT,
    min_cash_conflict,
    min_cash_over,
)
from pma_lab.checkpoints import checkpoint
from pma_lab.errors import (
    ConstraintError,
    DataError,
    InfeasibleError,
    NotDPPError,
    OptimizationError,
)
from pma_lab.formatting import fmt_pct, fmt_rate, fmt_shares, fmt_usd
from pma_lab.market.benchmark import Benchmark
from pma_lab.market.corpactions import DividendYield, trailing_dividend_yield
from pma_lab.optimize.checks import ADDED_TOL
from pma_lab.optimize.constraints import Additions
from pma_lab.optimize.state import go_to_target_shares
from pma_lab.optimize.terms import TrackingVariance
from pma_lab.portfolio.risk import RiskModel
from pma_lab.portfolio.target import TargetSizing
from pma_lab.tax.ledger import AccountType, Ledger, Lot, LotRelief
from pma_lab.tax.liability import TaxProfile, yearly_netting
from pma_lab.tax.rules import REIT_DIVIDEND_DEDUCTION
from pma_lab.validation import check_number, check_series, check_text, replace_settings

__all__ = [
    "AccountKind",
    "HouseholdAccount",
    "FixedTrades",
    "LocationInputs",
    "stock_dividend_yields",
    "HouseholdSettings",
    "HouseholdResult",
    "HouseholdProblem",
    "household_accounts",
    "household_for_client",
    "solve_for_client",
    "location_yields_sentence",
    "min_cash_conflict",
    "reit_dividend_rate",
    "REAL_ESTATE",
]

_EPS = 1e-7  # weights below this are solver round-off (about $0.10 on $1M)
_HOUSEHOLD_GUIDE = (
    "The function receives the HouseholdProblem p: p.w is the household's weight of each "
    "risk-model stock after the trade (p.asset_index[ticker] its position), p.b the weight "
    "bought per account and stock, p.x the weight sold per lot, p.post each account's "
    "weights after the trade; e.g. p.add_objective_term(lambda p: 0.5 * "
    "cp.square(p.w[p.asset_index['AAPL']])) or p.add_constraint(lambda p: "
    "p.w[p.asset_index['AAPL']] <= 0.02)")
_NO_CAP = 1e3




class AccountKind(StrEnum):
    """Tax treatment of an account for asset location."""

    TAXABLE = "taxable"
    TRADITIONAL = "traditional"  # traditional IRA / 401(k): withdrawals are ordinary income
    ROTH = "roth"  # qualified withdrawals tax-free


@dataclass(frozen=True)
class HouseholdAccount:
    """One account of the household as the optimiser sees it.

    Attributes
    ----------
    account_id : str
        The ledger's account id.
    kind : AccountKind
    cash : float
        Cash in the account now (USD).
    min_cash : float
        Cash the account must keep after the trade (USD).
    no_buy : frozenset[str]
        Tickers this account must not buy (on top of the household's restrictions).
    named_kind : str
        The kind the account is named by, as the profile states it
        (:func:`pma_lab.accounts.account_kind`): ``ira`` for an IRA whose kind it does not
        state (named ``IRA``; the optimiser treats it as ``kind`` traditional); "": its
        ``kind``.
    name, number : str
        The profile's ``[[accounts]] name`` and ``number``, how the client knows the account
        (:func:`pma_lab.accounts.account_names`); "": not set.
    """

    account_id: str
    kind: AccountKind
    cash: float = 0.0
    min_cash: float = 0.0
    no_buy: frozenset[str] = frozenset()
    named_kind: str = ""
    name: str = ""
    number: str = ""

    def __post_init__(self) -> None:
        for name in ("cash", "min_cash"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise DataError(f"account {self.account_id}: {name} {v!r} must be a "
                                "non-negative amount in USD")


def household_accounts(profile: object) -> tuple[HouseholdAccount, ...]:
    """The household accounts of a :class:`~pma_lab.io.profile.ClientProfile`.

    ``type = "taxable"`` is taxable; an ``ira`` is traditional unless ``ira_kind = "roth"``
    (an IRA whose kind the profile does not state is named ``IRA``, ``named_kind``, and
    the household notes say it is treated as traditional). Each account keeps its
    ``cash``, its ``min_cash`` (the cash it must hold after the trade) and its own
    ``no_buy`` list.
    """
    out = []
    for a in profile.accounts:  # type: ignore[attr-defined]
        kind = (AccountKind.TAXABLE if a.account_type is AccountType.TAXABLE else
                AccountKind.ROTH if a.ira_kind == "roth" else AccountKind.TRADITIONAL)
        out.append(HouseholdAccount(a.account_id, kind, a.cash, getattr(a, "min_cash", 0.0),
                                    frozenset(a.no_buy), labels.account_kind(a),
                                    getattr(a, "name", ""), getattr(a, "number", "")))
    return tuple(out)


@dataclass(frozen=True)
class FixedTrades:
    """One account's trades decided elsewhere, kept as they are (the plan's first step).

    The household problem trades the other accounts around them: these sales, gifts and
    purchases are applied first, no other account buys a stock they sell at a loss (the
    loss would be washed, and by a retirement account's purchase lost for good: Rev. Rul.
    2008-5), and the combined trades go through the household ledger once.

    Attributes
    ----------
    account_id : str
        The account whose trades these are (a taxable account of the household).
    lot_sales : pd.DataFrame
        One row per lot sold: ``lot_id, ticker, shares, price`` and ``full_lot`` (the whole
        lot: its exact shares are relieved); optionally ``wash_sale`` (the plan's trade list
        marks the sale as a wash sale), which the notes compare with the ledger's replay.
    buys : pd.DataFrame
        One row per purchase: ``ticker, shares, price``; optionally ``wash_sale`` (marked
        in the trade list).
    gifts : pd.DataFrame
        One row per lot given to charity before the trades: ``lot_id, ticker, shares,
        price`` (fair market value per share).
    cash_after : float
        The account's cash after these trades (USD), as their own engine reports it.
    source : str
        Where they come from, in the client's words (shown in the household's notes).

    Raises
    ------
    DataError
        When a table lacks a column or holds a share count or price that is not a
        positive number.
    """

    account_id: str
    lot_sales: pd.DataFrame
    buys: pd.DataFrame
    gifts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["lot_id", "ticker", "shares", "price"]))
    cash_after: float = float("nan")
    source: str = ""

    def __post_init__(self) -> None:
        for name, cols in (("lot_sales", ("lot_id", "ticker", "shares", "price", "full_lot")),
                           ("buys", ("ticker", "shares", "price")),
                           ("gifts", ("lot_id", "ticker", "shares", "price"))):
            f = getattr(self, name)
            missing = [c for c in cols if c not in f]
            if missing:
                raise DataError(f"fixed trades of account {self.account_id}: {name} has no "
                                f"column(s) {', '.join(missing)}")
            if not len(f):
                continue  # no row to check (an empty table's columns compared ~1 CPU-ms)
            for c in ("shares", "price"):
                col = f[c]
                if (isinstance(col, pd.Series) and col.dtype.kind in "if"
                        and bool((col.to_numpy() > 0).all())):
                    continue  # positive numbers (NaN is not): nothing to coerce or name
                bad = f[~(pd.to_numeric(col, errors="coerce") > 0)]
                if len(bad):
                    raise DataError(f"fixed trades of account {self.account_id}: {name} row "
                                    f"{int(bad.index[0])} ({bad.ticker.iloc[0]}) has {c} "
                                    f"{str(bad[c].iloc[0])!r}; give a positive number")

    @classmethod
    def from_rebalance(cls, result: object, source: str = "") -> FixedTrades:
        """The trades of a :class:`~pma_lab.optimize.rebalance.RebalanceResult`.

        E.g. :func:`pma_lab.plan.transition.first_trades` (a plan's first step): its lot
        sales, its purchases at the price they were valued at and its gifts of lots.
        """
        lt = result.lot_trades  # type: ignore[attr-defined]
        tr = result.trades  # type: ignore[attr-defined]
        s = result.summary  # type: ignore[attr-defined]
        # the tables from the trade lists' columns as arrays (the same values and types as
        # the lists' columns converted and filtered as Series: ~4 of its ~5 CPU-ms; a plan's
        # first step is fixed ~14 times in a household client's plan comparison)
        n = len(lt)
        full = _bools(lt["full_lot"]) if "full_lot" in lt else np.zeros(n, dtype=bool)
        # the trade list's Wash Sale flags (pma_lab.report.proposal.custodian_trades):
        # from the ledger's replay of the plan (a sale whose loss it disallows, a purchase
        # that is replacement shares); without one, the optimiser's locks
        if "wash_loss_disallowed" in lt:
            washed = lt.wash_loss_disallowed.to_numpy(dtype=float) > 0.005
        else:
            washed = (_bools(lt["wash_disallowed"]) if "wash_disallowed" in lt
                      else np.zeros(n, dtype=bool))
        ticker = _strs(lt.ticker)
        loss_sold = set(ticker[lt.gain.to_numpy() < 0].tolist()) \
            if n and "gain" in lt else set()
        sales = pd.DataFrame({"lot_id": _strs(lt.lot_id), "ticker": ticker,
                              "shares": lt.shares.to_numpy(dtype=float),
                              "price": lt.price.to_numpy(dtype=float), "full_lot": full,
                              "wash_sale": washed})
        shares = tr.shares.to_numpy()
        pick = np.flatnonzero((tr.side.to_numpy() == "buy") & (shares > 0))
        bought = _strs(tr.ticker)[pick]
        q = shares[pick]
        buys = pd.DataFrame({"ticker": bought, "shares": q.astype(float),
                             "price": (tr.value.to_numpy()[pick] / q).astype(float),
                             "wash_sale": (_bools(tr["wash_replacement"])[pick]
                                           if "wash_replacement" in tr else
                                           np.array([t in loss_sold for t in bought.tolist()],
                                                    dtype=bool))})
        g = getattr(s, "gifts", None)
        gifts = (pd.DataFrame(columns=["lot_id", "ticker", "shares", "price"]) if g is None
                 or not len(g) else pd.DataFrame({
                     "lot_id": g.lot_id.astype(str), "ticker": g.ticker.astype(str),
                     "shares": g.shares.astype(float),
                     "price": [float(v) / float(q) for v, q in zip(g.fmv, g.shares,
                                                                   strict=True)]}))
        return cls(str(s.account), sales, buys, gifts, float(s.cash_after), source)


def _bools(col: pd.Series) -> np.ndarray:
    """A column as ``col.astype(bool)`` holds it, as an array."""
    return col.to_numpy() if col.dtype == bool else col.astype(bool).to_numpy()


def _strs(col: pd.Series) -> pd.api.extensions.ExtensionArray:
    """A column as ``col.astype(str)`` holds it, as an array (its own when already str)."""
    return (col if col.dtype == "str" else col.astype(str)).array


@dataclass(frozen=True)
class LocationInputs:
    """What asset location needs per asset (all annual decimals).

    Attributes
    ----------
    income_yield : pd.Series
        Income paid per dollar held (dividend or interest yield), by ticker.
    income_rate : pd.Series
        Tax rate on that income in a taxable account, by ticker (qualified dividends: the
        LT rate; interest: the ordinary rate).
    expected_return : pd.Series
        Expected total return, by ticker.
    withdrawal_rate : float
        Rate at which traditional IRA withdrawals will be taxed.
    source : str
        Where the numbers come from (shown in reports).

    Raises
    ------
    SettingsError
        When a field is not a Series of finite numbers in range (yields and rates in
        [0, 1], returns in (-1, 1]) or the withdrawal rate is outside [0, 1].
    """

    income_yield: pd.Series
    income_rate: pd.Series
    expected_return: pd.Series
    withdrawal_rate: float
    source: str = ""

    def __post_init__(self) -> None:
        check_series(self, "income_yield", low=0, high=1,
                     meaning="income per dollar held, 0.02 = 2 %")
        check_series(self, "income_rate", low=0, high=1,
                     meaning="tax rate on that income, 0.238 = 23.8 %")
        check_series(self, "expected_return", low=-1, low_open=True, high=1,
                     meaning="annual total return, 0.07 = 7 %")
        check_number(self, "withdrawal_rate", low=0, high=1,
                     meaning="tax rate on traditional IRA withdrawals, 0.37 = 37 %")
        check_text(self, "source")

    def cost(self, kind: AccountKind, tickers: Sequence[str]) -> np.ndarray:
        """Annual tax cost per unit of weight held in an account of ``kind`` (n,)."""
        t = list(tickers)
        if kind is AccountKind.TAXABLE:
            return (self.income_yield.reindex(t).fillna(0.0) *
                    self.income_rate.reindex(t).fillna(0.0)).to_numpy(float)
        if kind is AccountKind.TRADITIONAL:
            return self.withdrawal_rate * self.expected_return.reindex(t).fillna(
                0.0).to_numpy(float)
        return np.zeros(len(t))

    @classmethod
    def uniform(cls, tickers: Sequence[str], tax: TaxProfile, dividend_yield: float = 0.0,
                expected_return: float = 0.07) -> LocationInputs:
        """Every stock alike: the same dividend yield (taxed at the LT rate) and return."""
        idx = list(tickers)
        return cls(pd.Series(dividend_yield, index=idx), pd.Series(tax.lt_rate, index=idx),
                   pd.Series(expected_return, index=idx), _withdrawal_rate(tax),
                   location_yields_sentence(None, idx, expected_return, dividend_yield))

    @classmethod
    def from_dividends(cls, dividends: DividendYield, tickers: Sequence[str],
                       tax: TaxProfile, expected_return: float = 0.07,
                       sectors: pd.Series | None = None) -> LocationInputs:
        """Each stock's trailing 12-month dividend yield, taxed as its dividends are.

        Parameters
        ----------
        dividends : DividendYield
            From :func:`pma_lab.market.corpactions.trailing_dividend_yield` (the yields of
            the proposal's dividend-yield characteristic).
        tickers : Sequence[str]
            The problem's stocks.
        tax : TaxProfile
        expected_return : float
            Expected total return of every stock (the traditional IRA's cost).
        sectors : pd.Series | None
            GICS sector by ticker. With it, a stock without dividend data
            (``DividendYield.missing``) gets the median yield of the stocks of its sector
            that have data in ``dividends`` (0 when none has), and a Real Estate stock's
            dividends (REITs': mostly not qualified) are taxed as ordinary income less the
            section 199A deduction (:func:`reit_dividend_rate`); every other dividend at
            the long-term rate. Without it, a stock without data gets 0. The sentence in
            :attr:`source` says which stocks were filled in and how.
        """
        idx = list(tickers)
        y, filled, reits = stock_dividend_yields(dividends, idx, sectors)
        rate = pd.Series(tax.lt_rate, index=idx, dtype=float)
        rate[reits] = reit_dividend_rate(tax)
        return cls(y, rate, pd.Series(expected_return, index=idx),
                   _withdrawal_rate(tax),
                   location_yields_sentence(dividends, idx, expected_return, filled=filled,
                                            reits=reits, reit_rate=reit_dividend_rate(tax)))


REAL_ESTATE = "Real Estate"
"""The GICS sector whose dividends asset location taxes as a REIT's."""


def stock_dividend_yields(dividends: DividendYield, tickers: Sequence[str],
                          sectors: pd.Series | None = None
                          ) -> tuple[pd.Series, dict[str, str], list[str]]:
    """Each stock's dividend yield, with its sector's median where it has no data.

    The yields asset location (:meth:`LocationInputs.from_dividends`) and the transition
    plans' dividends (:mod:`pma_lab.plan.dividends`) share.

    Parameters
    ----------
    dividends : DividendYield
        From :func:`pma_lab.market.corpactions.trailing_dividend_yield`.
    tickers : Sequence[str]
    sectors : pd.Series | None
        GICS sector by ticker. With it, a stock without dividend data gets the median yield
        of the stocks of its sector that have data in ``dividends`` (0 when none has), and
        the Real Estate stocks (:data:`REAL_ESTATE`) are named; without it, a stock without
        data gets 0.

    Returns
    -------
    (yields by ticker in ``tickers`` order, stocks filled in -> their sector, Real Estate
    stocks)
    """
    idx = list(tickers)
    y = dividends.yields.reindex(idx).astype(float)
    filled: dict[str, str] = {}
    reits: list[str] = []
    if sectors is not None:
        known = dividends.yields.astype(float)
        median = known.groupby(sectors.reindex(known.index)).median()
        for t in idx:
            sec = sectors.get(t)
            if t not in known.index and sec in median.index:
                y[t] = float(median[sec])
                filled[t] = str(sec)
            if sec == REAL_ESTATE:
                reits.append(t)
    return y.fillna(0.0), filled, reits


def reit_dividend_rate(tax: TaxProfile) -> float:
    """All-in rate on a REIT's ordinary dividends in a taxable account.

    The federal ordinary rate less the section 199A deduction
    (:data:`pma_lab.tax.rules.REIT_DIVIDEND_DEDUCTION`), plus the NIIT and the state rate.

    Examples
    --------
    37 % federal, 3.8 % NIIT, no state: 0.37 x 0.8 + 0.038 = 33.4 %.
    """
    return float(tax.federal_st_rate * (1.0 - REIT_DIVIDEND_DEDUCTION) + tax.niit_rate
                 + tax.state_rate)


def _withdrawal_rate(tax: TaxProfile) -> float:
    """Traditional IRA withdrawals are ordinary income: the federal ST plus state rate."""
    return float(tax.federal_st_rate + tax.state_rate)


def location_yields_sentence(dividends: DividendYield | None, tickers: Sequence[str],
                             expected_return: float, uniform_yield: float = 0.0, *,
                             filled: Mapping[str, str] | None = None,
                             reits: Sequence[str] = (), reit_rate: float = 0.0) -> str:
    """The one sentence that says which dividend yields the asset location used.

    Parameters
    ----------
    dividends : DividendYield | None
        The per-stock trailing yields used; ``None``: ``uniform_yield`` for every stock.
    tickers : Sequence[str]
        The stocks of the problem.
    expected_return : float
    uniform_yield : float
        The yield of every stock when ``dividends`` is ``None``.
    filled : Mapping[str, str] | None
        Stocks without dividend data given their sector's median yield: ticker -> sector.
    reits : Sequence[str]
        Real Estate stocks, whose dividends are taxed at ``reit_rate``.
    reit_rate : float

    Returns
    -------
    str
        Shown in the household's notes (:attr:`HouseholdResult.location_source`).
    """
    head = ("Dividend yields used for asset location (a qualified dividend is taxed at the "
            "long-term rate in a taxable account): ")
    tail = f"; expected return {fmt_pct(expected_return, 1)} for every stock."
    if dividends is None:
        return head + f"{fmt_pct(uniform_yield)} for every stock (no per-stock yields)" + tail
    names = list(dict.fromkeys(tickers))
    known = [t for t in names if t in dividends.yields.index]
    missing = [t for t in names if t not in dividends.yields.index]
    approx = len(set(known) & dividends.approximated)
    est = (f"; for {approx} of them the dividends after April 2021 are estimated from the "
           "adjusted prices" if approx else "")
    filled = dict(filled or {})

    def listed(ts: Sequence[str]) -> str:
        more = f" and {len(ts) - 5} more" if len(ts) > 5 else ""
        return ", ".join(ts[:5]) + more

    zero = [t for t in missing if t not in filled]
    by_sector = [t for t in missing if t in filled]
    none = ""
    if by_sector:
        none += (f"; for the {len(by_sector)} without dividend data "
                 f"({listed(by_sector)}) the median yield of their sector's stocks")
    if zero:
        none += (f"; 0% for the {len(zero)} without dividend data "
                 f"{'or sector peers ' if filled or reits else ''}({listed(zero)})")
    reit = (f"; the dividends of the {len(reits)} Real Estate "
            f"stock{'s' if len(reits) > 1 else ''} ({listed(list(reits))}; "
            "a REIT's dividends are mostly not qualified) are taxed as ordinary income less "
            f"the 20% section 199A deduction, {fmt_pct(reit_rate, 1)}" if reits else "")
    return (head + f"each stock's trailing 12-month yield on {dividends.as_of:%Y-%m-%d} "
            "(cash dividends with an ex-date in the 12 months to that day over that day's "
            f"price) for {len(known)} of the {len(names)} stocks{est}{none}{reit}" + tail)


@dataclass(frozen=True)
class HouseholdSettings:
    """Aversions and caps of one household rebalance (any can change between solves).

    ``gamma_location`` weighs one year of location cost like ``gamma_tax`` weighs tax (both
    fractions of ``V``) against the annual tracking variance. ``glide_now``: the
    household around "Move now"'s first step, whose every account sells a ``sell_within``
    glide's names in full today (:func:`pma_lab.optimize.state.go_to_target_shares`), as
    the plan's own account does (:func:`pma_lab.optimize.state.go_to_target_state`);
    False: their first year's share (1/N of each account's shares).
    """

    gamma_tax: float = 1.0
    gamma_location: float = 1.0
    gamma_tc: float = 1.0
    spread: float = 0.0005
    te_max: float | None = None
    gain_budget: float | None = None  # USD of net gain realised in the taxable accounts
    gain_budget_st: float | None = None  # ... of net short-term gain
    gain_budget_lt: float | None = None  # ... of net long-term gain
    whole_shares: bool = True
    min_trade_usd: float = 0.0  # no order below this (sales closing a position or forced: exempt)
    # around "Move now"'s first step: a sell_within glide's names sold in full today in
    # every account (go_to_target_shares, the single account's go_to_target_state rule),
    # not their first year's 1/N
    glide_now: bool = False

    def __post_init__(self) -> None:
        for name in ("gamma_tax", "gamma_location", "gamma_tc", "spread", "min_trade_usd"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise DataError(f"{name} {v!r} must be a non-negative number")
        for name in ("gain_budget", "gain_budget_st", "gain_budget_lt"):
            v = getattr(self, name)
            if v is not None and not (np.isfinite(v) and v >= 0):
                raise DataError(f"{name} {v!r} must be a USD amount >= 0")
        if self.te_max is not None and not (0 < self.te_max < 1):
            raise DataError(f"te_max {self.te_max!r}: give the tracking-error cap as a "
                            "fraction, e.g. 0.01 for 1 %")


@dataclass(frozen=True)
class HouseholdResult:
    """The household's trades and what they do (tables are data; reports lay them out).

    Attributes
    ----------
    status : str
        The solver's status of the final solve.
    trades : pd.DataFrame
        One row per order: ``account, kind, taxed_as, ticker, side, shares, price, value``
        (USD). ``kind``: what the profile states (``taxable``, ``traditional``, ``roth``;
        ``ira`` for an IRA whose kind it does not state); ``taxed_as``: how the optimiser
        taxes the account (that IRA as ``traditional``).
    lot_sales : pd.DataFrame
        One row per lot sold: ``account, lot_id, ticker, shares, proceeds, gain, term,
        taxable``, ``full_lot`` (the whole lot is sold: its exact shares are relieved),
        ``acquired`` (the lot's purchase date; a gift lot sold at a loss from the FMV at
        the gift: the gift's, as Form 8949 reads it) and ``recorded_basis`` and
        ``recorded_acquired`` (the sold shares' basis and the lot's purchase date as the
        lots file records them, the custodian's record: a gift lot's donor basis and date;
        otherwise the basis the gain is measured from and ``acquired``).
    accounts : pd.DataFrame
        Per account: ``account, kind, taxed_as, value, cash_before, cash_after, min_cash,
        bought, sold, realized_st, realized_lt`` (USD; realised gains from the ledger;
        ``kind`` and ``taxed_as`` as in ``trades``).
    holdings : pd.DataFrame
        Weights of the household after the trade, one column per account plus
        ``household`` and ``target``.
    location : pd.DataFrame
        Per account: annual location cost before and after (USD) and the share of the
        household's tax-inefficient assets it holds.
    te_before, te_after : float
        Household tracking error against the target (annualised).
    tax_estimate : float
        Economic tax of the realised gains: every gain and loss at the client's marginal
        rate for its term, losses credited in full (USD; what the optimiser weighs).
    blocked_groups : pd.DataFrame
        The within-trade wash-sale decisions: ``group, kept, blocked``.
    seconds : float
        Wall time of :meth:`HouseholdProblem.solve` (solves, rounding, ledger replay).
    notes : tuple[str, ...]
    solver_seconds : float
        Time inside the solver, summed over the solves.
    location_source : str
        Which dividend yields the asset location used (:func:`location_yields_sentence`).
    tax_this_year : float
        The trades' tax for the as-of year by the ledger's Schedule D netting of every
        taxable account (one return): the year's other sales and the carry-ins netted in,
        the $3,000 limit applied; the change the trades make (USD; as the single-account
        rebalance's ``tax``). NaN when not computed.
    carryforward_st, carryforward_lt : float
        Loss carryforward into next year that the trades create, by character (USD).
    te_benchmark_before, te_benchmark_after : float
        Household tracking error against the benchmark (annualised; NaN without one), the
        measure the rest of the proposal reads ("Tracking error to the S&P 500").
    benchmark_label : str
        The benchmark's name in client words (``S&P 500``; "" without one).
    sizing : TargetSizing | None
        What the household target's name count was sized on (:func:`household_for_client`:
        the household's total across its accounts); ``None`` when not known.
    fixed_account : str
        The account whose trades were fixed (:class:`FixedTrades`, the plan's first step);
        "" when every account was optimised.
    fixed_source : str
        Where those trades come from, in the client's words.
    fixed_loss_names : tuple[str, ...]
        The stocks the fixed trades sell at a loss, which no other account buys.
    fixed_wash_sales : pd.DataFrame
        The fixed account's own wash sales the ledger replay found (its plan's: a sale
        washed by its own purchase or by a lot held before today), as the ledger's
        :meth:`~pma_lab.tax.ledger.Ledger.wash_sale_matches` rows; empty without.
    named_kinds : tuple[tuple[str, ...], ...]
        ``(account id, the kind it is named by, name, number)`` of each account
        (:func:`pma_lab.accounts.account_names`)
        (:attr:`HouseholdAccount.named_kind`: ``ira`` for an IRA whose kind the profile
        does not state); empty: each account by ``accounts.kind``.
    dispositions : pd.DataFrame
        The Form 8949 rows of these trades' sales in taxable accounts, from the ledger's
        replay (:meth:`~pma_lab.tax.ledger.Ledger.dispositions`, ``as_decimal=True``; the
        ``account`` column says whose): what a plan that follows one taxable account nets
        the others' sales with (:func:`pma_lab.plan.accounting.first_year_with_sales`).
        Empty when not computed.
    loss_limit : float
        The client's yearly capital-loss offset against ordinary income (USD: $3,000, or
        $1,500 married filing separately, :attr:`pma_lab.tax.liability.TaxProfile
        .loss_limit`), as the section's words name it
        (:func:`pma_lab.report.shelf.household`).
    carryforward_before : float
        The return's loss carryforward into next year without these trades (USD, short-
        and long-term together: the year's other sales and the carry-ins netted, the
        yearly offset against income applied), the same Schedule D netting as
        :attr:`tax_this_year`; with :attr:`carryforward_st` and :attr:`carryforward_lt`,
        the proposal's harvesting table (:func:`pma_lab.report.proposal.harvesting`).
        NaN when not computed.
    carryforward_st_before, carryforward_lt_before : float
        :attr:`carryforward_before` by character (USD; their sum): short- and long-term
        losses carried into next year keep their character (Schedule D). NaN when not
        computed.
    """

    status: str
    trades: pd.DataFrame
    lot_sales: pd.DataFrame
    accounts: pd.DataFrame
    holdings: pd.DataFrame
    location: pd.DataFrame
    te_before: float
    te_after: float
    tax_estimate: float
    blocked_groups: pd.DataFrame
    seconds: float
    notes: tuple[str, ...] = field(default=())
    solver_seconds: float = 0.0
    location_source: str = ""
    tax_this_year: float = float("nan")
    carryforward_st: float = 0.0
    carryforward_lt: float = 0.0
    te_benchmark_before: float = float("nan")
    te_benchmark_after: float = float("nan")
    benchmark_label: str = ""
    sizing: TargetSizing | None = None
    fixed_account: str = ""
    fixed_source: str = ""
    fixed_loss_names: tuple[str, ...] = ()
    fixed_wash_sales: pd.DataFrame = field(default_factory=pd.DataFrame)
    named_kinds: tuple[tuple[str, ...], ...] = ()
    dispositions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    loss_limit: float = 3000.0
    carryforward_before: float = float("nan")
    carryforward_st_before: float = float("nan")
    carryforward_lt_before: float = float("nan")

    def summary(self) -> pd.Series:
        """Headline figures."""
        return pd.Series({
            "status": self.status, "te_before": self.te_before, "te_after": self.te_after,
            "te_benchmark_before": self.te_benchmark_before,
            "te_benchmark_after": self.te_benchmark_after,
            "orders": len(self.trades), "lots_sold": len(self.lot_sales),
            # the trade file's rows: one a lot sold (specific identification), one a purchase
            "trade_file_rows": len(self.lot_sales) + int((self.trades.side == "buy").sum()),
            "realized_st_usd": float(self.accounts.realized_st.sum()),
            "realized_lt_usd": float(self.accounts.realized_lt.sum()),
            "tax_estimate_usd": self.tax_estimate,
            # the Schedule D tax of today's trades (the plan's tax for the year, page 1's
            # "Tax this year", also counts its later trades, dividends and interest)
            "tax_of_todays_trades_usd": self.tax_this_year,
            "carryforward_created_usd": self.carryforward_st + self.carryforward_lt,
            # the return's carryforward into next year as levels and the change, under the
            # names of a rebalance's summary.csv (RebalanceSummary.to_series)
            **{f"carryforward_{t}_{k}": v for t in ("st", "lt") for k, v in (
                ("before", getattr(self, f"carryforward_{t}_before")),
                ("after", getattr(self, f"carryforward_{t}_before")
                 + getattr(self, f"carryforward_{t}")),
                ("change", getattr(self, f"carryforward_{t}")))},
            "location_cost_before_usd": float(self.location.cost_before.sum()),
            "location_cost_after_usd": float(self.location.cost_after.sum()),
            "seconds": self.seconds,
        })

    def account_trades(self, account_id: str) -> pd.DataFrame:
        """The orders of one account."""
        return self.trades[self.trades.account == account_id].reset_index(drop=True)


class HouseholdProblem:
    """The household rebalance, compiled once (see the module docs).

    Parameters
    ----------
    ledger : Ledger
        The household ledger (every account's lots; its lock table spans the household).
    accounts : Sequence[HouseholdAccount]
        The accounts to manage; each must be an account of the ledger.
    as_of : datetime.date
    prices : pd.Series
        Prices at ``as_of`` for every held stock and every target name.
    risk : RiskModel
        Covers every held stock and the target.
    target : pd.Series
        Household target weights by ticker (sum to one).
    tax : TaxProfile
    settings : HouseholdSettings | None
    location : LocationInputs | None
        Default: :meth:`LocationInputs.uniform` (no dividend yields known);
        :func:`household_for_client` passes the trailing dividend yields.
    no_buy : Iterable[str]
        Household restrictions (no account buys these).
    carryin : tuple[float, float]
        Capital loss carried into the as-of year (short-term, long-term; USD, positive),
        netted into :attr:`HouseholdResult.tax_this_year`.
    no_sell : Iterable[str]
        Names no account sells (the client's ``hold_no_add`` keep list; none is bought
        either: pass them in ``no_buy`` too).
    sell_share : Mapping[str, float]
        Restricted names held: ticker -> the share of each account's holding that must be
        sold now (``1``: a ``sell`` restriction, every share in every account; ``1/N``: a
        ``sell_within:N`` glide's first year, ``1`` as well with ``settings.glide_now``,
        around "Move now": :func:`~pma_lab.optimize.state.go_to_target_shares`; the
        attribute ``sell_share`` holds the shares the current settings sell). None of
        them is bought. Lots a wash-sale
        lock keeps from being sold at a loss are left for later (named in the notes).
    benchmark : Benchmark | None
        The benchmark the target tracks: the result also reads the household's tracking
        error against it (:attr:`HouseholdResult.te_benchmark_after`).
    benchmark_risk : RiskModel | None
        A risk model covering the benchmark's names (default ``risk``).
    etf_info, sectors : pd.DataFrame | None, pd.Series | None
        The packaged funds and the GICS sectors (default: the packaged market data's),
        for a fund held in any account: it is modelled by its look-through composition,
        as the single-account rebalance does (an S&P 500 tracker: the benchmark's stocks;
        a sector fund: the benchmark's stocks of its sector; ``benchmark`` is then
        required and ``risk`` must cover its names), sold like a stock, never bought.
    sizing : TargetSizing | None
        What the target's name count was sized on, carried to the result (reports say it).
    fixed : FixedTrades | None
        One taxable account's trades decided elsewhere (the plan's first step), kept as
        they are: the problem starts from the holdings after them, never trades that
        account, and buys in no account a stock they sell at a loss; the result's trades,
        tax and figures are those of every account's trades together.

    Raises
    ------
    DataError
        Unknown accounts, holdings the risk model does not cover, missing prices.
    NotDPPError
        If the problem is not DPP (a bug).
    """

    def __init__(self, ledger: Ledger, accounts: Sequence[HouseholdAccount], as_of: dt.date,
                 prices: pd.Series, risk: RiskModel, target: pd.Series, tax: TaxProfile,
                 settings: HouseholdSettings | None = None,
                 location: LocationInputs | None = None, no_buy: Iterable[str] = (),
                 carryin: tuple[float, float] = (0.0, 0.0),
                 sell_share: Mapping[str, float] | None = None,
                 benchmark: Benchmark | None = None, benchmark_risk: RiskModel | None = None,
                 etf_info: pd.DataFrame | None = None, sectors: pd.Series | None = None,
                 sizing: TargetSizing | None = None,
                 fixed: FixedTrades | None = None, no_sell: Iterable[str] = ()):
        self.ledger, self.as_of, self.tax = ledger, as_of, tax
        self._no_sell = frozenset(no_sell)
        self.sizing = sizing
        self.fixed = fixed
        self.benchmark = benchmark
        self.benchmark_risk = benchmark_risk or risk
        if benchmark is not None:  # every benchmark name covered (raises naming them)
            self.benchmark_risk.align(benchmark.weights)
        # the restrictions' shares as given (a glide's 1/N); sell_share: those the current
        # settings sell now (every one in full with glide_now, as update sets it)
        self._own_share = dict(sell_share or {})
        bad_share = {t: f for t, f in self._own_share.items()
                     if not (np.isfinite(f) and 0 < f <= 1)}
        if bad_share:
            raise DataError(f"sell_share {bad_share}: give the share of a holding to sell now "
                            "as a fraction in (0, 1], e.g. 1 for a name that must be sold")
        self.sell_share = self._shares_now(settings or HouseholdSettings())
        no_buy = set(no_buy) | set(self.sell_share)
        if not all(np.isfinite(c) and c >= 0 for c in carryin):
            raise DataError(f"carryin {carryin!r}: give the capital loss carried into the "
                            "year as two amounts in USD >= 0 (short-term, long-term)")
        self.carryin = (float(carryin[0]), float(carryin[1]))
        self.accounts = tuple(accounts)
        self.settings = settings or HouseholdSettings()
        ids = [a.account_id for a in self.accounts]
        unknown = sorted(set(ids) - set(ledger.accounts))
        if unknown:
            raise DataError(f"accounts {unknown} are not accounts of the ledger "
                            f"({sorted(ledger.accounts)}); declare them in the profile")
        if len(set(ids)) != len(ids):
            raise DataError(f"an account is listed twice: {ids}")
        self.tickers = tuple(risk.tickers)
        n, idx = len(self.tickers), risk.index
        self.risk = risk
        self.location_inputs = location or LocationInputs.uniform(self.tickers, tax)
        lots = []
        gifts: list[tuple[int, Lot]] = []  # (row, lot): a gift's dual basis, priced below
        self._exact_shares: dict[tuple[str, str], Decimal] = {}
        where: dict[str, str] = {}  # a fund -> where it is held (for messages)
        for k, a in enumerate(self.accounts):
            for lt in ledger.lots(account=a.account_id):
                self._exact_shares[(a.account_id, lt.lot_id)] = lt.shares
                if lt.ticker not in idx:  # a fund: modelled by its look-through
                    where.setdefault(lt.ticker, f"account {a.account_id}, lot {lt.lot_id}")
                term = lt.term_on(as_of).value
                if lt.loss_basis is not None:
                    gifts.append((len(lots), lt))
                lots.append((k, idx.get(lt.ticker, -1), lt.lot_id, lt.ticker,
                             float(lt.shares), float(lt.basis), term, lt.acquired,
                             float(lt.basis), lt.acquired))
        px = prices.reindex(list(self.tickers)).astype(float)
        tw = target.reindex(list(self.tickers)).fillna(0.0)
        if abs(float(target.sum()) - 1.0) > 1e-6:
            raise DataError(f"the target weights sum to {float(target.sum()):.6f}, not 1")
        off = sorted(set(target.index[target > 0]) - set(self.tickers))
        if off:
            raise DataError(f"target names {off[:10]} are not covered by the risk model")
        self.funds = self._fund_lookthrough(sorted(where), where, etf_info, sectors)
        fund_px = prices.reindex(sorted(where)).astype(float)
        need = sorted({self.tickers[i] for _, i, *_ in lots if i >= 0} |
                      set(tw.index[tw > 0]))
        bad = [t for t in need if not px.get(t, np.nan) > 0]
        bad += [t for t in sorted(where) if not fund_px.get(t, np.nan) > 0]
        if bad:
            raise DataError(f"no price on {as_of} for {', '.join(bad[:10])}; pass prices for "
                            "every held stock or fund and every target name")
        self.prices = px.fillna(0.0)
        for j, lt in gifts:
            # a gift's basis and term as a sale today reports them (Pub 551's dual basis,
            # as the single account's problem reads it: Lot.sale_basis)
            k, i, lid, tick, sh, _, _, acq, rb, ra = lots[j]
            value = sh * float(px[tick] if i >= 0 else fund_px[tick])
            basis, lto, start = lt.sale_basis(value)
            if start != lt.holding_start:  # a loss from the FMV, held from the gift
                acq = start
            term = "LT" if lto is None or as_of >= lto else "ST"
            lots[j] = (k, i, lid, tick, sh, basis, term, acq, rb, ra)
        # recorded_*: the lot as the lots file records it (a gift's donor basis and date)
        self.lots = pd.DataFrame(lots, columns=["k", "i", "lot_id", "ticker", "shares",
                                                "basis", "term", "acquired",
                                                "recorded_basis", "recorded_acquired"])
        self.lots["account"] = [ids[k] for k in self.lots.k]
        self.lots["price"] = self.lots.ticker.map(pd.concat([self.prices, fund_px])).astype(
            float)
        # one id per (account, stock or fund): an order
        self.lots["pos"] = pd.factorize(self.lots.account + "\x00" + self.lots.ticker)[0]
        self.lots["value"] = self.lots.shares * self.lots.price
        self.lots["gain"] = self.lots.value - self.lots.basis
        taxable = [a.kind is AccountKind.TAXABLE for a in self.accounts]
        self.lots["taxable"] = [taxable[k] for k in self.lots.k]
        # the lots' columns as arrays and lists, read by every solve and every refix (a
        # pandas column access costs more than the arithmetic on a few hundred lots)
        self._lot_k = self.lots.k.to_numpy()
        self._lot_px = self.lots.price.to_numpy()
        self._lot_shares = self.lots.shares.to_numpy()
        self._lot_basis = self.lots.basis.to_numpy()
        self._lot_st = (self.lots.term == "ST").to_numpy()
        self._lot_taxable = self.lots.taxable.to_numpy()
        self._lot_ticker: list[str] = self.lots.ticker.tolist()
        self._lot_id: list[str] = self.lots.lot_id.tolist()
        self._lot_account: list[str] = self.lots.account.tolist()
        cash = np.array([a.cash for a in self.accounts])
        self.value = float(self.lots.value.sum() + cash.sum())
        if self.value <= 0:
            raise DataError("the household has no value to rebalance")
        A, L = len(self.accounts), len(self.lots)
        V = self.value
        self.n, self.A, self.L = n, A, L
        v = (self.lots.value / V).to_numpy()
        # S maps a lot's weight to its account's stocks: a stock lot to its stock, a fund
        # lot to the fund's look-through composition
        stock = (self.lots.i >= 0).to_numpy()
        rows = list((self.lots.k * n + self.lots.i).to_numpy()[stock])
        cols = list(np.nonzero(stock)[0])
        vals = [1.0] * len(rows)
        for j in np.nonzero(~stock)[0]:
            comp = self.funds[self.lots.ticker.iloc[j]]
            nz = np.nonzero(comp > 0)[0]
            rows += list(int(self.lots.k.iloc[j]) * n + nz)
            cols += [j] * len(nz)
            vals += list(comp[nz])
        self.S = sp.csr_matrix((vals, (rows, cols)), shape=(A * n, L))
        h0 = np.asarray(self.S @ v).ravel()
        self.h0 = h0
        # the fixed account's trades (the plan's first step) applied first: the problem
        # starts from the holdings after them (:meth:`_after_fixed`) and trades the other
        # accounts
        self._ids = tuple(ids)
        self._reset_fixed()
        if fixed is not None:
            self._apply_fixed(fixed, ids)
        acc_of_lot = sp.csr_matrix((np.ones(L), (self.lots.k.to_numpy(), np.arange(L))),
                                   shape=(A, L))
        R = sp.kron(sp.eye(A), np.ones((1, n))).tocsr()  # (A, A n): sum within an account
        E = sp.kron(np.ones((1, A)), sp.eye(n)).tocsr()  # (n, A n): sum across accounts
        self.groups = {t: ledger.identity.group(t) for t in (*self.tickers, *self.funds)}

        # net gain per unit of weight sold (taxable lots; IRAs realise none), in total and
        # by term: the rows of the three gains budgets
        gain_per_w = np.where(self.lots.value > 0, self.lots.gain / self.lots.value, 0.0)
        self._gain_coef = np.where(self.lots.taxable, gain_per_w, 0.0)
        st_lot = (self.lots.term == "ST").to_numpy()
        self._gain_rows = np.vstack([self._gain_coef, self._gain_coef * st_lot,
                                     self._gain_coef * ~st_lot])

        # ---- variables and parameters
        self.b = cp.Variable(A * n, nonneg=True, name="buy")
        self.x = cp.Variable(L, nonneg=True, name="sell")
        self.p_buy_ub = cp.Parameter(A * n, nonneg=True, name="buy_ub")
        self.p_sell_ub = cp.Parameter(L, nonneg=True, name="sell_ub")
        # aversion x coefficient, one Parameter each (a product of two is not DPP)
        self.p_tax = cp.Parameter(L, name="gamma_tax_x_tax_per_weight")
        self.p_loc = cp.Parameter(A * n, name="gamma_location_x_location_cost")
        self.p_loc_lot = cp.Parameter(L, name="gamma_location_x_location_cost_per_lot")
        self.p_tc = cp.Parameter(nonneg=True, name="gamma_tc_x_spread")
        self.p_cash0 = cp.Parameter(A, nonneg=True, name="cash_now")
        self.p_cmin = cp.Parameter(A, nonneg=True, name="cash_min")
        self.p_cmax = cp.Parameter(A, nonneg=True, name="cash_max")
        # rows: net gain in total, short-term, long-term (the profile's three budgets)
        self.p_budget = cp.Parameter(3, name="gain_budget")
        self.p_te2 = cp.Parameter(nonneg=True, name="te_cap_squared")
        # the holdings the trades start from: after the fixed account's (a Parameter, so
        # the problem is compiled once for every set of fixed trades: :meth:`refix`)
        self.p_h0 = cp.Parameter(A * n, name="holdings_start")
        post = self.p_h0 + self.b - self.S @ self.x
        # the household's weights as their own variable keep the risk term small (n x k
        # times n variables) instead of a product with every lot
        w = cp.Variable(n, name="household_weights")
        self.w = w
        # The risk model and the target are data of the compiled problem (a new date or
        # target means a new problem): as Parameters, B = X chol(F) and d would add n x k
        # parameter entries and multiply cvxpy's compile time (as pma_lab.optimize.rebalance found).
        cmin = np.array([a.min_cash for a in self.accounts]) / V
        self._target = tw.to_numpy() * (1.0 - cmin.sum())
        tracking = TrackingVariance.of(risk)
        bm, d = tracking.loadings(), tracking.scale()
        # active factor exposures and specific parts as variables: the quadratic then
        # touches k + n variables only (cvxpy densifies the quadratic's coefficients over
        # every variable it involves)
        fa = cp.Variable(bm.shape[1], name="active_factor")
        sa = cp.Variable(n, name="active_specific")
        te2 = TrackingVariance.from_parts(fa, sa)
        cash_end = self.p_cash0 + acc_of_lot @ self.x - R @ self.b
        self.te2, self.post, self.cash_end = te2, post, cash_end
        # location cost of the holdings after the trade, c.(h0 + b - S x), without its
        # constant c.h0 and with S'c as its own Parameter (c.(S x) would compile a dense
        # Parameter tensor over every lot)
        # The linear terms (tax, location, trading cost) go through one epigraph variable so
        # the objective holds no Parameter: cvxpy extracts a quadratic objective's
        # coefficients as a dense (variables x parameters) block, seconds at 5,000 lots.
        lin = cp.Variable(name="tax_location_cost")
        self.lin = lin
        objective = te2 + lin
        self.constraints = {
            "household": w == E @ post,
            "active_factor": fa == bm.T @ w - bm.T @ self._target,
            "active_specific": sa == cp.multiply(d, w) - d * self._target,
            "buy_bounds": self.b <= self.p_buy_ub,
            "lot_bounds": self.x <= self.p_sell_ub,
            "min_cash": cash_end >= self.p_cmin,
            "invested": cash_end <= self.p_cmax,
            # the lots' gains are data of the compiled problem (a Parameter matrix would
            # add 3 x lots parameter entries to every compile)
            "gain_budget": sp.csr_matrix(self._gain_rows) @ self.x <= self.p_budget,
            **self._forced_sales(),
            "linear_terms": lin >= self.p_tax @ self.x + self.p_loc @ self.b
            - self.p_loc_lot @ self.x + self.p_tc * (cp.sum(self.b) + cp.sum(self.x)),
        }
        # without a TE cap the problem is a QP; with one an SOCP: each variant is compiled
        # once, when first needed (see :attr:`problem`)
        self._objective = cp.Minimize(objective)
        self._te_cap = te2 <= self.p_te2
        self._problems: dict[bool, cp.Problem] = {}
        # a researcher's objective terms and constraints (add_objective_term,
        # add_constraint): label -> expression; label -> constraints; what was passed
        self._terms: dict[str, cp.Expression] = {}
        self._user: dict[str, list[cp.Constraint]] = {}
        self._added_terms: list[tuple[str, object]] = []
        self._added_constraints: list[tuple[str, object]] = []

        # ---- fixed data behind the parameters
        self._v = v
        rate = np.where(self.lots.term == "ST", tax.st_rate, tax.lt_rate)
        self._tax_coef = rate * self._gain_coef  # zero for IRA lots (their gain is 0)
        self._loss_lot = (self.lots.taxable & (self.lots.gain < 0)).to_numpy()
        loc = np.concatenate([self.location_inputs.cost(a.kind, self.tickers)
                              for a in self.accounts])
        self._loc_coef = loc
        self._cash = cash / V
        self._cmin_accounts = np.array([a.min_cash for a in self.accounts]) / V
        self._cmin = self._cmin_accounts.copy()
        self._check_min_cash()
        self._no_buy = frozenset(no_buy)
        self.locks = ledger.locks(as_of)
        # net gain realised earlier in the year (every taxable account: one return): the
        # gains budget is for the whole year, as the single-account rebalance counts it
        disp = ledger.dispositions()
        year = np.array([d.year == as_of.year and d <= as_of for d in disp.date_sold],
                        dtype=bool)
        g = disp.gain_loss[year]
        st_disp = (disp.term[year] == "ST").to_numpy()
        self.ytd = np.array([float(g.sum()), float(g[st_disp].sum()),
                             float(g[~st_disp].sum())]) if len(disp) else np.zeros(3)
        self.ytd_gain = float(self.ytd[0])
        self._after_fixed()
        self.update(self.settings)
        self._solver_seconds = 0.0

    def _reset_fixed(self) -> None:
        """No fixed trades: the share arrays :meth:`_apply_fixed` fills, at zero."""
        self._fixed_k = -1
        self._fixed_sell_q, self._fixed_gift_q = np.zeros(self.L), np.zeros(self.L)
        self._fixed_buy_q = np.zeros(self.A * self.n)
        self._fixed_loss_groups: dict[str, list[str]] = {}

    def _after_fixed(self) -> None:
        """What the fixed trades (:meth:`_apply_fixed`'s arrays) set in the problem's data.

        The holdings the trades start from (``p_h0``), the fixed account's cash floor (its
        own trades keep it), the bounds (:meth:`_base_bounds`) and the net gain the fixed
        trades realise (in total, short- and long-term: with another taxable account, one
        return, the budgets left for the household's own trades are what they leave).
        """
        A, V = self.A, self.value
        px_lot = self._lot_px
        h = self.h0 - np.asarray(self.S @ ((self._fixed_sell_q + self._fixed_gift_q)
                                           * px_lot / V)).ravel()
        h = h + self._fixed_buy_q * self._px_tiled() / V
        self._h_start = h
        self.p_h0.value = h
        self._cmin = self._cmin_accounts.copy()
        if self._fixed_k >= 0:  # its cash is what its own trades leave; not traded here
            self._cmin[self._fixed_k] = 0.0
        self._base_buy_ub, self._base_sell_ub = self._base_bounds(self._no_buy)
        self._cannot_buy = (self._base_buy_ub.reshape(A, self.n).sum(1) == 0).astype(float)
        self.fixed_gain = np.zeros(3)
        self._one_return = bool(self._fixed_k >= 0 and (
            self._lot_taxable & (self._lot_k != self._fixed_k)).any())
        if self._one_return:
            q = self._fixed_sell_q
            shares = self._lot_shares
            g = np.where(q > 0, (px_lot - self._lot_basis
                                 / np.where(shares > 0, shares, 1.0)) * q, 0.0)
            st_lot = self._lot_st
            self.fixed_gain = np.array([g.sum(), g[st_lot].sum(), g[~st_lot].sum()])

    def _px_tiled(self) -> np.ndarray:
        """The stocks' prices once per account (the order of ``b``), kept."""
        got = getattr(self, "_px_tiled_kept", None)
        if got is None:
            got = self._px_tiled_kept = np.tile(self.prices.to_numpy(), self.A)
            got.flags.writeable = False
        return got

    def refix(self, fixed: FixedTrades | None,
              settings: HouseholdSettings | None = None) -> None:
        """Trade the other accounts around ``fixed`` instead; nothing recompiles.

        The same household, date, lots, target and data; ``fixed``: another account's
        trades kept as they are (``None``: every account optimised), ``settings``: the
        new settings (default the current). The next :meth:`solve` answers as a problem
        built with them would, to the bit: the fixed trades enter the compiled problem
        through Parameters only (the holdings they leave, the bounds, the cash floors and
        the budgets), and the solvers of earlier solves are set up anew (cvxpy hands a
        kept solver the new data, which need not round as a new one does).

        Raises
        ------
        DataError
            As the constructor for ``fixed``; the problem is then left without fixed
            trades.
        """
        self._reset_fixed()
        self.fixed = None
        try:
            if fixed is not None:
                self._apply_fixed(fixed, self._ids)
        except DataError:
            self._reset_fixed()
            self._after_fixed()
            self.update(settings or self.settings)
            raise
        self.fixed = fixed
        self._after_fixed()
        self.update(settings or self.settings)
        for prob in self._problems.values():
            prob._solver_cache.clear()

    @property
    def problem(self) -> cp.Problem:
        """The compiled problem for the current settings (with or without the TE cap).

        Raises
        ------
        NotDPPError
            If the problem is not DPP (a bug).
        """
        capped = self.settings.te_max is not None
        if capped not in self._problems:
            cons = list(self.constraints.values()) + ([self._te_cap] if capped else [])
            objective = self._objective
            if self._terms:
                # each term through its own epigraph variable, so the objective holds no
                # Parameter (see the linear terms above)
                ups = [cp.Variable(name=f"term_{k}") for k in range(len(self._terms))]
                cons += [t <= u for t, u in zip(self._terms.values(), ups, strict=True)]
                objective = cp.Minimize(self._objective.expr + cp.sum(cp.hstack(ups)))
            cons += [c for cs in self._user.values() for c in cs]
            prob = cp.Problem(objective, cons)
            if not prob.is_dpp():
                raise NotDPPError("the household problem is not DPP; please report this")
            self._problems[capped] = prob
        return self._problems[capped]

    # ------------------------------------------------------------------ added terms
    @property
    def asset_index(self) -> dict[str, int]:
        """Each risk-model stock's position in :attr:`w` (the household's weights)."""
        got = getattr(self, "_asset_index", None)
        if got is None:
            got = self._asset_index = {t: i for i, t in enumerate(self.tickers)}
        return got

    @property
    def objective_terms(self) -> dict[str, cp.Expression]:
        """The researcher's objective terms (:meth:`add_objective_term`), by name."""
        return dict(self._terms)

    @property
    def additions(self) -> Additions:
        """What was added (:class:`~pma_lab.optimize.constraints.Additions`), by name."""
        return Additions(tuple(self._added_terms), tuple(self._added_constraints))

    def add_objective_term(self, build: object, name: str = "") -> None:
        """Add a researcher's convex cost to the household's objective.

        As :meth:`pma_lab.optimize.rebalance.RebalanceProblem.add_objective_term`, for the
        household: ``build`` is called once with this problem and returns one convex,
        DPP, scalar cvxpy expression of its variables, added to the objective
        (``TE^2 + gamma_tax tax + gamma_loc location + gamma_tc cost + your terms``,
        tracking variance a year and costs as fractions of the household's value). The
        variables: ``p.w`` the household's weight of each risk-model stock after the
        trade (every account together; ``p.asset_index[ticker]`` its position, as the
        single account's ``p.w``), ``p.b`` the weight bought per account and stock
        (``A x n``, account by account in the order of :attr:`accounts`, each in the
        order of ``p.w``), ``p.x`` the weight sold per lot (the rows of :attr:`lots`),
        ``p.post`` each account's weights after the trade (like ``p.b``). A function
        written for the single account with ``p.w``, ``p.asset_index`` and
        ``cp.sum(p.b)`` works here unchanged (``RebalanceProblem.additions``,
        :meth:`Additions.apply <pma_lab.optimize.constraints.Additions.apply>`).

        Both solves (before and after the wash-sale sides are fixed) carry it, and the
        whole-share step's share-by-share investing of the cash left
        (:meth:`_fill_cash`) counts its first-order change with each share.

        Raises
        ------
        ConstraintError
            When it is added: not a function of one argument, it raises, it returns
            something other than one scalar cvxpy expression of this problem's variables,
            a Parameter without a value, not convex or not DPP, or a name used already.
            The problem is left unchanged.
        """
        label = self._added_label(name, "add_objective_term", self._terms,
                                  f"objective term {len(self._terms) + 1}")
        made = self._call(build, label, "add_objective_term")
        where = f"add_objective_term({label!r})"
        if isinstance(made, cp.constraints.constraint.Constraint):
            raise ConstraintError(f"{where}: the function returned a constraint, not an "
                                  "expression to minimise (use add_constraint for a limit). "
                                  + _HOUSEHOLD_GUIDE)
        if not isinstance(made, cp.Expression) or made.shape != ():
            what = (f"an expression of shape {made.shape}" if isinstance(made, cp.Expression)
                    else f"a {type(made).__name__} ({str(made)[:40]!r})")
            raise ConstraintError(f"{where}: the function returned {what}, not one scalar "
                                  "cvxpy expression of the problem's variables (sum a vector "
                                  "with cp.sum). " + _HOUSEHOLD_GUIDE)
        self._check_variables(made, where)
        if not made.is_convex():
            raise ConstraintError(f"{where}: the expression is {made.curvature.lower()}, not "
                                  "convex, so it cannot be minimised. " + _HOUSEHOLD_GUIDE)
        if not made.is_dcp(dpp=True):
            raise ConstraintError(f"{where}: the expression is not DPP (a Parameter times "
                                  "another Parameter or a non-constant expression); use a "
                                  "number or one Parameter times an expression of one "
                                  "variable. " + _HOUSEHOLD_GUIDE)
        self._terms[label] = made
        self._added_terms.append((label, build))
        self._problems.clear()

    def add_constraint(self, build: object, name: str = "") -> None:
        """Add a researcher's constraint to the household's problem.

        As :meth:`pma_lab.optimize.rebalance.RebalanceProblem.add_constraint`, with the
        variables :meth:`add_objective_term` names (``p.w``, ``p.asset_index``, ``p.b``,
        ``p.x``, ``p.post``): ``build`` returns cvxpy constraints, convex and DPP. Both
        solves carry them; the whole-share step's investing of the cash left buys no
        share that breaks one, and the rounded trades are checked against each: a
        rounding that breaks one by more than 1e-7 raises
        :class:`~pma_lab.errors.OptimizationError` naming it (fractional shares,
        ``whole_shares=False``, or a looser limit fix it).

        Raises
        ------
        ConstraintError
            When it is added, saying what was wrong (as :meth:`add_objective_term`).
        """
        label = self._added_label(name, "add_constraint", self._user,
                                  f"user constraint {len(self._user) + 1}")
        made = self._call(build, label, "add_constraint")
        where = f"add_constraint({label!r})"
        cons = [made] if isinstance(made, cp.constraints.constraint.Constraint) else \
            list(made) if isinstance(made, list | tuple) else None
        if not cons or not all(isinstance(c, cp.constraints.constraint.Constraint)
                               for c in cons):
            raise ConstraintError(f"{where}: the function returned {str(made)[:60]!r}, not "
                                  "cvxpy constraints (e.g. p.w[i] <= 0.02). "
                                  + _HOUSEHOLD_GUIDE)
        for c in cons:
            self._check_variables(c, where)
            if not c.is_dcp(dpp=True):
                raise ConstraintError(f"{where}: {c} is not convex (DCP) or not DPP; write "
                                      "it as affine <= constant or convex <= affine. "
                                      + _HOUSEHOLD_GUIDE)
        self._user[label] = cons
        self._added_constraints.append((label, build))
        self._problems.clear()

    def _added_label(self, name: object, what: str, taken: Mapping, default: str) -> str:
        if not isinstance(name, str):
            raise ConstraintError(f"{what}(name={name!r}): name must be text")
        label = name or default
        if label in taken:
            raise ConstraintError(f"{what}({label!r}): one named {label!r} was added "
                                  "already; give this one another name (name=...)")
        return label

    def _call(self, build: object, label: str, what: str) -> object:
        where = f"{what}({label!r})"
        if isinstance(build, cp.Expression | cp.constraints.constraint.Constraint) or \
                not callable(build):
            raise ConstraintError(f"{where}: got {type(build).__name__}, not a function of "
                                  "the problem; wrap it: lambda p: ... " + _HOUSEHOLD_GUIDE)
        try:
            return build(self)
        except KeyError as err:
            raise ConstraintError(f"{where}: the function raised KeyError: {err} is not a "
                                  "stock of the household's risk model (p.asset_index: the "
                                  "stocks held in any account or targeted). "
                                  + _HOUSEHOLD_GUIDE) from err
        except Exception as err:  # noqa: BLE001 - reported with what it means, chained
            raise ConstraintError(f"{where}: the function raised {type(err).__name__}: "
                                  f"{err}. " + _HOUSEHOLD_GUIDE) from err

    def _check_variables(self, made: cp.Expression | cp.Constraint, where: str) -> None:
        own = {id(v) for v in (self.w, self.b, self.x)} | {
            id(v) for v in self.post.variables()}
        ours = [v for v in made.variables() if id(v) in own]
        foreign = sorted({v.name() for v in made.variables() if id(v) not in own and
                          v.name() in ("buy", "sell", "household_weights")})
        if foreign:
            raise ConstraintError(f"{where}: it uses variable(s) {', '.join(foreign)} of "
                                  "another HouseholdProblem: use the problem the function "
                                  "receives (p). " + _HOUSEHOLD_GUIDE)
        if not ours:
            raise ConstraintError(f"{where}: it uses none of the problem's variables. "
                                  + _HOUSEHOLD_GUIDE)
        unset = sorted(prm.name() for prm in made.parameters() if prm.value is None)
        if unset:
            raise ConstraintError(f"{where}: it uses cvxpy Parameter(s) {', '.join(unset)} "
                                  "without a value; give each a value first")

    def _at(self, q_sell: np.ndarray, q_buy: np.ndarray) -> None:
        """Set ``w``, ``b`` and ``x`` to the values of the (non-fixed) share trades."""
        V = self.value
        x = q_sell * self._lot_px / V
        b = q_buy * self._px_tiled() / V
        h = self._h_start - np.asarray(self.S @ x).ravel() + b
        self.x.value = x
        self.b.value = b
        self.w.value = h.reshape(self.A, self.n).sum(0)

    def _added_violation(self) -> dict[str, float]:
        """Each added constraint's violation at the variables' values."""
        return {label: max((float(np.max(c.violation())) for c in cons), default=0.0)
                for label, cons in self._user.items()}

    def _term_gradient(self) -> np.ndarray:
        """d(added terms)/d(buy) at the variables' values, per (account, stock).

        A share bought in account ``a`` of stock ``i`` moves ``b[a, i]`` and ``w[i]``:
        the two partial derivatives summed (first order; a variable the gradient does not
        cover counts 0).
        """
        n = self.n
        g = np.zeros(self.A * n)
        for term in self._terms.values():
            grad = term.grad
            for var in (self.b, self.w):
                d = grad.get(var) if grad else None
                if d is None:
                    continue
                d = np.asarray(d.todense() if sp.issparse(d) else d, dtype=float).ravel()
                g += d if var is self.b else np.tile(d, self.A)
        return g

    # ------------------------------------------------------------------ set-up
    def _price_of(self, ticker: str) -> float:
        """The as-of price of a held stock or fund."""
        got = getattr(self, "_price_kept", None)
        if got is None:  # the stocks' prices, then each fund's (its first lot's), once
            got = dict(zip(self.prices.index.tolist(), self.prices.to_numpy().tolist(),
                           strict=True))
            for t, p in zip(self._lot_ticker, self._lot_px.tolist(), strict=True):
                got.setdefault(t, p)
            self._price_kept = got
        return float(got[ticker])

    def _fund_lookthrough(self, funds: Sequence[str], where: Mapping[str, str],
                          etf_info: pd.DataFrame | None,
                          sectors: pd.Series | None) -> dict[str, np.ndarray]:
        """Each held fund's composition over the model's stocks (sums to 1).

        An S&P 500 tracker holds the benchmark (``self.benchmark``'s weights), a sector
        fund the benchmark's names of its sector, as the single-account state looks
        through them (:func:`~pma_lab.optimize.state._lookthrough`).

        Raises
        ------
        DataError
            For a holding that is neither a stock of the risk model nor a fund pma_lab
            models (an S&P 500 tracker or a sector fund), or with no benchmark, or a
            benchmark with names the risk model lacks, naming where it is held.
        """
        if not funds:
            return {}
        from pma_lab.optimize.state import _lookthrough

        if etf_info is None or sectors is None:
            from pma_lab.market.data import load_market

            m = load_market()
            etf_info = m.etf_info() if etf_info is None else etf_info
            sectors = m.universe.sectors() if sectors is None else sectors
        bw = None if self.benchmark is None else self.benchmark.weights
        out = {}
        for f in funds:
            try:
                with np.errstate(invalid="ignore", divide="ignore"):
                    comp = _lookthrough(f, list(self.tickers), bw, etf_info, sectors)
            except DataError as e:
                raise DataError(f"{where[f]}: {e}") from None
            if not (np.isfinite(comp).all() and comp.sum() > 0):
                raise DataError(f"{where[f]}: {f} is a sector fund and the benchmark "
                                "holds no stock of its sector to stand for it; sell or "
                                "transfer it first, or use a benchmark with stocks of that "
                                "sector")
            out[f] = comp
        return out

    def _apply_fixed(self, fixed: FixedTrades, ids: Sequence[str]) -> None:
        """Check the fixed trades against the lots and prices; set their share arrays.

        Raises
        ------
        DataError
            For an account not in the household or not taxable, a lot it does not hold
            (or more shares than the lot has), a purchase of a stock the risk model does not
            cover, or a price other than the household's for the same stock.
        """
        if fixed.account_id not in ids:
            raise DataError(f"the fixed trades are account {fixed.account_id}'s, which is not "
                            f"one of the household's accounts ({', '.join(ids)})")
        k = list(ids).index(fixed.account_id)
        if self.accounts[k].kind is not AccountKind.TAXABLE:
            raise DataError(f"the fixed trades are account {fixed.account_id}'s, a "
                            f"{self.accounts[k].kind} account; only a taxable account's "
                            "trades (the plan's first step) are kept as they are")
        self._fixed_k = k
        mine = np.nonzero(self._lot_k == k)[0]
        row = {self._lot_id[j]: j for j in mine.tolist()}
        shares = self._lot_shares
        px_lot = self._lot_px
        lot_ticker = self._lot_ticker

        def lot_rows(frame: pd.DataFrame, what: str, out: np.ndarray) -> None:
            cols = [frame[c].tolist() for c in ("lot_id", "ticker", "shares", "price")]
            cols.append(frame.full_lot.tolist() if "full_lot" in frame
                        else [False] * len(frame))
            for lot_id, ticker, q, price, whole in zip(*cols, strict=True):
                j = row.get(str(lot_id))
                if j is None or lot_ticker[j] != ticker:
                    raise DataError(f"the plan's {what} of {ticker} lot {lot_id} in "
                                    f"account {fixed.account_id}: the household holds no such "
                                    "lot; compute the plan and the household from the same "
                                    "ledger and date")
                # a gift's value is in cents: its price per share is that close
                tol = 0.005 / float(q) if what == "gift" else 0.0
                if abs(float(price) - px_lot[j]) > tol + 1e-6 * max(1.0, px_lot[j]):
                    raise DataError(f"the plan's {what} of {ticker} lot {lot_id} is priced "
                                    f"at {float(price):,.4f}, the household at "
                                    f"{px_lot[j]:,.4f}; use the same prices for both")
                # a whole lot sold after part of it was given: what the gift left
                out[j] += (shares[j] - self._fixed_gift_q[j] if whole else float(q))

        lot_rows(fixed.gifts, "gift", self._fixed_gift_q)
        lot_rows(fixed.lot_sales, "sale", self._fixed_sell_q)
        over = np.nonzero(self._fixed_sell_q + self._fixed_gift_q > shares + 1e-9)[0]
        if len(over):
            j = int(over[0])
            q = self._fixed_sell_q[j] + self._fixed_gift_q[j]
            raise DataError(f"the plan sells or gives {q:g} shares of "
                            f"{lot_ticker[j]} lot {self._lot_id[j]}, which "
                            f"holds {shares[j]:g}")
        idx = self._risk_index()
        prices = self.prices.to_numpy()
        b = fixed.buys
        for ticker, q, price in zip(b.ticker.tolist(), b.shares.tolist(), b.price.tolist(),
                                    strict=True):
            i = idx.get(ticker)
            if i is None or not prices[i] > 0:
                raise DataError(f"the plan buys {ticker}, which the household's risk model "
                                "does not cover or has no price for; compute both from the "
                                "same set-up")
            if abs(float(price) - float(prices[i])) > 1e-6 * max(1.0, price):
                raise DataError(f"the plan buys {ticker} at {float(price):,.4f}, the "
                                f"household prices it at {float(prices[i]):,.4f}; "
                                "use the same prices for both")
            self._fixed_buy_q[k * self.n + i] += float(q)
        # the groups the plan sells at a loss: bought in no account (hard constraint)
        sold = self._fixed_sell_q > 0
        loss = sold & (px_lot * self._fixed_sell_q - self._lot_basis
                       * self._fixed_sell_q / np.where(shares > 0, shares, 1.0) < 0)
        for j in np.nonzero(loss)[0].tolist():
            t = str(lot_ticker[j])
            self._fixed_loss_groups.setdefault(self.ledger.identity.group(t), []).append(t)

    def _risk_index(self) -> dict[str, int]:
        """Ticker -> the problem's stock number (the risk model's order), kept."""
        got = getattr(self, "_risk_index_kept", None)
        if got is None:
            got = self._risk_index_kept = self.risk.index
        return got

    def _forced_gain(self, coef: np.ndarray) -> float:
        """The least net gain (USD) the restrictions' sales realise in taxable accounts.

        ``coef`` is a row of gain per weight (total, short- or long-term). Each forced
        (account, name) sells its share from its sellable lots lowest gain per dollar
        first (exact for these separate minimum-sale rows).
        """
        need = self._force_values()
        total = 0.0
        for j, (k, t) in enumerate(self._forced_keys):
            rows = np.nonzero((self.lots.k == k).to_numpy()
                              & (self.lots.ticker == t).to_numpy())[0]
            rows = rows[np.argsort(coef[rows], kind="stable")]
            left = need[j]
            for r in rows:
                take = min(left, self._base_sell_ub[r])
                total += coef[r] * take
                left -= take
                if left <= 1e-15:
                    break
        return total * self.value

    def _check_min_cash(self) -> None:
        """Every account's minimum cash is at most what the account is worth.

        Raises
        ------
        InfeasibleError
            Naming each account whose ``min_cash`` is above its value (its lots at the
            as-of prices plus its cash): buys and cash floors are per account, so no other
            account's cash or sales can make up the difference.
        """
        worth = (self._cash + self._lot_value_by_account()) * self.value
        over = [(a, float(w)) for a, w in zip(self.accounts, worth, strict=True)
                if a.min_cash > w + 0.005]
        if not over:
            return
        raise min_cash_conflict("household rebalance",
                                [(a.account_id, a.min_cash, w, a.cash) for a, w in over],
                                self.as_of)

    def _lot_value_by_account(self) -> np.ndarray:
        return np.bincount(self.lots.k, weights=self._v, minlength=self.A)

    def _forced_sales(self) -> dict[str, cp.Constraint]:
        """``F x >= force``: each (account, restricted name) sells its share now.

        ``F`` sums the lots of one account's holding of a name in :attr:`sell_share`;
        ``force`` (a Parameter, set by :meth:`update`) is that share of the holding's
        weight, less the lots a wash-sale lock keeps (:meth:`_base_bounds`).
        """
        lots = self.lots
        forced = lots.ticker.isin(list(self.sell_share)).to_numpy()
        self._forced_lot = forced
        keys = sorted(set(zip(lots.k[forced], lots.ticker[forced], strict=True)))
        self._forced_keys = keys
        if not keys:
            return {}
        row = {key: j for j, key in enumerate(keys)}
        cols = np.nonzero(forced)[0]
        rows = [row[(k, t)] for k, t in zip(lots.k.iloc[cols], lots.ticker.iloc[cols],
                                             strict=True)]
        self._F = sp.csr_matrix((np.ones(len(cols)), (rows, cols)),
                                shape=(len(keys), self.L))
        self.p_force = cp.Parameter(len(keys), nonneg=True, name="forced_sale")
        return {"restricted_sales": self._F @ self.x >= self.p_force}

    def _force_values(self) -> np.ndarray:
        """Weight each forced (account, name) sells now: its share, within what may sell."""
        share = np.array([self.sell_share[t] for _, t in self._forced_keys])
        held = self._F @ self._v
        sellable = self._F @ self._base_sell_ub
        return np.minimum(share * held, sellable)

    def _base_bounds(self, no_buy: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Bounds from restrictions and the ledger's wash-sale locks."""
        n = self.n
        key = frozenset(no_buy)
        got = getattr(self, "_free_bounds_kept", None)
        if got is None or got[0] != key:  # the same for any fixed trades: computed once
            locks = self.locks
            no_buy_groups = set(locks.group[locks.lock == "no_buy"])
            no_loss_groups = set(locks.group[locks.lock == "no_loss_sale"])
            house = set(no_buy)
            priced = self.prices.to_numpy() > 0
            buy = np.ones(self.A * n)
            for k, a in enumerate(self.accounts):
                for i, t in enumerate(self.tickers):
                    if (t in house or t in a.no_buy or self.groups[t] in no_buy_groups
                            or not priced[i]):
                        buy[k * n + i] = 0.0
            sell = self._v.copy()
            lock_loss = self._loss_lot & np.array([g in no_loss_groups
                                                   for g in self._lot_groups()], dtype=bool)
            sell[lock_loss] = 0.0
            if self._no_sell:  # the client's keep list (hold_no_add): never sold
                sell[self.lots.ticker.isin(list(self._no_sell)).to_numpy()] = 0.0
            got = self._free_bounds_kept = (key, buy, sell, lock_loss)
        buy, sell, lock_loss = got[1].copy(), got[2].copy(), got[3]
        self._locked_loss_lots = lock_loss
        k = self._fixed_k
        if k >= 0:  # the plan's account is not traded here; what it does binds the others
            lot_group = self._lot_groups()
            asset_group = self._asset_groups()[:n]
            buy[k * n:(k + 1) * n] = 0.0
            sell[self._lot_k == k] = 0.0
            if self._fixed_loss_groups:
                for i in np.nonzero(np.isin(asset_group, list(self._fixed_loss_groups)))[0]:
                    buy[i::n] = 0.0
            bought = set(asset_group[np.nonzero(self._fixed_buy_q > 0)[0] % n].tolist())
            washed = self._loss_lot & np.array([g in bought for g in lot_group], dtype=bool)
            sell[washed] = 0.0
            # the other accounts' loss lots the plan's purchases would wash (its own lots
            # are its plan's, not kept here)
            self._locked_loss_lots = (lock_loss | washed) & (self._lot_k != k)
        return buy, sell

    def _asset_groups(self) -> np.ndarray:
        """Each variable ``b``'s wash-sale identity group (every account's stocks), kept."""
        got = getattr(self, "_asset_groups_kept", None)
        if got is None:
            got = self._asset_groups_kept = np.array(
                [self.groups[t] for t in self.tickers] * self.A, dtype=object)
            got.flags.writeable = False
        return got

    def _lot_groups(self) -> np.ndarray:
        """Each lot's wash-sale identity group (the ledger's), by lot (kept)."""
        got = getattr(self, "_lot_groups_kept", None)
        if got is None:
            got = self._lot_groups_kept = np.array(
                [self.groups[t] for t in self.lots.ticker.tolist()], dtype=object)
        return got

    def _shares_now(self, settings: HouseholdSettings) -> dict[str, float]:
        """The restricted names' shares sold now under ``settings``.

        Every one in full around "Move now" (``glide_now``:
        :func:`~pma_lab.optimize.state.go_to_target_shares`), else as given (a
        ``sell_within:N`` glide's first year, 1/N).
        """
        return (go_to_target_shares(self._own_share) if settings.glide_now
                else dict(self._own_share))

    def update(self, settings: HouseholdSettings | None = None, **changes: object) -> None:
        """Set the Parameters from ``settings`` (and any field overrides); nothing recompiles."""
        s = replace_settings(settings or self.settings, changes, "HouseholdProblem.update")
        self.settings = s
        self.sell_share = self._shares_now(s)  # the names are the same: values alone
        self.p_tc.value = s.gamma_tc * s.spread
        self.p_te2.value = _NO_CAP if s.te_max is None else s.te_max ** 2
        self.p_tax.value = s.gamma_tax * self._tax_coef
        self.p_loc.value = s.gamma_location * self._loc_coef
        if getattr(self, "_loc_lot_coef", None) is None:  # the lots' location cost, once
            self._loc_lot_coef = self.S.T @ self._loc_coef
        self.p_loc_lot.value = s.gamma_location * self._loc_lot_coef
        self.p_cash0.value = self._cash
        self.p_cmin.value = self._cmin
        # fully invested: each account keeps its min_cash and invests the rest (rounding
        # down to whole shares leaves more, which :meth:`_fill_cash` invests share by
        # share); an account that cannot buy keeps what it has
        self.p_cmax.value = np.maximum(self._cmin, self._cash * self._cannot_buy)
        # each budget: what is left for the year; below the least gain the restrictions'
        # sales realise, raised to it (they happen whatever the tax), as the single account
        self.budget_raise = np.zeros(3)
        limits = np.full(3, _NO_CAP)
        for r, val in enumerate((s.gain_budget, s.gain_budget_st, s.gain_budget_lt)):
            if val is None:
                continue
            # never below what was left before today's trades when that is negative: the
            # other accounts' trades do not have to offset the plan's own gains
            left = max(val - self.ytd[r] - self.fixed_gain[r], min(0.0, val - self.ytd[r]))
            forced = (self._forced_gain(self._gain_rows[r]) if self._forced_keys
                      else -np.inf)
            self.budget_raise[r] = max(0.0, forced - left)
            limits[r] = max(left, forced) / self.value
        self.p_budget.value = limits
        self.p_buy_ub.value = self._base_buy_ub
        self.p_sell_ub.value = self._base_sell_ub
        if self._forced_keys:
            self.p_force.value = self._force_values()

    # ------------------------------------------------------------------ solve
    def _run(self) -> str:
        checkpoint()  # a background thread may pause here (pma_lab.checkpoints)
        try:
            self.problem.solve(solver=cp.CLARABEL)
        except cp.error.SolverError:
            self.problem.solve(solver=cp.SCS, eps=1e-7, max_iters=20000)
        self._solver_seconds += float(self.problem.solver_stats.solve_time or 0.0)
        return str(self.problem.status)

    def _group_loss_sales(self) -> dict[str, float]:
        """Weight sold at a loss from taxable lots, per identity group."""
        x = np.where(self.x.value > _EPS, self.x.value, 0.0)
        return _positive_group_sums(self._lot_groups(), x * self._loss_lot)

    def _conflicts(self) -> list[tuple[str, float, float]]:
        """Groups both sold at a loss (taxable) and bought (any account) in the solution."""
        b = np.where(self.b.value > _EPS, self.b.value, 0.0).reshape(self.A, self.n).sum(0)
        loss = self._group_loss_sales()
        bought = _positive_group_sums(self._asset_groups()[:self.n], b)
        both = sorted(set(loss) & set(bought))
        return [(g, float(loss[g]), float(bought[g])) for g in both]

    def solve(self) -> HouseholdResult:
        """Solve, enforce the within-trade wash-sale rule, round, check with the ledger.

        Raises
        ------
        InfeasibleError
            Naming the constraints that conflict (cash floors, the TE cap, restrictions).
        OptimizationError
            If the ledger finds a wash sale in the rounded trades (should not happen).
        """
        t0 = time.perf_counter()
        self._solver_seconds = 0.0
        status = self._run()
        if status not in ("optimal", "optimal_inaccurate"):
            raise self._diagnose(status)
        decisions = []
        buy_ub = self.p_buy_ub.value.copy()
        sell_ub = self.p_sell_ub.value.copy()
        lot_group = self._lot_groups()
        asset_group = self._asset_groups()
        # Fix a side for every group that has a taxable loss lot still sellable, as in
        # step 2 of Moehle et al.: a group that did both keeps its larger side (recorded in
        # blocked_groups), one that only sold at a loss keeps selling and buys nowhere, and
        # any other keeps its loss lots. The second solve then cannot wash a loss.
        both = {g: (loss, bought) for g, loss, bought in self._conflicts()}
        loss_sold = self._group_loss_sales()
        risky = sorted(set(lot_group[self._loss_lot & (sell_ub > 0)]))
        forced = {self.groups[t] for t in self.sell_share if t in self.groups}
        for g in risky:
            if g in both:
                loss, bought = both[g]
                keep_sale = loss >= bought or g in forced  # a restriction's sale stays
                decisions.append((g, "loss sale" if keep_sale else "purchases",
                                  "purchases in every account" if keep_sale else
                                  "taxable sales at a loss"))
            else:
                keep_sale = loss_sold.get(g, 0.0) > 0 or g in forced
            if keep_sale:
                buy_ub[asset_group == g] = 0.0
            else:
                sell_ub[self._loss_lot & (lot_group == g)] = 0.0
        if risky:
            self.p_buy_ub.value, self.p_sell_ub.value = buy_ub, sell_ub
            status = self._run()
            if status not in ("optimal", "optimal_inaccurate"):
                raise self._diagnose(status)
            if self._conflicts():  # cannot happen with every side fixed
                raise OptimizationError("a group is still sold at a loss and bought after "
                                        "the sides were fixed; please report this")
        x = np.where(self.x.value > _EPS, self.x.value, 0.0)
        b = np.where(self.b.value > _EPS, self.b.value, 0.0)
        result = self._result(status, x, b, decisions, time.perf_counter() - t0)
        if risky:  # restore the bounds for the next solve (the only Parameters set here)
            self.p_buy_ub.value = self._base_buy_ub
            self.p_sell_ub.value = self._base_sell_ub
        return result

    def _diagnose(self, status: str) -> InfeasibleError:
        """Find which constraint families conflict by relaxing each in turn."""
        free = np.ones(self.A * self.n)
        if self._fixed_k >= 0:  # the plan's account stays as its trades leave it
            free[self._fixed_k * self.n:(self._fixed_k + 1) * self.n] = 0.0
        families = (("te_cap", self.p_te2, _NO_CAP),
                    ("min_cash", self.p_cmin, np.zeros(self.A)),
                    ("gain_budget", self.p_budget, np.full(3, _NO_CAP)),
                    ("restrictions and wash-sale locks", self.p_buy_ub, free))
        freed = []
        for name, param, loose in families:
            keep = param.value.copy() if isinstance(param.value, np.ndarray) else param.value
            param.value = loose
            if self._run() in ("optimal", "optimal_inaccurate"):
                freed.append(name)
            param.value = keep
        if "min_cash" in freed:  # whose floor: the accounts one lowered floor makes feasible
            keep = self.p_cmin.value.copy()
            whose = []
            for k, a in enumerate(self.accounts):
                if keep[k] <= 0:
                    continue
                one = keep.copy()
                one[k] = 0.0
                self.p_cmin.value = one
                if self._run() in ("optimal", "optimal_inaccurate"):
                    whose.append(f"{a.account_id} {fmt_usd(a.min_cash)}")
                self.p_cmin.value = keep
            if whose:
                freed[freed.index("min_cash")] = f"min_cash of {', '.join(whose)}"
        which = ", ".join(freed) if freed else "none of these alone"
        added = (f" The problem also has the added constraint(s) {', '.join(map(repr, self._user))}"
                 " (add_constraint), which this search does not relax: build the problem "
                 "without them to see whether one of them is what conflicts."
                 if self._user else "")
        return InfeasibleError(
            f"the household rebalance is {status}: it becomes feasible when any one of "
            f"[{which}] is relaxed, so it conflicts with the rest of [te_cap, min_cash, "
            "gain_budget, restrictions and wash-sale locks, cash]. To fix: raise the "
            "tracking-error cap (te_max) or the gain budget, lower an account's min_cash "
            "([[accounts]] min_cash in the profile), or lift a restriction" + added,
            conflicts=freed)

    # ------------------------------------------------------------------ results
    def _round(self, x: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whole shares: sells to the nearest share (whole lots kept whole), buys down.

        A restriction's sales round up (never below the share it must sell). Orders under
        the minimum trade are dropped (sales that close a holding or that a restriction
        forces are exempt; small loss sales stay when leaving them out would break a
        gains budget). Buys are then cut, largest first, until every account's cash
        floor holds.
        """
        V = self.value
        shares = self._lot_shares
        px_lot = self._lot_px
        q_sell = x * V / px_lot
        full = x >= self._v - 1e-9
        q_sell = np.where(full, shares, np.where(self._forced_lot, np.ceil(q_sell - 1e-6),
                                                 np.round(q_sell)))
        q_sell = np.minimum(q_sell, shares)
        px = self._px_tiled()
        with np.errstate(divide="ignore", invalid="ignore"):
            q_buy = np.where(px > 0, np.floor(b * V / np.where(px > 0, px, 1.0) + 1e-3), 0.0)
        if not self.settings.whole_shares:
            q_sell = np.where(full, q_sell, x * V / px_lot)
            q_buy = np.where(px > 0, b * V / np.where(px > 0, px, 1.0), 0.0)
        mt = self.settings.min_trade_usd
        self._small_orders = 0
        if mt > 0:
            pos = self.lots.pos.to_numpy()
            m = int(pos.max()) + 1 if len(pos) else 0
            order = np.bincount(pos, weights=q_sell * px_lot, minlength=m)
            left = np.bincount(pos, weights=shares - q_sell, minlength=m)
            exempt = (left < 1e-9) | (np.bincount(pos, weights=self._forced_lot.astype(float),
                                                  minlength=m) > 0)
            small = (order > 0) & (order < mt) & ~exempt
            # a small sale at a loss offsets gains: left out, it must not push a gains
            # budget over its limit (then the small loss sales stay)
            dropped = np.where(small[pos], 0.0, q_sell)
            gains = self._gain_rows @ (dropped * px_lot / V)
            if (gains > self.p_budget.value + 1e-9).any():
                keep = small[pos] & (self._gain_coef < 0)
                dropped = np.where(keep, q_sell, dropped)
                small &= np.bincount(pos, weights=keep.astype(float), minlength=m) == 0
            q_sell = dropped
            small_buy = (q_buy > 0) & (q_buy * px < mt)
            q_buy = np.where(small_buy, 0.0, q_buy)
            self._small_orders = int(small.sum() + small_buy.sum())
        cash = np.array([a.cash for a in self.accounts])
        for k, a in enumerate(self.accounts):
            sl = slice(k * self.n, (k + 1) * self.n)
            sold = float((q_sell * px_lot)[self._lot_k == k].sum())
            while True:
                spent = float((q_buy[sl] * px[sl]).sum())
                deficit = a.min_cash - (cash[k] + sold - spent)
                if deficit <= 1e-9 or not (q_buy[sl] > 0).any():
                    break  # no buy left to cut: sales rounded down by under a share each
                j = int(np.argmax(q_buy[sl] * px[sl]))
                cut = min(q_buy[sl][j], max(np.ceil(deficit / px[sl][j]), 1.0))
                q_buy[k * self.n + j] -= cut
        if mt > 0:  # a buy cut for cash below the minimum goes too
            small_buy = (q_buy > 0) & (q_buy * px < mt)
            q_buy = np.where(small_buy, 0.0, q_buy)
            self._small_orders += int(small_buy.sum())
        if self._user and self.settings.whole_shares:
            q_sell = self._sell_for_added(q_sell, q_buy, x * V / px_lot)
        if self.settings.whole_shares:
            q_buy = self._fill_cash(q_sell, q_buy)
        if self._user:  # the added constraints at the rounded trades
            kept = [(v, v.value) for v in (self.w, self.b, self.x)]
            self._at(q_sell, q_buy)
            broken = {k: v for k, v in self._added_violation().items() if v > ADDED_TOL}
            for var, value in kept:
                var.value = value
            if broken:
                raise OptimizationError(
                    "the household's whole-share trades break the added constraint(s) "
                    + ", ".join(f"{k!r} (by {v:.2e})" for k, v in broken.items())
                    + ": rounding to whole shares moved the solution past the limit. To "
                    "fix: trade fractional shares (HouseholdSettings(whole_shares=False)) or "
                    "leave the limit a share's weight of room")
        # the fixed account's trades as they are (its own variables were held at zero)
        return q_sell + self._fixed_sell_q, q_buy + self._fixed_buy_q

    def _sell_for_added(self, q_sell: np.ndarray, q_buy: np.ndarray, exact: np.ndarray
                        ) -> np.ndarray:
        """Sales rounded up a share while that mends an added constraint the rounding broke.

        Sales rounded down by less than a share are the candidates: one share at a time,
        the lot whose share lowers the added constraints' largest violation most first,
        until none is broken (or no share lowers it); the cash a further share raises
        stays in the account (its floor holds the more).
        """
        kept = [(v, v.value) for v in (self.w, self.b, self.x)]
        q_sell = q_sell.copy()
        up = np.flatnonzero((q_sell < np.minimum(np.ceil(exact - 1e-9), self._lot_shares))
                            & (exact > 0))

        def worst(q: np.ndarray) -> float:
            self._at(q, q_buy)
            return max(self._added_violation().values(), default=0.0)

        now = worst(q_sell)
        while now > ADDED_TOL and len(up):
            tries = []
            for j in up:
                q_sell[j] += 1.0
                tries.append(worst(q_sell))
                q_sell[j] -= 1.0
            best = int(np.argmin(tries))
            if tries[best] >= now:
                break
            q_sell[up[best]] += 1.0
            now = tries[best]
            up = up[q_sell[up] < np.minimum(np.ceil(exact[up] - 1e-9), self._lot_shares[up])]
        for var, value in kept:
            var.value = value
        return q_sell

    def _fill_cash(self, q_sell: np.ndarray, q_buy: np.ndarray) -> np.ndarray:
        """Invest the cash that rounding down to whole shares left, one share at a time.

        The solve invests every account down to its ``min_cash`` (constraint ``invested``);
        rounding each purchase down to a whole share leaves up to one share's price per
        stock bought. Each step buys the one share (any traded account, any stock it may
        buy: the bounds of the last solve, so restrictions, wash-sale locks and the
        within-trade wash-sale decisions hold) that the account's cash above its floor pays
        for and that lowers the household's tracking variance, the one costing least in the
        solve's objective (tracking variance plus location and trading cost; the solve pays
        the location cost of full investment anyway); a new order must reach the minimum
        trade. It stops when no such share fits: each traded account then holds, above its
        floor, less than one share's price of every stock it may buy that would bring the
        household closer to its target. The fixed account (the plan's first step) is not
        traded here.
        """
        V, n, s = self.value, self.n, self.settings
        px = self._px_tiled()
        px_lot = self._lot_px
        allowed = (self.p_buy_ub.value > 0) & (px > 0)
        if self._fixed_k >= 0:
            allowed[self._fixed_k * n:(self._fixed_k + 1) * n] = False
        if not allowed.any():
            return q_buy
        q_buy = q_buy.copy()
        k_lot = self._lot_k
        sold = np.bincount(k_lot, weights=q_sell * px_lot, minlength=self.A)
        spent = (q_buy * px).reshape(self.A, n).sum(1)
        floor = np.array([a.min_cash for a in self.accounts])
        free = np.array([a.cash for a in self.accounts]) + sold - spent - floor
        h = self._h_start - np.asarray(self.S @ (q_sell * px_lot / V)).ravel() + q_buy * px / V
        tv = TrackingVariance.of(self.risk)
        active = h.reshape(self.A, n).sum(0) - self._target
        grad = tv.sigma(active)  # half the gradient of the tracking variance
        diag = tv.diagonal()
        lin = s.gamma_location * self._loc_coef + s.gamma_tc * s.spread  # per unit weight
        step = px / V  # weight of one share
        i_of = np.tile(np.arange(n), self.A)
        k_of = np.repeat(np.arange(self.A), n)
        mt = s.min_trade_usd
        added = bool(self._terms or self._user)
        kept = [(v, v.value) for v in (self.w, self.b, self.x)] if added else []
        term_grad = 0.0
        if self._terms:  # the researcher's terms' first-order change with a share
            self._at(q_sell, q_buy)
            term_grad = self._term_gradient()
        while True:
            fits = allowed & (px <= free[k_of] + 1e-9)
            fits &= (q_buy > 0) | (px >= mt)  # a new order of one share reaches mt
            if not fits.any():
                break
            te = step * 2 * grad[i_of] + step ** 2 * diag[i_of]
            fits &= te < 0  # the share brings the household closer to its target
            if self._terms:  # ... and lowers the objective with the added terms
                fits &= te + step * (lin + term_grad) < 0
            if not fits.any():
                break
            j = int(np.argmin(np.where(fits, te + step * (lin + term_grad), np.inf)))
            i, k = int(i_of[j]), int(k_of[j])
            if self._user:  # a share that breaks an added constraint is not bought
                q_buy[j] += 1.0
                self._at(q_sell, q_buy)
                q_buy[j] -= 1.0
                if max(self._added_violation().values(), default=0.0) > ADDED_TOL:
                    allowed[j] = False
                    continue
            q_buy[j] += 1.0
            free[k] -= px[j]
            if self._terms:
                self._at(q_sell, q_buy)
                term_grad = self._term_gradient()
            unit = np.zeros(n)
            unit[i] = step[j]
            grad += tv.sigma(unit)  # the share's column of the covariance
        for var, value in kept:  # the solve's values back
            var.value = value
        return q_buy

    def _result(self, status: str, x: np.ndarray, b: np.ndarray, decisions: list,
                seconds: float) -> HouseholdResult:
        q_sell, q_buy = self._round(x, b)
        ids = [a.account_id for a in self.accounts]
        # the kind the profile states (``ira``: not stated) and the one the optimiser taxes
        # it as (``traditional`` for that IRA): the tables a machine reads carry both
        kinds = [a.named_kind or str(a.kind) for a in self.accounts]
        taxed = [str(a.kind) for a in self.accounts]
        px = self.prices.to_numpy()
        # the tables from the lots' arrays (the same numbers as pandas' column arithmetic:
        # elementwise products and quotients in the same order)
        pos = np.nonzero(q_sell > 0)[0]
        qs, sale_px, held = q_sell[pos], self._lot_px[pos], self._lot_shares[pos]
        lots = self.lots

        def lot_column(name: str) -> object:  # its dtype kept, even when nothing is sold
            return lots[name].array.take(pos)

        lot_sales = pd.DataFrame({
            "account": lot_column("account"), "lot_id": lot_column("lot_id"),
            "ticker": lot_column("ticker"), "shares": qs, "proceeds": qs * sale_px,
            "gain": qs * sale_px - self._lot_basis[pos] * qs / held,
            "term": lot_column("term"), "taxable": self._lot_taxable[pos],
            # the whole lot (its exact shares are relieved): the one flag the ledger check
            # and the plan's booking (plan.household.book_others) read, as result._lot_sales
            "full_lot": qs >= held,
            # the purchase date: with the cost per share it names the lot at the custodian
            "acquired": lot_column("acquired"),
            # the lot as the lots file records it (a gift's donor basis and date)
            "recorded_basis": lots.recorded_basis.to_numpy()[pos] * qs / held,
            "recorded_acquired": lot_column("recorded_acquired")})
        # one sell order per account and stock: its lots' shares summed in their order (as
        # a pandas group's sum), at the stock's price
        rows = []
        sale_account = [self._lot_account[j] for j in pos.tolist()]
        sale_ticker = [self._lot_ticker[j] for j in pos.tolist()]
        by_order: dict[tuple[str, str], list[int]] = {}
        for j, key in enumerate(zip(sale_account, sale_ticker, strict=True)):
            by_order.setdefault(key, []).append(j)
        for (acc, t), js in sorted(by_order.items()):
            rows.append((acc, t, "sell", float(qs[js].sum()), float(self._price_of(t))))
        qb = q_buy.reshape(self.A, self.n)
        for k, i in zip(*np.nonzero(qb > 0), strict=True):
            rows.append((ids[k], self.tickers[i], "buy", float(qb[k, i]), float(px[i])))
        trades = _trades_table(rows, ids, kinds, taxed)
        realized, year = self._ledger_check(lot_sales, trades)
        # holdings after the rounded trades (weights of V)
        V = self.value
        h = self.h0.copy()
        h -= np.asarray(self.S @ ((q_sell + self._fixed_gift_q) * self._lot_px / V)).ravel()
        h += q_buy * self._px_tiled() / V
        H = h.reshape(self.A, self.n)
        household = H.sum(0)
        cols = {a: H[k] for k, a in enumerate(ids)}
        cols["household"] = household
        cols["target"] = self._target
        keep = (np.abs(np.vstack(list(cols.values()))) > 1e-12).any(axis=0)
        holdings = pd.DataFrame({c: v[keep] for c, v in cols.items()},
                                index=pd.Index(self.tickers).take(np.nonzero(keep)[0]))
        te_before, te_bm_before = self._te_before()
        # the risk model's own arithmetic on the household's weights in its order
        # (RiskModel.tracking_error of the same weights, without the Series)
        te_after = self.risk.tracking.te(household - self._target)
        te_bm = (float("nan"), float("nan"))
        if self.benchmark is not None:
            te_bm = (te_bm_before, self._te_benchmark(household))
        loc = self._loc_coef.reshape(self.A, self.n)
        H0 = self.h0.reshape(self.A, self.n)
        cash_after = []
        acc_rows = []
        t_value = trades.value.to_numpy(float)
        t_account = trades.account.to_numpy(object)
        t_buy = (trades.side == "buy").to_numpy(bool)
        for k, a in enumerate(self.accounts):
            mine = t_account == a.account_id
            bought = float(t_value[mine & t_buy].sum())
            sold_v = float(t_value[mine & ~t_buy].sum())
            fixed_cash = (self.fixed.cash_after if k == self._fixed_k and self.fixed
                          is not None else float("nan"))
            cash_after.append(fixed_cash if np.isfinite(fixed_cash)
                              else a.cash + sold_v - bought)
            r = realized.get(a.account_id, {"st": 0.0, "lt": 0.0})
            acc_rows.append({
                "account": a.account_id, "kind": kinds[k], "taxed_as": taxed[k],
                "value": float(H0[k].sum() * V + a.cash), "cash_before": a.cash,
                "cash_after": cash_after[-1], "min_cash": a.min_cash, "bought": bought,
                "sold": sold_v,
                "realized_st": r["st"], "realized_lt": r["lt"]})
        accounts = pd.DataFrame(acc_rows)
        location = pd.DataFrame({
            "account": ids, "kind": kinds, "taxed_as": taxed,
            "cost_before": (loc * H0).sum(1) * V, "cost_after": (loc * H).sum(1) * V})
        st = float(accounts.realized_st.sum())
        lt = float(accounts.realized_lt.sum())
        tax_est = st * self.tax.st_rate + lt * self.tax.lt_rate
        blocked = pd.DataFrame(decisions, columns=["group", "kept", "blocked"])
        n_locks, n_blocked = len(self.locks), len(blocked)
        notes = [
            "Wash sales across every account are hard constraints: "
            + (f"the {_count(n_locks, 'wash-sale lock')} open on {self.as_of} (a stock sold "
               "at a loss or bought in the 30 days before, in any account) bind every "
               "account" if n_locks else f"no wash-sale lock is open on {self.as_of}")
            + self._sold_lock_words(trades)
            + ", and no stock is both sold at a loss and bought in these trades"
            + (f" (for {_count(n_blocked, 'stock')} the loss sale or the purchase was left "
               "out)" if n_blocked else "") + "; "
            + self._replay_words(),
            "Asset location: annual tax cost per dollar held is income yield x rate in a "
            "taxable account, withdrawal rate x expected return in a traditional IRA, zero "
            "in a Roth.",
            *self._unstated_notes(),
            self.location_inputs.source,
            # headed by the row it explains (pma_lab.report.shelf.household_summary)
            (labels.TAX_OF_THESE_TRADES if self.fixed is None
             else labels.TAX_OF_TODAYS_TRADES)
            + f": the ledger's Schedule D tax of the trades for {self.as_of.year} "
            "over every taxable account (one return), after netting with the year's other "
            f"sales and the ${self.tax.loss_limit:,.0f} limit; losses beyond it carry "
            "forward. Economic tax: "
            "every gain and loss at your rate for its term (short-term "
            f"{fmt_rate(self.tax.st_rate)}, long-term {fmt_rate(self.tax.lt_rate)}), "
            "losses credited in full: what the optimiser weighs. IRA and Roth sales "
            "realise nothing.",
        ]
        notes = (self._fixed_notes() + notes
                 + self._opposite_notes(trades, lot_sales, holdings, loc, H0, H)
                 + self._restriction_notes() + self._cash_notes(cash_after))
        f = self.fixed
        return HouseholdResult(status, trades, lot_sales, accounts, holdings, location,
                               te_before, te_after, tax_est, blocked, seconds, tuple(notes),
                               self._solver_seconds, self.location_inputs.source,
                               year["tax"], year["carryforward_st"],
                               year["carryforward_lt"], te_bm[0], te_bm[1],
                               "" if self.benchmark is None else self.benchmark.label,
                               self.sizing,
                               "" if f is None else f.account_id,
                               "" if f is None else f.source,
                               tuple(sorted({t for ts in self._fixed_loss_groups.values()
                                             for t in ts})),
                               self._own_wash, self._named_kinds(),
                               dispositions=self._new_disp,
                               carryforward_before=year["carryforward_before"],
                               carryforward_st_before=year["carryforward_st_before"],
                               carryforward_lt_before=year["carryforward_lt_before"])

    def _te_benchmark(self, household: np.ndarray) -> float:
        """The household's tracking error to the benchmark after the trades.

        ``benchmark_risk.tracking_error`` of the household's weights (a Series by the
        problem's tickers) and the benchmark's, with the benchmark's weights aligned to
        that model once (kept): the same arrays, the same arithmetic.
        """
        brisk = self.benchmark_risk
        got = getattr(self, "_bm_aligned_kept", None)
        if got is None:
            idx = brisk.index
            rows = [idx.get(t) for t in self.tickers]
            got = self._bm_aligned_kept = (
                None if any(r is None for r in rows) or len(set(rows)) < len(rows)
                else (np.array(rows, dtype=np.intp),
                      brisk.align(self.benchmark.weights)))  # type: ignore[union-attr]
        if got[0] is None:  # a name the model lacks: its own error
            return brisk.tracking_error(pd.Series(household, index=self.tickers),
                                        self.benchmark.weights)  # type: ignore[union-attr]
        w = np.zeros(len(brisk.tickers))
        w[got[0]] = household
        return brisk.tracking.te(w - got[1])

    def _ledger_before(self) -> tuple[int, int, set[tuple[str, str]]]:
        """The ledger before the trades, as :meth:`_ledger_check` reads it on a fork.

        The number of its dispositions and wash-sale matches and its lots (account, root
        lot id). Kept while the ledger is unchanged
        (:meth:`~pma_lab.tax.ledger.Ledger.state_token`).
        """
        token = self.ledger.state_token()
        got = getattr(self, "_ledger_before_kept", None)
        if got is None or got[0] != token:
            led = self.ledger
            got = self._ledger_before_kept = (
                token, len(led.dispositions()), len(led.wash_sale_matches()),
                {(lt.account, lt.root_id) for lt in led.lots()})
        return got[1], got[2], got[3]

    def _no_matches(self) -> pd.DataFrame:
        """The wash-sale match table of no new match: the ledger's ``iloc[:0]``, kept.

        The table a fork with no match beyond the ledger's slices off its matches (the
        same rows: the same columns and dtypes), kept while the ledger is unchanged.
        """
        token = self.ledger.state_token()
        got = getattr(self, "_no_matches_kept", None)
        if got is None or got[0] != token:
            got = self._no_matches_kept = (
                token, self.ledger.wash_sale_matches().iloc[:0].reset_index(drop=True))
        return got[1]

    def _te_before(self) -> tuple[float, float]:
        """The household's tracking error before any trade, to the target and the benchmark.

        Kept: the holdings before the trades are the problem's (whatever the fixed trades).
        """
        got = getattr(self, "_te_before_kept", None)
        if got is None:
            h = pd.Series(self.h0.reshape(self.A, self.n).sum(0), index=self.tickers)
            te = self.risk.tracking_error(h, pd.Series(self._target, index=self.tickers))
            te_bm = (float("nan") if self.benchmark is None else
                     self.benchmark_risk.tracking_error(h, self.benchmark.weights))
            got = self._te_before_kept = (te, te_bm)
        return got

    def _sold_lock_words(self, trades: pd.DataFrame) -> str:
        """That a recent purchase sold today still locks its stock's loss sales, if any is.

        The ledger counts shares *bought* in the 30 days before a loss sale, whether or not
        still held (docs/tax_rules.md): an account selling today a stock it bought in the
        last 30 days does not free the other accounts' loss sales of it.
        """
        locked = set(self.locks.group[self.locks.lock == "no_loss_sale"])
        if not locked:
            return ""
        # the accounts' recent purchases by group: the ledger's, kept while it is unchanged
        token = self.ledger.state_token()
        kept = getattr(self, "_recent_kept", None)
        if kept is None or kept[0] != token:
            lo = self.as_of - dt.timedelta(days=30)
            kept = self._recent_kept = (token, {
                (lt.account, self.groups.get(lt.ticker, lt.ticker))
                for lt in self.ledger.lots()
                if lo <= lt.acquired <= self.as_of and not lt.used_as_replacement})
        recent = kept[1]
        sold: dict[str, list[str]] = {}
        for acc, tick, side in zip(trades.account.tolist(), trades.ticker.tolist(),
                                   trades.side.tolist(), strict=True):
            if side != "sell":
                continue
            g = self.groups.get(tick, tick)
            if g in locked and (acc, g) in recent and tick not in sold.get(acc, []):
                sold.setdefault(str(acc), []).append(str(tick))
        if not sold:
            return ""
        who = _and([f"the {self._name(a)}'s sales of {_and(sorted(ts))} today"
                    for a, ts in sold.items()])
        return (" (a purchase keeps its lock once its shares are sold: the law counts "
                "shares bought in the 30 days before a loss sale, not shares still held, "
                f"so {who} do not free a loss sale of "
                + ("it" if sum(len(ts) for ts in sold.values()) == 1 else "them")
                + "; IRS Rev. Rul. 2008-5 for a retirement account's purchase)")

    def _replay_words(self) -> str:
        """What the ledger replay of every account's trades found, in the client's words.

        The household's own trades never wash a loss (:meth:`_ledger_check` raises); the
        fixed account's plan may: each such sale with the loss disallowed and where it went
        (the basis of the replacement shares; none for a retirement account's purchase, lost
        for good), whether the plan's trade list marks it in its ``Wash Sale`` column, and
        the sales that list marks but the replay does not find washed.
        """
        own = getattr(self, "_own_wash", None)
        own = own if own is not None else pd.DataFrame(columns=["sale_lot_id"])
        f = self.fixed
        fa = f.account_id if f is not None else ""
        ls, bs = (f.lot_sales, f.buys) if f is not None else (pd.DataFrame(), pd.DataFrame())
        # the trade list's flagged sales (ticker, lot id) and purchases, from lists
        flagged_sales = ([(t, lot) for t, lot, w in zip(
            ls.ticker.tolist(), ls.lot_id.tolist(), ls.wash_sale.astype(bool).tolist(),
            strict=True) if w] if "wash_sale" in ls and len(ls) else [])
        flagged_buys = ({t for t, w in zip(bs.ticker.tolist(),
                                           bs.wash_sale.astype(bool).tolist(), strict=True)
                         if w} if "wash_sale" in bs and len(bs) else set())
        washed = set(own.sale_lot_id.tolist()) if len(own) else set()
        unfound = [f"{t} lot {lot}" for t, lot in flagged_sales if lot not in washed]
        head = ("the rounded trades of every account were replayed through the household "
                "ledger")
        also = ("" if not unfound else
                f" The plan's trade list marks {_and(unfound)} as "
                + ("wash sales" if len(unfound) > 1 else "a wash sale")
                + ", which the replay of every account's trades does not find: no share "
                "bought in any account within 30 days of the sale is left to replace the "
                "shares sold (each replaces one loss share only, Reg. §1.1091-1(e)).")
        if not len(own):
            return f"{head} and it found no wash sale." + also
        src = (f.source if f is not None and f.source else "the plan's trades")
        total = float(own.disallowed.astype(float).sum())
        # one part per sale and replacement lot (the ledger may match a lot's shares still
        # held and those it sold today apart: both replace, §1091(a) "has acquired")
        keys = ["sale_ticker", "sale_lot_id", "replacement_account", "replacement_ticker",
                "replacement_lot_id", "replacement_date", "permanent"]
        own = (own.assign(replacement_lot_id=own.replacement_lot_id.astype(str)
                          .str.split("/w").str[0], permanent=own.permanent.astype(bool))
               .groupby(keys, sort=False, as_index=False)
               .agg(shares=("shares", "sum"), disallowed=("disallowed", "sum")))
        parts, unmarked = [], []
        for r in own.itertuples():
            today = r.replacement_date == self.as_of and r.replacement_account == fa
            where = (f"the {fmt_shares(r.shares)} {r.replacement_ticker} shares bought today"
                     if today else
                     f"{fmt_shares(r.shares)} shares of the "
                     f"{self._name(r.replacement_account)}'s "
                     f"{r.replacement_ticker} lot {str(r.replacement_lot_id).split('/w')[0]} "
                     f"bought on {r.replacement_date}")
            if not (r.sale_lot_id in {lot for _, lot in flagged_sales}
                    or (today and r.replacement_ticker in flagged_buys)):
                unmarked.append(f"{r.sale_ticker} lot {r.sale_lot_id}")
            loss = f"{r.sale_ticker} lot {r.sale_lot_id}: {fmt_usd(float(r.disallowed))}"
            parts.append(
                f"{loss} of its loss disallowed for good, replaced by {where} in a retirement "
                "account (no basis increase; IRS Rev. Rul. 2008-5)" if bool(r.permanent) else
                f"{loss} of its loss disallowed and added to the cost basis of {where}")
        n = own.sale_lot_id.nunique()
        marks = (f"Its trade list marks {'each' if n > 1 else 'it'} in the Wash Sale column"
                 if not unmarked else
                 "Its trade list does not mark " + _and(unmarked))
        return (f"{head}: it found {n} wash sale{'s' if n > 1 else ''}, all in the "
                f"{self._name(fa)}'s own trades, {src}, with {fmt_usd(total)} of loss "
                "disallowed in all: " + "; ".join(parts) + f". {marks}; the realised gains "
                "and the tax this year above count the disallowed loss, and no other "
                "account's trade washes a loss." + also)

    def _name(self, account_id: object) -> str:
        """An account in the client's words, never its bare id.

        The profile's ``name`` (``Family trust``) or ``taxable account``, ``Traditional
        IRA``, ``Roth IRA``, with its ``number``; two unnamed of a kind numbered
        (:func:`pma_lab.report.labels.account_names`).
        """
        names = getattr(self, "_names_kept", None)
        if names is None:  # the accounts are the problem's: named once
            ids = [str(a.account_id) for a in self.accounts]
            names = self._names_kept = dict(zip(
                ids, labels.account_names(self._named_kinds(), noun=True), strict=True))
        return names.get(str(account_id), str(account_id))

    def _named_kinds(self) -> tuple[tuple[str, str, str, str], ...]:
        """``(account id, the kind it is named by, name, number)`` of each account.

        See :attr:`HouseholdAccount.named_kind`, :func:`pma_lab.accounts.account_names`.
        """
        return tuple((str(a.account_id), a.named_kind or str(a.kind), a.name, a.number)
                     for a in self.accounts)

    def _unstated_notes(self) -> list[str]:
        """That an IRA whose kind the profile does not state is treated as traditional."""
        unstated = [self._name(a.account_id) for a in self.accounts
                    if a.named_kind == "ira" and a.kind is AccountKind.TRADITIONAL]
        if not unstated:
            return []
        one = len(unstated) == 1
        # the client's words; the profile key is the service team's, on the command line
        # (pma_lab.accounts.unstated_ira_note)
        return [f"We treated your {_and(unstated)} as "
                f"{'a traditional IRA' if one else 'traditional IRAs'} (withdrawals taxed as "
                "ordinary income) in the asset location: we have not recorded which kind "
                f"{'it is' if one else 'they are'}. Please tell your adviser if "
                f"{'it is a Roth IRA' if one else 'any of them is a Roth IRA'}."]

    def _fixed_notes(self) -> list[str]:
        """What the fixed account's trades are and what they forbid the others."""
        f = self.fixed
        if f is None:
            return []
        src = f.source or "trades decided before the household rebalance"
        out = [f"The {self._name(f.account_id)}'s trades are {src}, kept as they are "
               f"({_count(len(f.lot_sales), 'lot')} sold, "
               f"{_count(len(f.buys), 'purchase')}"
               + (f", {_count(len(f.gifts), 'lot')} given to charity" if len(f.gifts)
                  else "")
               + "); the household rebalance trades the other accounts around them, towards "
               "the household's target and asset location."]
        names = sorted({t for ts in self._fixed_loss_groups.values() for t in ts})
        # the other symbols of each group are not bought either (a share class the wash-sale
        # rules treat as the same security: GOOG for GOOGL; reviewer 1, session 22)
        also = sorted({t for t in self.tickers if self.groups[t] in self._fixed_loss_groups}
                      - set(names))
        if names:
            out.append(f"No other account buys {', '.join(names[:10])}"
                       + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                       + (f" (nor {', '.join(also)}, the same security for the wash-sale "
                          "rules)" if also else "")
                       + f": the {self._name(f.account_id)} sells "
                       f"{'it' if len(names) == 1 else 'them'}"
                       " at a loss today, and a purchase in a retirement account within 30 "
                       "days would disallow that loss for good (a wash sale; IRS Rev. Rul. "
                       "2008-5).")
        return out

    def _opposite_notes(self, trades: pd.DataFrame, lot_sales: pd.DataFrame,
                        holdings: pd.DataFrame, loc: np.ndarray, H0: np.ndarray,
                        H: np.ndarray) -> list[str]:
        """Names bought in one account and sold in another, and why, in the client's words.

        Session 18 (reviewer): such a pair reads as waste. Since session 19 a plan's first
        step is solved again without the names of such pairs
        (:func:`pma_lab.plan.household.without_pairs`), so around it a pair is left only
        where leaving its name out of the step would make the household worse (the
        roth-household sample's JNJ). Around the plan's first step
        (:class:`FixedTrades`) the plan trades its account towards the target on its own
        and the other accounts are optimised around it (household tracking error, asset
        location, the spread), so they may trade a name the other way (without the fixed
        account, every account optimised, the sample households make no such pair but one
        asset-location move); otherwise the pair moves the name to the account where it
        costs less tax a year (asset location). Each name gives the household's weight
        after against the target, or the location cost saved; the note adds what the pairs
        cost (the spread on both sides) and that none sells at a loss in a taxable account
        while another account buys it (a wash sale: the household's constraints forbid it;
        checked here on the trades).
        """
        sides, tickers = trades.side.tolist(), trades.ticker.tolist()
        bought_n = Counter(t for t, s in zip(tickers, sides, strict=True) if s == "buy")
        sold_n = Counter(t for t, s in zip(tickers, sides, strict=True) if s == "sell")
        both = sorted(set(bought_n) & set(sold_n))
        if not both:
            return []
        accounts, values = trades.account.tolist(), trades.value.tolist()
        if any(bought_n[t] > 1 or sold_n[t] > 1 for t in both):
            # a name bought (or sold) in several accounts: summed as pandas sums a group
            buy_sum = trades[trades.side == "buy"].groupby("ticker").value.sum()
            sell_sum = trades[trades.side == "sell"].groupby("ticker").value.sum()
            buys = {t: float(buy_sum[t]) for t in both}
            sells = {t: float(sell_sum[t]) for t in both}
        else:  # one order a side: its value is the sum
            buys = {t: v for t, s, v in zip(tickers, sides, values, strict=True)
                    if s == "buy" and t in sold_n}
            sells = {t: v for t, s, v in zip(tickers, sides, values, strict=True)
                     if s == "sell" and t in bought_n}
        fixed = None if self.fixed is None else self.fixed.account_id
        col = self._risk_index()
        # each name's orders in the trades' order, purchases first
        orders: dict[str, list[tuple[str, str, float]]] = {t: [] for t in both}
        for acc, tick, side, value in zip(accounts, tickers, sides, values, strict=True):
            if tick in orders:
                orders[tick].append((side, acc, value))
        after_of = target_of = None
        items, spread = [], 0.0
        for name in both:
            rows = sorted(orders[name], key=lambda r: r[0])  # stable: buy before sell
            legs = ", ".join(
                f"{'bought' if side == 'buy' else 'sold'} {fmt_usd(value)} in the "
                f"{self._name(acc)}" for side, acc, value in rows)
            spread += 2 * self.settings.spread * min(float(buys[name]), float(sells[name]))
            if fixed is not None and fixed in {acc for _, acc, _ in rows}:
                if after_of is None:  # the holdings' columns, read once
                    index = holdings.index.tolist()
                    after_of = dict(zip(index, holdings.household.tolist(), strict=True))
                    target_of = dict(zip(index, holdings.target.tolist(), strict=True))
                after = float(after_of.get(name, 0.0))
                target = float(target_of.get(name, 0.0))  # type: ignore[union-attr]
                why = (f"the household holds {fmt_pct(after, 2)} of it after the trades, "
                       f"target {fmt_pct(target, 2)}")
            else:
                i = col[name]
                saved = -float((loc[:, i] * (H[:, i] - H0[:, i])).sum()) * self.value
                why = (f"asset location: it moves to the account where it costs less tax, "
                       f"{fmt_usd(saved)} a year less")
            items.append(f"{name} ({legs}: {why})")
        taxable = {a.account_id for a in self.accounts if a.kind is AccountKind.TAXABLE}
        group = self.ledger.identity.group
        groups = {group(t) for t in both}
        washed = [t for acc, t, g in zip(lot_sales.account.tolist(), lot_sales.ticker.tolist(),
                                         lot_sales.gain.tolist(), strict=True)
                  if acc in taxable and g < 0 and group(t) in groups]
        head = ("Bought in one account and sold in another: " + "; ".join(items[:10])
                + (f"; and {len(items) - 10} more" if len(items) > 10 else "") + ". ")
        if fixed is not None:
            head += (f"The {self._name(fixed)}'s trades are your plan's first step, which "
                     "moves that account towards the target on its own; the other accounts "
                     "trade around them towards the household's target and asset location "
                     "(where each name costs the least tax a year), so a name that step buys "
                     "may be sold elsewhere, and the other way round (a retirement account's "
                     "sale is not taxed). ")
        head += (f"These pairs cost about {fmt_usd(spread)} of trading spread in all"
                 + ("" if len(washed) else
                    ", and none of them sells at a loss in a taxable account while another "
                    "account buys it (a wash sale, which a retirement account's purchase "
                    "would make permanent)") + ".")
        return [head]

    def _cash_notes(self, cash_after: Sequence[float]) -> list[str]:
        """The accounts' minimum cash (the profile's ``min_cash``), in the client's words."""
        kept = [(k, a, c) for k, (a, c) in enumerate(zip(self.accounts, cash_after,
                                                          strict=True)) if a.min_cash > 0]
        if not kept:
            return []
        each = "; ".join(f"{self._name(a.account_id)} at least {fmt_usd(a.min_cash)} "
                         f"({fmt_usd(c)} after "
                         + ("its plan's trades, which keep it" if k == self._fixed_k else
                            "these trades") + ")" for k, a, c in kept)
        # from the trades' result (whole shares leave a little more than the floors)
        left = float(sum(cash_after))
        invested = 1.0 - left / self.value
        return [f"Minimum cash kept in each account after the trades (as your profile "
                f"sets): {each}. The household target is held with the rest: after the "
                f"trades {fmt_pct(invested, 1)} of the household's value is invested "
                f"({fmt_usd(left)} in cash across the accounts); each account pays for "
                "its purchases from its own sales and cash."]

    def _restriction_notes(self) -> list[str]:
        """What the restrictions and the minimum trade did, in the client's words."""
        out = []
        if self.funds:
            out.append(f"Funds held ({', '.join(self.funds)}) count as the stocks they hold "
                       "(an S&P 500 fund: the benchmark's stocks; a sector fund: the "
                       "benchmark's stocks of its sector), as in the single-account "
                       "rebalance; they may "
                       "be sold, never bought.")
        if self.sell_share:
            fixed = (None if self.fixed is None or self._fixed_k < 0
                     else self._name(self.fixed.account_id))
            # names only the plan's own account holds are its plan's to sell (reviewer 2,
            # session 22: "sold in every account but the Joint brokerage" read as if no
            # account sold them, when only that account held them)
            others = set(self.lots.ticker[(self.lots.k != self._fixed_k).to_numpy()]) \
                if fixed is not None else set(self.sell_share)
            mine = sorted(set(self.sell_share) - others)
            # the restricted names the plan's own account holds: none, and it is not named
            # (reviewer 2, session 24: "in every account but the taxable account 1 that
            # holds them ... its sales of them", when it held and sold none of them)
            own = set(self.lots.ticker[(self.lots.k == self._fixed_k).to_numpy()]) \
                & set(self.sell_share) if fixed is not None else set()
            if fixed is not None and not own:
                fixed = None
            # a glide's names sold in full around "Move now" (glide_now) are named apart,
            # in the words the single account's restrictions use (HeldAction.describe)
            now = sorted(t for t, f in self.sell_share.items()
                         if f >= 1 and self._own_share[t] < 1 and t in others)
            every = sorted(t for t, f in self.sell_share.items()
                           if f >= 1 and t in others and t not in now)
            glide = sorted(t for t, f in self.sell_share.items() if f < 1 and t in others)
            parts = []
            # the plan's own account is not traded here (its trades are the plan's first
            # step, in the trade list): the forced sales below are the other accounts'
            scope = "every account" if fixed is None else f"every account but the {fixed}"
            if every:
                parts.append(f"{', '.join(every)} sold in full in {scope} that holds them")
            if now:
                parts.append(f"{', '.join(now)} sold in full in {scope} that holds "
                             f"{'it' if len(now) == 1 else 'them'} (a sell-within glide, in "
                             "full today with \u201cMove now\u201d)")
            if glide:
                each = ("each account's shares" if fixed is None else
                        f"each account's shares but the {fixed}'s")
                parts.append(", ".join(f"{t} at least {fmt_pct(self.sell_share[t], 0)} of "
                                       f"{each}" for t in glide)
                             + " (the first year of its sell-within glide)")
            # reviewer 1 (session 22): every lot the fixed account's plan traded read "kept
            # for now, as selling at a loss would be a wash sale", gains and sales included
            kept = self.lots[self._forced_lot & self._locked_loss_lots]
            names = [f"{r.ticker} lot {r.lot_id} in the {self._name(r.account)}"
                     for r in kept.itertuples()]
            held = ("; kept for now, as selling them at a loss would be a wash sale: "
                    + ", ".join(names) if names else "")
            plan = ("" if fixed is None else
                    f" The {fixed}'s sales of "
                    + (", ".join(mine) if mine and not parts else "them")
                    + " are its plan's first step (in the trade list).")
            if not parts:
                out.append(f"Restrictions: {', '.join(mine)}, held in the {fixed} alone, "
                           f"{'is' if len(mine) == 1 else 'are'} not bought in any account"
                           + held + "." + plan)
            else:
                out.append("Restrictions: " + "; ".join(parts) + "; none of them is bought "
                           "in any account" + held + "." + plan)
        per_account = [f"{self._name(a.account_id)}: {', '.join(sorted(a.no_buy))}"
                       for a in self.accounts if a.no_buy]
        if per_account:
            out.append("Not bought in one account only (the account's own restrictions): "
                       + "; ".join(per_account) + ".")
        s, y = self.settings, self.as_of.year
        for r, (val, words) in enumerate(((s.gain_budget, "Gains budget"),
                                          (s.gain_budget_st, "Short-term gains budget"),
                                          (s.gain_budget_lt, "Long-term gains budget"))):
            if val is None:
                continue
            line = (f"{words} {fmt_usd(val)} for {y}, less the net gain realised "
                    f"earlier in {y} ({fmt_usd(self.ytd[r])}): "
                    f"{fmt_usd(val - self.ytd[r])} left for these trades")
            if self._one_return and self.fixed is not None:  # another taxable account
                left = max(val - self.ytd[r] - self.fixed_gain[r],
                           min(0.0, val - self.ytd[r]))
                line = (f"{words} {fmt_usd(val)} for {y}, less the net gain realised "
                        f"earlier in {y} ({fmt_usd(self.ytd[r])}) and by the trades of the "
                        f"{self._name(self.fixed.account_id)} today "
                        f"({fmt_usd(self.fixed_gain[r])}; one tax return): {fmt_usd(left)} "
                        "left for the other taxable accounts' trades")
            if self.budget_raise[r] > 0:
                line += (f", raised by {fmt_usd(self.budget_raise[r])} to the gain the "
                         "restrictions' sales realise (they are sold whatever the tax)")
            out.append(line + ".")
        mt = self.settings.min_trade_usd
        if mt > 0:
            dropped = getattr(self, "_small_orders", 0)
            out.append(f"No order under {fmt_usd(mt)} (sales that close a holding or that a "
                       "restriction forces are exempt)"
                       + (f"; {dropped} smaller order{' was' if dropped == 1 else 's were'} "
                          "left out." if dropped else "."))
        return out

    def _ledger_check(self, lot_sales: pd.DataFrame, trades: pd.DataFrame
                      ) -> tuple[Mapping[str, dict[str, float]], dict[str, float]]:
        """Replay the trades through a fork of the ledger: realised gains, no wash sale.

        Returns the realised gains by account (``st``, ``lt``) and the year's figures:
        ``tax`` (the trades' Schedule D tax for the as-of year, every taxable account on
        one return, after minus before) and the carryforward they create by character.

        The fixed account's gifts (:class:`FixedTrades`) are replayed first, as their plan
        makes them. A wash sale of the fixed account's own sales (washed by its own purchase
        or by a lot held before today) is that plan's: not an error here, it is kept in
        ``self._own_wash`` (the ledger's match rows) for the notes to state.

        Raises
        ------
        OptimizationError
            If the ledger matches a loss of these trades as a wash sale across accounts (or
            within an account the household traded), naming each sale and purchase.
        """
        gifts = np.nonzero(self._fixed_gift_q > 0)[0].tolist()
        t_account, t_ticker, t_side, t_shares, t_price = (
            trades[c].tolist() for c in ("account", "ticker", "side", "shares", "price"))
        tickers = set(t_ticker) | {self._lot_ticker[j] for j in gifts}
        led = self.ledger.fork(tickers) if tickers else self.ledger.fork(set())
        n0, m0, held_before = self._ledger_before()
        exact = self._exact_shares
        for j in gifts:
            acc, lot, tick = self._lot_account[j], self._lot_id[j], self._lot_ticker[j]
            q = (exact[(acc, lot)] if self._fixed_gift_q[j] >= self._lot_shares[j]
                 else Decimal(repr(float(self._fixed_gift_q[j]))))
            led.donate(self.as_of, acc, tick, q, Decimal(repr(float(self._price_of(tick)))),
                       method=LotRelief.SPECIFIC, lot_id=lot)
        for acc, lot, tick, shares, whole in zip(
                lot_sales.account.tolist(), lot_sales.lot_id.tolist(),
                lot_sales.ticker.tolist(), lot_sales.shares.tolist(),
                lot_sales.full_lot.tolist(), strict=True):
            q = exact[(acc, lot)] if whole else Decimal(repr(float(shares)))
            led.sell(self.as_of, acc, tick, q, Decimal(repr(float(self._price_of(tick)))),
                     method=LotRelief.SPECIFIC, lot_id=lot)
        for acc, tick, side, shares, price in zip(t_account, t_ticker, t_side, t_shares,
                                                  t_price, strict=True):
            if side == "buy":
                led.buy(self.as_of, acc, tick, Decimal(repr(float(shares))),
                        Decimal(repr(float(price))))
        led.settle()
        # no new match (most solves): the ledger's table of none, kept; else the fork's
        new_matches = (self._no_matches() if led.position()[1] == m0
                       else led.wash_sale_matches().iloc[m0:])
        own = new_matches.iloc[:0]
        if self.fixed is not None and len(new_matches):
            # the plan's own: a sale of the fixed account washed by its own purchase or by a
            # lot held before today (its plan sold a locked loss); flagged in its trade list
            fa = self.fixed.account_id
            mine = (new_matches.sale_account == fa) & (
                (new_matches.replacement_account == fa)
                | pd.Series([(a, str(lid).split("/w")[0]) in held_before for a, lid in zip(
                    new_matches.replacement_account, new_matches.replacement_lot_id,
                    strict=True)], index=new_matches.index, dtype=bool))
            own, new_matches = new_matches[mine], new_matches[~mine]
        self._own_wash = own.reset_index(drop=True)
        if len(new_matches):
            pairs = sorted({f"{m.sale_account} sells {m.sale_ticker} lot {m.sale_lot_id} at a "
                            f"loss and {m.replacement_account} buys {m.replacement_ticker}"
                            for m in new_matches.itertuples()})
            raise OptimizationError(
                f"the household trades would wash {len(pairs)} loss sale(s): "
                + "; ".join(pairs[:10]) + (f" and {len(pairs) - 10} more" if len(pairs) > 10
                                           else "")
                + ". A retirement account's purchase would disallow the taxable loss for "
                "good (Rev. Rul. 2008-5); this is a bug in the wash-sale constraints, please "
                "report it")
        disp = led.dispositions(as_decimal=True)  # taxable accounts only: IRAs realise none
        new = disp.iloc[n0:]
        self._new_disp = new.reset_index(drop=True)
        gain, term = disp.gain_loss.tolist(), disp.term.tolist()
        # each account's new gains by term, summed in the order of sale (from Decimal(0))
        sums: dict[str, dict[str, Decimal]] = {}
        for acc, g, t in zip(new.account.tolist(), gain[n0:], term[n0:], strict=True):
            by_term = sums.setdefault(str(acc), {"ST": Decimal(0), "LT": Decimal(0)})
            if t in by_term:
                by_term[t] += g
        out = {acc: {"st": float(v["ST"]), "lt": float(v["LT"])}
               for acc, v in sorted(sums.items())}
        y = self.as_of.year
        in_year = np.array([d.year == y for d in disp.date_sold.tolist()], dtype=bool)
        carry = (Decimal(repr(self.carryin[0])), Decimal(repr(self.carryin[1])))
        both = yearly_netting(disp.loc[in_year], self.tax, *carry, years=[y])
        # the netting without these trades reads the year's earlier rows only (their gain
        # and term): the same rows, the same netting, kept
        rows = tuple((g, t) for g, t, iy in zip(gain[:n0], term[:n0], in_year[:n0].tolist(),
                                                strict=True) if iy)
        kept = getattr(self, "_netting_before_kept", None)
        if kept is None or kept[0] != rows:
            b = yearly_netting(disp.iloc[:n0].loc[in_year[:n0]], self.tax, *carry,
                               years=[y])
            kept = self._netting_before_kept = (
                rows, (b.tax.iloc[0], b.carryout_st.iloc[0], b.carryout_lt.iloc[0]))
        tax_before, st_before, lt_before = kept[1]
        year = {"tax": float(both.tax.iloc[0] - tax_before),
                "carryforward_st": float(both.carryout_st.iloc[0] - st_before),
                "carryforward_lt": float(both.carryout_lt.iloc[0] - lt_before),
                "carryforward_before": float(st_before + lt_before),
                "carryforward_st_before": float(st_before),
                "carryforward_lt_before": float(lt_before)}
        return out, year


def _trades_table(rows: list[tuple[str, str, str, float, float]], ids: Sequence[str],
                  kinds: Sequence[str], taxed: Sequence[str]) -> pd.DataFrame:
    """The household's orders (:attr:`HouseholdResult.trades`) from their rows.

    ``rows``: ``(account, ticker, side, shares, price)``, sorted here by account, sales
    first, then ticker, as ``sort_values(["account", "side", "ticker"], ascending=[True,
    False, True])`` sorts them (one order per account, side and ticker: no tie); ``kind``
    and ``taxed_as`` by account and ``value = shares x price``. Built from lists: no
    frame is sorted.
    """
    if not rows:  # pandas' dtypes of an empty table (object columns), as before
        t = pd.DataFrame(rows, columns=["account", "ticker", "side", "shares", "price"])
        t.insert(1, "kind", t.account.map(dict(zip(ids, kinds, strict=True))))
        t.insert(2, "taxed_as", t.account.map(dict(zip(ids, taxed, strict=True))))
        t["value"] = t.shares * t.price
        return t.reset_index(drop=True)
    rows = sorted(rows, key=lambda r: (r[0], r[2] != "sell", r[1]))
    kind, tax = dict(zip(ids, kinds, strict=True)), dict(zip(ids, taxed, strict=True))
    acc, tick, side, shares, price = (list(c) for c in zip(*rows, strict=True))
    q, p = np.array(shares, dtype=float), np.array(price, dtype=float)
    return pd.DataFrame({"account": acc, "kind": [kind[a] for a in acc],
                         "taxed_as": [tax[a] for a in acc], "ticker": tick, "side": side,
                         "shares": q, "price": p, "value": q * p})


def _positive_group_sums(keys: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """The sum of the positive ``values`` per key, as pandas sums them, to the bit.

    ``s[s > 0].groupby(level=0).sum().to_dict()`` of ``s = pd.Series(values,
    index=keys)`` (``keys``: an object array), without the Series of every entry: the
    household's loss sales and purchases per wash-sale group at every solve are a handful
    of entries out of hundreds. A key with one positive entry sums to it (any summation
    from zero does); a key with more goes to the same pandas groupby over the same entries
    in the same order (pandas picks its summation, compensated or not, by the keys'
    order). Keys in sorted order, as the groupby's.
    """
    pos = np.nonzero(values > 0)[0]
    if not len(pos):
        return {}
    ks = keys[pos]
    if len(set(ks.tolist())) < len(pos):  # a key sums several entries: pandas sums them
        return pd.Series(values[pos], index=ks).groupby(level=0).sum().to_dict()
    return dict(sorted(zip(ks.tolist(), values[pos].tolist(), strict=True)))


def _and(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def _count(n: int, noun: str) -> str:
    """``1 lot``, ``3 lots``: a count with its noun in the singular or the plural."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


_YIELDS_KEPT: OrderedDict[tuple, tuple[object, DividendYield]] = OrderedDict()
_YIELDS_SIZE = 4
_YIELDS_LOCK = threading.Lock()


def _dividend_yields(setup: object) -> DividendYield:
    """The trailing dividend yields of ``setup``'s stocks on its date, kept for its market.

    :func:`pma_lab.market.corpactions.trailing_dividend_yield` of the risk model's
    tickers; a plan's first step solves the household several times on the same set-up
    (:func:`pma_lab.plan.household.without_pairs`), each reading the same yields. Kept for
    the last few (market, tickers, date), the market by identity.
    """
    market = setup.market  # type: ignore[attr-defined]
    tickers = tuple(setup.risk.tickers)  # type: ignore[attr-defined]
    key = (id(market), tickers, setup.as_of)  # type: ignore[attr-defined]
    with _YIELDS_LOCK:  # the dashboard's threads
        got = _YIELDS_KEPT.get(key)
        if got is not None and got[0] is market:
            _YIELDS_KEPT.move_to_end(key)
            return got[1]
    dy = trailing_dividend_yield(market, list(tickers), setup.as_of)  # type: ignore
    with _YIELDS_LOCK:
        _YIELDS_KEPT[key] = (market, dy)
        while len(_YIELDS_KEPT) > _YIELDS_SIZE:
            _YIELDS_KEPT.popitem(last=False)
    return dy


def _profile_settings(prof: object) -> HouseholdSettings:
    """The household's settings from the profile: its ``[budgets]`` and ``[trading]``."""
    b, t = prof.budgets, prof.trading  # type: ignore[attr-defined]
    return HouseholdSettings(gain_budget=b.total, gain_budget_st=b.short_term,
                             gain_budget_lt=b.long_term, whole_shares=not t.fractional_shares,
                             min_trade_usd=t.min_trade_usd)


def _model_names(setup: object, fixed: FixedTrades | None,
                 base: tuple[frozenset[str], frozenset[str]] | None = None
                 ) -> tuple[tuple[str, ...], frozenset[str]]:
    """The household problem's stocks (the risk model's order) and the look-through names.

    The target's names, every stock held and those ``fixed`` buys; with a fund held, the
    benchmark's names too (an S&P 500 tracker holds all of it: its names stay in the model,
    none of them bought for being there, the second item). ``base``: what does not
    depend on ``fixed`` (:func:`_model_base`), when kept.
    """
    keep, through_names = base if base is not None else _model_base(setup)
    if fixed is not None:
        keep = keep | set(fixed.buys.ticker.tolist())
    through = through_names - keep
    keep = keep | through
    tickers = setup.risk.tickers  # type: ignore[attr-defined]
    return tuple(t for t in tickers if t in keep), frozenset(through)


def _model_base(setup: object) -> tuple[frozenset[str], frozenset[str]]:
    """The target's names and every stock held; the benchmark's names when a fund is held.

    What :func:`_model_names` starts from, whatever the fixed trades: the second item is
    empty without a fund (a holding the risk model does not cover).
    """
    held = {lt.ticker for lt in setup.ledger.lots()}  # type: ignore[attr-defined]
    tw = setup.target.weights  # type: ignore[attr-defined]
    bw = setup.benchmark.weights  # type: ignore[attr-defined]
    tickers = setup.risk.tickers  # type: ignore[attr-defined]
    through = set(bw.index[bw > 0]) if held - set(tickers) else set()
    return frozenset(set(tw.index) | held), frozenset(through)


class _Kept:
    """One client's household problems and results (:func:`solve_for_client`)."""

    def __init__(self, setup: object) -> None:
        self.setup = weakref.ref(setup)
        self.ledger = setup.ledger  # type: ignore[attr-defined]
        self.token = self.ledger.state_token()
        self.problems: dict[tuple, HouseholdProblem] = {}
        self.results: OrderedDict[tuple, HouseholdResult] = OrderedDict()
        self.lock = threading.Lock()
        self.base = _model_base(setup)  # the names every problem of the client starts from


_KEPT: OrderedDict[int, _Kept] = OrderedDict()
_KEPT_CLIENTS = 2
_KEPT_RESULTS = 32
_KEPT_LOCK = threading.Lock()


def _kept_for(setup: object) -> _Kept:
    """The kept problems and results of ``setup`` (new when its ledger has changed)."""
    with _KEPT_LOCK:
        got = _KEPT.get(id(setup))
        if (got is None or got.setup() is not setup
                or got.ledger is not setup.ledger  # type: ignore[attr-defined]
                or got.token != got.ledger.state_token()):
            got = _KEPT[id(setup)] = _Kept(setup)
        _KEPT.move_to_end(id(setup))
        while len(_KEPT) > _KEPT_CLIENTS:
            _KEPT.popitem(last=False)
        return got


def _frame_key(frame: pd.DataFrame) -> tuple:
    """A table's columns and values as a dictionary key (floats by their exact repr).

    Column by column (each column's values as a list): equal keys, the same columns and
    the same values in the same places.
    """
    def cell(v: object) -> object:
        return repr(float(v)) if isinstance(v, float | np.floating) else v

    def column(c: pd.Series) -> tuple:
        if c.dtype.kind == "f":  # Python floats: each by its repr
            return tuple(map(repr, c.tolist()))
        return tuple(cell(v) for v in c.tolist())

    return (tuple(frame.columns),
            tuple(column(frame.iloc[:, j]) for j in range(frame.shape[1])))


def _fixed_key(fixed: FixedTrades | None) -> tuple | None:
    """Every field of ``fixed`` as a dictionary key (``None`` without fixed trades)."""
    if fixed is None:
        return None
    return (fixed.account_id, fixed.source, repr(float(fixed.cash_after)),
            _frame_key(fixed.lot_sales), _frame_key(fixed.buys), _frame_key(fixed.gifts))


def solve_for_client(setup: object, settings: HouseholdSettings | None = None,
                     fixed: FixedTrades | None = None,
                     additions: Additions | None = None) -> HouseholdResult:
    """The household rebalance of a prepared client, solved, one problem built per client.

    ``household_for_client(setup, settings, fixed=fixed).solve()``'s result.
    A plan's first step solves the household several times on the same client, around
    different trades (:func:`pma_lab.plan.household.without_pairs`, every plan compared):
    the problem is built and compiled once per client (and set of stocks: the target's,
    those held, those ``fixed`` buys) and solved again around other fixed trades through
    its Parameters (:meth:`HouseholdProblem.refix`), which answers as a new problem does,
    to the bit. The same fixed trades with the same settings are solved once: their
    result is kept and handed to every caller that asks again (plans whose first steps
    are the same trades; the proposal's household section after the plans). Kept for the
    last two clients (by identity) while their ledger is unchanged
    (:meth:`~pma_lab.tax.ledger.Ledger.state_token`); :attr:`HouseholdResult.seconds`
    is that of the solve that made it.

    ``additions`` (a researcher's terms and constraints,
    :attr:`pma_lab.optimize.rebalance.RebalanceProblem.additions`): a problem of its own
    is built, the additions added (:meth:`HouseholdProblem.add_objective_term`,
    :meth:`HouseholdProblem.add_constraint`) and solved; nothing is kept.

    Raises
    ------
    InfeasibleError, OptimizationError, DataError
        As :func:`household_for_client` and :meth:`HouseholdProblem.solve`.
    """
    s = settings or _profile_settings(setup.client.profile)  # type: ignore[attr-defined]
    if additions:
        prob = household_for_client(setup, s, fixed=fixed)
        additions.apply(prob, where="the household rebalance")
        return prob.solve()
    kept = _kept_for(setup)
    names = _model_names(setup, fixed, kept.base)
    key = (names, s, _fixed_key(fixed))
    with kept.lock:
        got = kept.results.get(key)
        if got is not None:
            kept.results.move_to_end(key)
            return got
        prob = kept.problems.get(names)
        try:
            if prob is None:
                prob = household_for_client(setup, s, fixed=fixed)
                kept.problems[names] = prob
            else:
                prob.refix(fixed, s)
            result = prob.solve()
        except Exception:
            kept.problems.pop(names, None)  # built again at the next call
            raise
        kept.results[key] = result
        while len(kept.results) > _KEPT_RESULTS:
            kept.results.popitem(last=False)
        return result


def household_for_client(setup: object, settings: HouseholdSettings | None = None,
                         location: LocationInputs | None = None,
                         fixed: FixedTrades | None = None) -> HouseholdProblem:
    """The household problem of a prepared client (:func:`pma_lab.optimize.engine.prepare`).

    Asset location uses each stock's trailing 12-month dividend yield at the client's date
    (:func:`pma_lab.market.corpactions.trailing_dividend_yield`, the yields of the
    proposal's dividend-yield characteristic) unless ``location`` is given.

    Every account of the profile (``ira_kind`` tells a Roth from a traditional IRA), the
    household ledger, the client's target (for two or more accounts its name count is
    sized on the household's total value, :func:`pma_lab.optimize.engine.prepare`; the
    result carries that as ``sizing``), the risk model restricted to the names held or
    targeted, the profile's total gain budget, and as household no-buys the names the
    screens exclude plus ``hold_no_add`` (per-account ``no_buy`` lists stay per account).
    Restricted names held are sold as ``[restrictions.held]`` says (``sell``: every share
    in every account; ``sell_within:N``: 1/N of each account's shares now, every share
    around "Move now", :attr:`HouseholdSettings.glide_now`), and the
    profile's ``[trading]`` sets whole or fractional shares and the minimum trade.

    With ``fixed`` (the plan's first step, :meth:`FixedTrades.from_rebalance`) that
    taxable account's trades are kept as they are and the other accounts are traded around
    them.
    """
    prof = setup.client.profile  # type: ignore[attr-defined]
    led = setup.ledger  # type: ignore[attr-defined]
    held = {lt.ticker for lt in led.lots()}
    tw = setup.target.weights  # type: ignore[attr-defined]
    names, through = _model_names(setup, fixed)
    risk = setup.risk.subset(list(names))  # type: ignore[attr-defined]
    elig = setup.eligibility  # type: ignore[attr-defined]
    no_buy = (set(prof.restrictions.no_buy) | set(prof.restrictions.hold_no_add)
              | (set(risk.tickers) - set(elig.buyable())) | through)
    s = settings or _profile_settings(prof)
    # restricted names held: a sell restriction sells every share now, a sell_within:N
    # glide its first year's 1/N (as the single-account rebalance of one year)
    table = elig.table.set_index("ticker")
    sell_share = {t: 1.0 for t in table.index[table.must_sell] if t in held}
    sell_share |= {t: min(1.0, 1.0 / float(n)) if n > 0 else 1.0
                   for t, n in table.sell_within_years.dropna().items() if t in held}
    # the keep list (hold_no_add, nothing stricter): never sold in any account, as the
    # single-account rebalance keeps it (reviewer 1, session 22: the sample household's
    # "one spouse's employer: keep, do not add" AAPL was sold in the IRA)
    from pma_lab.optimize.engine import keep_names

    keep = keep_names(setup) - set(sell_share)  # type: ignore[arg-type]
    if location is None:  # the proposal's dividend yields (its characteristics table)
        # the yields of every stock the risk model covers: a stock without dividend data
        # takes its sector's median (the peers need not be held or targeted)
        dy = _dividend_yields(setup)
        location = LocationInputs.from_dividends(dy, risk.tickers, prof.tax,
                                                 sectors=setup.sectors)  # type: ignore
    # the loss carried into the analysis year, as the single-account engine reads it
    day = setup.as_of  # type: ignore[attr-defined]
    carryin = prof.carryforward_into(day.year, f"the analysis date {day}")
    # a floor above its account's value, named with the profile file (the problem would
    # refuse it too, without the file)
    over = []
    for a in prof.accounts:
        floor = getattr(a, "min_cash", 0.0)
        if floor > 0:
            worth = a.cash + sum(float(lt.shares) * float(setup.prices[lt.ticker])  # type: ignore
                                 for lt in led.lots(account=a.account_id))
            if floor > worth + 0.005:
                over.append((a.account_id, floor, worth, a.cash))
    if over:
        raise min_cash_conflict("household rebalance", over, setup.as_of,  # type: ignore
                                getattr(prof, "path", None))
    return HouseholdProblem(led, household_accounts(prof), setup.as_of,  # type: ignore
                            setup.prices, risk, tw, prof.tax, s, location,  # type: ignore
                            sorted(no_buy), carryin, sell_share,
                            setup.benchmark, setup.risk,  # type: ignore[attr-defined]
                            setup.market.etf_info(), setup.sectors,  # type: ignore
                            sizing=getattr(setup, "sizing", None),
                            fixed=fixed, no_sell=sorted(keep))
