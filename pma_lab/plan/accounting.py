"""A simulated plan's tax accounting: every figure read back from the ledger's dispositions.

The first year's gains realised before the plan (:func:`_history`) net with the plan's, and
their own tax is left out (:func:`_tax_context`); each year's tax and charitable saving come
from :func:`pma_lab.tax.liability.yearly_netting` (:func:`_yearly`; the interest the
account's cash earns and a mixed portfolio's ladder interest, :func:`_interest`, are taxed
there too, beneath the year's gains, and the dividends the holdings pay, :func:`_dividends`,
on top of the interest and beneath the gains), and the liquidation
at the horizon (:func:`_liquidation`) gives the liquidation tax and the carryforward left.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from pma_lab.optimize.engine import ClientSetup
from pma_lab.plan.dividends import year_shares
from pma_lab.plan.montecarlo import (
    TaxContext,
    carry_left_value,
    cash_interest_income,
    dividend_income,
    tax_payment_date,
)
from pma_lab.tax.ledger import Ledger, LotRelief
from pma_lab.tax.liability import (
    DividendIncome,
    InterestIncome,
    charitable_deductions,
    netting_columns,
    yearly_netting,
)

__all__ = ["Revalued", "first_year_with_sales", "first_year_no_sale", "return_carryforward",
           "revalued_wealth"]


def _tax_context(setup: ClientSetup, years: Sequence[int],
                 interest: Mapping[int, InterestIncome] | None = None,
                 dividends: Mapping[int, DividendIncome] | None = None,
                 others: pd.DataFrame | None = None) -> TaxContext:
    """The first year's earlier gains, carry-ins and AGI every plan's netting shares.

    ``hist_tax`` is the tax the gains realised earlier in the first year cause on their own
    (the year's tax with them less without them, both on top of the year's interest and
    dividends), which every plan's first year leaves out. ``interest``: the interest
    income per year (a mixed portfolio's ladder; a year missing has none), taxed in every
    plan's years; ``dividends``: the dividends per year (the expected path's holdings', a
    year missing has none), on top of the interest. ``others``: a household's other
    taxable accounts' sales today (``PlanRun.others``), on the same return: counted with
    the year's earlier gains (:func:`_history`), in the budget and the netting alike.
    """
    prof = setup.client.profile
    # the loss carried into the plan's first year (the analysis date's), as the engine,
    # the household and the withdrawal rule read it (ClientProfile.carryforward_into)
    c_st, c_lt = prof.carryforward_into(int(years[0]), f"the analysis date {setup.as_of}")
    carry = (Decimal(str(c_st)), Decimal(str(c_lt)))
    hist = _history(setup, years[0], others)
    # the history's own tax: the first year's tax with it less without it (carry-ins are
    # used in both, so the plan keeps the carry-ins' offset)
    net = netting_columns(hist, prof.tax, *carry, years=[years[0]], interest=interest,
                          dividends=dividends)
    none = netting_columns(hist.iloc[:0], prof.tax, *carry, years=[years[0]],
                           interest=interest, dividends=dividends)
    st = sum((g for g, t in zip(hist.gain_loss, hist.term, strict=True) if t == "ST"),
             Decimal(0))
    lt = sum((g for g, t in zip(hist.gain_loss, hist.term, strict=True) if t == "LT"),
             Decimal(0))
    tax = prof.tax
    by_year = () if interest is None else tuple(interest.get(int(y), InterestIncome())
                                                for y in years)
    divs = () if dividends is None else tuple(dividends.get(int(y), DividendIncome())
                                              for y in years)
    own: tuple[Decimal | None, Decimal | None] = (None, None)
    if others is not None and len(others):
        # the year's earlier sales alone (without the other accounts' sales today): from
        # the second year on, the plan is measured from them (:func:`_baseline`)
        mine = _history(setup, years[0])
        own = tuple(sum((g for g, t in zip(mine.gain_loss, mine.term, strict=True)
                         if t == term), Decimal(0)) for term in ("ST", "LT"))
    return TaxContext(tax, tuple(int(y) for y in years), *carry, st, lt,
                      Decimal(net["tax"][0] - none["tax"][0]), Decimal(str(tax.agi or 0)),
                      by_year, divs, *own)


def _cash_interest(steps: pd.DataFrame) -> dict[int, float]:
    """The interest the account's cash earned, by calendar year (USD, >= 0).

    Each step's interest since the previous step (the steps' ``interest``) accrued day by
    day, so it is split between the calendar years of its days, pro rata by days
    (:func:`_by_year`); a negative balance's interest (a step that ends short of cash)
    is not a deduction, so it counts as 0. Summed in step order, as
    :func:`pma_lab.plan.montecarlo.revalue` sums each path's.
    """
    return _by_year(steps, [max(float(v), 0.0) for v in steps.interest])


def _by_year(steps: pd.DataFrame, amounts: Sequence[float]) -> dict[int, float]:
    """Each step's ``amounts`` (accrued since the previous step) summed by calendar year.

    A step's amount is split between the calendar years of the days from the previous
    step's date (exclusive) to its own (inclusive), pro rata by days
    (:func:`pma_lab.plan.dividends.year_shares`): the step of Jan 31 books 61 of its 92
    days in the year of the Oct 31 before it. The first step accrues nothing; every step's
    year has an entry (0 when nothing accrued).
    """
    out: dict[int, float] = {int(y): 0.0 for y in steps.year}
    dates = list(steps.date)
    for k in range(1, len(dates)):
        for y, f in year_shares(dates[k], dates[k - 1]):
            out[y] = out.get(y, 0.0) + float(amounts[k]) * f
    return out


def _interest(steps: pd.DataFrame, bonds: Mapping[int, InterestIncome] | None
              ) -> dict[int, InterestIncome]:
    """Each year's interest income: the cash's and the bond ladder's.

    The cash's is :func:`_cash_interest`, taxable interest
    (:data:`pma_lab.plan.montecarlo.CASH_INTEREST`); the ladder's is ``bonds``.
    """
    out = {y: cash_interest_income(v) for y, v in _cash_interest(steps).items()}
    for y, i in (bonds or {}).items():
        out[y] = out[y] + i if y in out else i
    return out


def _dividends(steps: pd.DataFrame) -> dict[int, DividendIncome]:
    """The dividends the holdings paid, by calendar year (qualified and REIT, to the cent).

    Each step's dividends since the previous step (the steps' ``dividends_qualified`` and
    ``dividends_reit``, :mod:`pma_lab.plan.dividends`) accrued day by day, so they are
    split between the calendar years of their days, pro rata by days (:func:`_by_year`);
    summed in step order and rounded to the cent, as
    :func:`pma_lab.plan.montecarlo.revalue` sums and rounds each path's.
    """
    q = _by_year(steps, list(steps.dividends_qualified))
    r = _by_year(steps, list(steps.dividends_reit))
    return {y: dividend_income(q[y], r[y]) for y in q}


def _history(setup: ClientSetup, year: int, others: pd.DataFrame | None = None
             ) -> pd.DataFrame:
    """Gains realised in ``year`` outside the plan's own trades, on the same return.

    The recent-trades history (sold earlier in the year, every taxable account) and
    ``others``: a household's other taxable accounts' sales today, traded around the
    plan's first step (:mod:`pma_lab.plan.household`).
    """
    hist = _sold_in(setup.ledger, year)
    if others is None or not len(others):
        return hist
    return pd.concat([hist, others[list(hist.columns)]], ignore_index=True) if len(hist) \
        else others.reset_index(drop=True)


_SOLD: dict[str, object] = {}  # the last ledger read by _sold_in, its state and frames
_SOLD_LOCK = threading.Lock()


def _sold_in(ledger: Ledger, year: int) -> pd.DataFrame:
    """The ledger's dispositions (Decimal) sold in ``year``: a copy of the last read's.

    Every plan's tax context and yearly table read the client's earlier sales of the
    first year (:func:`_history`; 4-6 times a plan); the client's ledger does not change
    between them, so they are read once while its state (:meth:`pma_lab.tax.ledger.Ledger.
    state_token`) stays the same (the ledger is held until another is read).
    """
    token = ledger.state_token()
    with _SOLD_LOCK:  # a dashboard's plans run on threads
        if _SOLD.get("ledger") is not ledger or _SOLD.get("token") != token:
            _SOLD.clear()
            _SOLD.update(ledger=ledger, token=token, frames={})
        frames: dict[int, pd.DataFrame] = _SOLD["frames"]  # type: ignore[assignment]
    if year not in frames:
        hist = ledger.dispositions(as_decimal=True)
        frames[year] = hist.loc[np.array([d.year == year for d in hist.date_sold],
                                         dtype=bool)]
    return frames[year].copy()


def _liquidation(led: Ledger, acc: str, day: dt.date, prices: pd.Series) -> pd.DataFrame:
    """The dispositions of selling every lot of the account at the horizon (a fork)."""
    fork = led.fork()
    n0 = fork.disposition_count()  # (not the table of every earlier sale, for its length)
    price: dict[str, Decimal] = {}  # each ticker's price, read once (not once per lot)
    for lt in fork.lots(account=acc):
        p = price.get(lt.ticker)
        if p is None:
            p = price[lt.ticker] = Decimal(repr(float(prices[lt.ticker])))
        fork.sell(day, acc, lt.ticker, lt.shares, p, method=LotRelief.SPECIFIC,
                  lot_id=lt.lot_id)
    return fork.dispositions(as_decimal=True).iloc[n0:]


def _yearly(setup: ClientSetup, ctx: TaxContext, steps: pd.DataFrame, disp: pd.DataFrame,
            gifts: pd.DataFrame, liq: pd.DataFrame, rate: float,
            others: pd.DataFrame | None = None
            ) -> tuple[pd.DataFrame, float, float, float]:
    """Per year, every tax figure from the ledger's dispositions through yearly_netting.

    A year's tax is the Schedule D tax of this account's sales that year (gains realised
    earlier in the first year net with the plan's; the plan's first-year tax is the year's
    tax less theirs) and the value of the year's charitable deduction on top of it, both
    from :func:`pma_lab.tax.liability.yearly_netting` (stacked through the brackets when the profile
    knows the income). With interest income in ``ctx`` (the cash's and a mixed portfolio's
    ladder's) the gains are stacked on top of it and its own tax is a ``tax_interest``
    column, included in ``tax`` and ``pv_tax``; ``cash_interest`` is the interest the
    account's cash earned (:func:`_cash_interest`), part of that interest. With dividends
    in ``ctx`` (the holdings', :func:`_dividends`) they sit on top of the interest and
    beneath the gains: ``dividends`` (their total) and their own tax ``tax_dividends``,
    included in ``tax`` and ``pv_tax``. ``tax_gains_today`` (the first year only, NaN
    after): the year's tax on gains of today's sales alone (the first step's), on the same
    income and carry-ins; ``tax_gains`` less it is what the later sales that year add.
    With ``others``, ``tax_others_today`` (first year): what netting with them changes in
    ``tax_gains_today`` (it less today's sales' tax on the earlier sales alone).
    ``tax_no_sale`` (first year): the year's tax on gains if nothing in the account were
    sold (:func:`first_year_no_sale`), the base ``tax_gains_today`` is on top of. The
    liquidation
    tax is the last year's tax with every lot sold at the horizon less without; the
    carryforward left after it is valued by :func:`pma_lab.tax.liability.carryforward_value`
    on top of the last year's interest (:func:`pma_lab.plan.montecarlo.carry_left_value`).
    ``others``: a household's other taxable accounts' sales today (``ctx`` built with the
    same, :func:`_tax_context`), netted as the first year's earlier gains: the plan's
    figures are what its own sales add on the household's return.
    ``end_step`` is the date of the year's last step, the day the year's ``te``,
    ``te_target``, ``embedded_gain_end``, ``names_end``, ``value_end`` and ``cash_end``
    are measured on (not 31 December: with annual steps on the as-of anniversary the
    first year's is today, its ``value_end`` today's value; reviewer 1, session 25).

    What a year's ``tax_gains`` is, the same in every year and for every plan (hold too):
    the capital-gains tax line of the year's return (its net gain, or the loss of up to
    $3,000 it deducts from ordinary income, after the loss carried in, which is the
    return's: the profile's carry-ins, the loss the year's earlier sales leave and the
    plan's own), less the tax of the sales outside the plan: in the first year the
    tax the year's earlier sales and a household's other accounts' sales today cause on
    their own (``ctx.hist_tax``: they were made whatever the plan), and in the later
    years what the other accounts' sales change in it (:func:`_baseline`: their loss
    carried forward is theirs; 0 without a household). So, without a household, a later
    year with no net gain never shows a tax on gains, and the rows are the return's
    capital-gains tax less ``ctx.hist_tax`` in the first year (review rev1: the later
    years were measured from the earlier sales' tax too, so a plan whose gains used a
    loss realised earlier in the year showed tax in years with no gains). The
    ``carryforward`` columns are the return's less the other accounts' sales' (what they
    add to it is theirs; the return's own is a ``carryforward_return`` column when the
    two differ), and the carryforward left after the liquidation is valued the same way.
    What a client is shown as the loss carryforward left is the return's
    (:func:`return_carryforward`, never negative: another account's loss the plan's gains
    use up is not carried), and so is its value, the last element returned.

    Returns
    -------
    (yearly table, liquidation tax, value of the carryforward left after liquidation (the
    return's less the baseline's: what the plan's wealth is credited with), value of the
    return's carryforward out of the last year, before the liquidation: the figure shown
    next to :func:`return_carryforward`'s last year)
    """
    prof = setup.client.profile
    years = list(ctx.years)
    hist = _history(setup, years[0], others)  # ``others``: as ``ctx`` was built
    both = pd.concat([hist, disp], ignore_index=True) if len(hist) else disp
    carry = (ctx.carryin_st, ctx.carryin_lt)
    net = yearly_netting(disp, prof.tax, years=years).set_index("year")  # the plan's own
    gift_by_year: dict[int, tuple[Decimal, Decimal]] = {}
    for g in gifts.itertuples():
        cg, od = gift_by_year.get(g.date.year, (Decimal(0), Decimal(0)))
        if g.term == "LT":
            cg += g.deduction_base
        else:
            od += g.deduction_base
        gift_by_year[g.date.year] = (cg, od)
    ded = {c.year: c.deducted for c in charitable_deductions(
        gift_by_year, {y: ctx.agi for y in years})} if gift_by_year else {}
    interest = dict(zip(years, ctx.interest, strict=True)) if ctx.interest else None
    dividends = dict(zip(years, ctx.dividends, strict=True)) if ctx.dividends else None
    cash_interest = _cash_interest(steps)
    net_all = yearly_netting(both, prof.tax, *carry, years=years, charitable=ded,
                             interest=interest, dividends=dividends)
    # the last year with every lot sold at the horizon (its last row is read: columns)
    with_liq = netting_columns(pd.concat([both, liq], ignore_index=True), prof.tax, *carry,
                               years=years, charitable=ded, interest=interest,
                               dividends=dividends)
    left = {c: v[-1] for c, v in with_liq.items()}

    def total(frame: pd.DataFrame) -> pd.Series:
        return frame.tax + sum(frame[c] if c in frame else 0 for c in
                               ("charity_saving", "tax_interest", "tax_dividends"))

    liq_total = left["tax"] + sum(left[c] if c in left else 0 for c in
                                  ("charity_saving", "tax_interest", "tax_dividends"))
    liq_tax = float(liq_total - total(net_all).iloc[-1])
    # what the sales outside the plan change on the return: the first year's is
    # ``ctx.hist_tax`` (the earlier sales' and the other accounts' own tax), a later year's
    # what the other accounts' sales today change (their carried loss is theirs; the
    # earlier sales' is the return's, as the carry-ins are), and so in the carryforward
    # left at the horizon
    base = _baseline(prof.tax, hist, _history(setup, years[0]), carry, years, interest,
                     dividends)

    def valued(st: Decimal, lt: Decimal) -> float:
        return carry_left_value(st, lt, ctx, rate, ctx.interest_in(len(years) - 1),
                                ctx.dividends_in(len(years) - 1))

    base_value = valued(*base.carry_hist[-1]) - valued(*base.carry_none[-1])
    carry_left = valued(left["carryout_st"], left["carryout_lt"]) - base_value
    last = net_all.iloc[-1]
    carry_value = valued(last.carryout_st, last.carryout_lt)  # the return's, >= 0
    net_all = net_all.set_index("year")
    taxes = total(net_all)
    # the first year's tax on the gains of today's sales alone (step 0's), on the same
    # income (history, carry-ins, the year's interest and dividends): what the plan's
    # later sales that year add is the year's tax on gains less it
    day0 = steps.date.iloc[0]
    today = disp.loc[np.array([d == day0 for d in disp.date_sold.tolist()], dtype=bool)]
    n0 = netting_columns(pd.concat([hist, today], ignore_index=True) if len(hist) else today,
                         prof.tax, *carry, years=years[:1], interest=interest,
                         dividends=dividends)
    gains_today = float(n0["tax"][0] - ctx.hist_tax)
    no_sale = first_year_no_sale(prof.tax, hist, carry, years[0], ctx, interest, dividends)
    others_today = None
    if others is not None and len(others):
        # ... and on the year's earlier sales alone: what netting with the other accounts'
        # sales today changes in it (the plan's figures are on top of them)
        own = _history(setup, years[0])
        alone = pd.concat([own, today], ignore_index=True) if len(own) else today
        a0, b0 = (netting_columns(f, prof.tax, *carry, years=years[:1], interest=interest,
                                  dividends=dividends)["tax"][0] for f in (alone, own))
        others_today = gains_today - float(a0 - b0)
    # the tables' rows by year, read once (not a pandas lookup per figure and year)
    net_of, all_of = net.to_dict("index"), net_all.to_dict("index")
    tax_of = taxes.to_dict()
    steps_of = dict(tuple(steps.groupby("year", sort=False)))
    out = []
    for i, y in enumerate(years):
        n, a, in_year = net_of[y], all_of[y], steps_of[y]
        first = ctx.hist_tax if i == 0 else base.tax[i]
        c_st = a["carryout_st"] - base.carry_hist[i][0] + base.carry_none[i][0]
        c_lt = a["carryout_lt"] - base.carry_hist[i][1] + base.carry_none[i][1]
        gains = float(a["tax"] - first)
        total_y = float(tax_of[y] - first)
        tax_i = float(a["tax_interest"]) if interest is not None else 0.0
        div = dividends.get(y) if dividends is not None else None
        charity = float(a["charity_saving"]) if "charity_saving" in net_all else 0.0
        ye = in_year.iloc[-1]
        t_pay = (tax_payment_date(y) - day0).days / 365.25
        out.append({
            "year": y, "st": float(n["st_gains"] + n["st_losses"]),
            "lt": float(n["lt_gains"] + n["lt_losses"]),
            "harvested_losses": float(n["st_losses"] + n["lt_losses"]),
            "tax_gains": gains, "charity_saving": charity, "tax": total_y,
            "tax_gains_today": gains_today if i == 0 else np.nan,
            "tax_no_sale": no_sale if i == 0 else np.nan,
        } | ({"tax_others_today": others_today if i == 0 else np.nan}
             if others_today is not None else {}) | {
            "charitable_deduction": float(ded.get(y, 0)),
            "pv_tax": total_y / (1 + rate) ** t_pay,
            "carryforward": float(c_st + c_lt),
            "carryforward_st": float(c_st), "carryforward_lt": float(c_lt),
            # the year's figures "at the end" are its last step's (end_step)
            "end_step": ye.date,
            "te": float(ye.te_benchmark), "te_target": float(ye.te_target),
            "gifts": float(in_year.gift.sum()),
            "flows": float(in_year.flow.sum()),
            "embedded_gain_end": float(ye.embedded_gain), "names_end": int(ye.names),
            "value_end": float(ye.value), "cash_end": float(ye.cash),
            "cash_interest": cash_interest.get(y, 0.0),
        } | ({"tax_interest": tax_i} if interest is not None else {})
          | ({"dividends": float(div.total) if div is not None else 0.0,
              "dividends_reit": float(div.reit) if div is not None else 0.0,
              "tax_dividends": float(a["tax_dividends"])}
             if dividends is not None else {}))
    table = pd.DataFrame(out)
    if base.carry_hist != base.carry_none:
        # the return's own carryforward (the household's, the history's with the plan's),
        # when it is not the plan's: what the return carries into the next year
        table["carryforward_return"] = [float(all_of[y]["carryout_st"]
                                              + all_of[y]["carryout_lt"]) for y in years]
    return table, liq_tax, carry_left, carry_value


def first_year_no_sale(tax: object, hist: pd.DataFrame, carry: tuple[Decimal, Decimal],
                       year: int, ctx: TaxContext, interest: Mapping | None,
                       dividends: Mapping | None) -> float:
    """The first year's tax on gains if nothing in the account were sold (USD).

    The plan's own base for its first year: the year's gains tax with the year's earlier
    sales and a household's other accounts' sales today (``hist``, :func:`_history`), the
    carry-ins ``carry`` and the plan's own income of the year (``interest``,
    ``dividends``), less the history's own tax (``ctx.hist_tax``), as every figure of the
    plan's first year is measured. Not zero with a loss carried in: $3,000 of it offsets
    the year's income whatever the plan sells (retiree's -$983). The plan's
    ``tax_gains_today`` and ``tax_gains`` are on top of it; unlike the hold plan's first
    year, it sells nothing for a withdrawal (:func:`pma_lab.report.proposal.plan_year_tax`
    built the first year's breakdown on Hold's year, which with a withdrawal sells).
    """
    n = netting_columns(hist, tax, *carry, years=[year], interest=interest,
                        dividends=dividends)
    return float(n["tax"][0] - ctx.hist_tax)


def return_carryforward(years: pd.DataFrame) -> pd.Series:
    """The capital loss the tax return carries out of each year of a plan (USD, >= 0).

    ``years`` is a plan run's yearly table (:func:`_yearly`). Its ``carryforward`` column
    is what the plan's own sales add to the return's carryforward (negative: what its
    gains use up of a loss the year's earlier sales or a household's other taxable
    accounts realised); the return's own is its ``carryforward_return`` column, which the
    table has when the two differ: that, else ``carryforward`` (then the return's). A
    carryforward belongs to the return, not to an account: this is the figure a client
    is shown as the loss carryforward (proposal, dashboard, command line).
    """
    col = "carryforward_return" if "carryforward_return" in years else "carryforward"
    return years[col]


@dataclass(frozen=True)
class _Baseline:
    """What the sales outside the plan change on the return after its first year (:func:`_yearly`).

    ``tax``: each year's tax on gains of the history (the first year's earlier sales and a
    household's other accounts' sales today) with the carry-ins, less that of the year's
    earlier sales alone with them (USD; 0 in every year without other accounts' sales;
    the first element is not used: the first year is measured from
    ``TaxContext.hist_tax``); ``carry_hist`` / ``carry_none``: each year's carryforward
    out (short-, long-term) with the history and with the earlier sales alone.
    """

    tax: tuple[Decimal, ...]
    carry_hist: tuple[tuple[Decimal, Decimal], ...]
    carry_none: tuple[tuple[Decimal, Decimal], ...]


def _baseline(tax: object, hist: pd.DataFrame, own: pd.DataFrame,
              carry: tuple[Decimal, Decimal], years: Sequence[int], interest: Mapping | None,
              dividends: Mapping | None) -> _Baseline:
    """The history and the earlier sales alone, netted through ``years`` (:class:`_Baseline`).

    ``hist``: the year's earlier sales and a household's other accounts' sales today
    (:func:`_history` with ``others``); ``own``: the earlier sales alone (without
    ``others``). Both with the carry-ins, on the same income (``interest``,
    ``dividends``), with the same netting, $3,000 offset and carryforward as the plan's
    years (:func:`pma_lab.tax.liability.yearly_netting`), without the plan's gifts (its
    own). The earlier sales' carried loss (or the carry-ins their gains used up) is the
    return's as the carry-ins are: only the other accounts' sales are taken out of the
    plan's later years (review rev1: a loss the client realised earlier in the year was
    taken out of the years after the first, so a plan's rows showed tax in years with no
    gains and did not add up to the return's).
    """
    h, n = (netting_columns(f, tax, *carry, years=years, interest=interest,
                            dividends=dividends) for f in (hist, own))

    def carries(f: dict[str, list]) -> tuple[tuple[Decimal, Decimal], ...]:
        return tuple((Decimal(s), Decimal(lt)) for s, lt in
                     zip(f["carryout_st"], f["carryout_lt"], strict=True))

    return _Baseline(tuple(Decimal(a) - Decimal(b) for a, b in zip(h["tax"], n["tax"],
                                                                   strict=True)),
                     carries(h), carries(n))


def first_year_with_sales(setup: ClientSetup, run: object, sales: pd.DataFrame
                          ) -> dict[str, float]:
    """What other accounts' sales today add to a plan's first-year tax (one return).

    A plan follows one taxable account; a household's other taxable accounts file on the
    same return, so their sales today net with the plan's gains and losses of the year
    (short- and long-term netting, the $3,000 limit, the carryforward, the brackets the
    gains are stacked through). The plan's own figures are what its sales add on top of
    the year's earlier sales and the other accounts' sales today that its run counted
    (``run.others``, :mod:`pma_lab.plan.household`). The first year is netted again with
    ``sales`` as the other accounts' sales today, on the same income (the year's earlier
    sales, carry-ins, interest, dividends and gift deduction: :func:`_tax_context`,
    :func:`_yearly`), measured from the year's earlier sales alone, and the plan's own
    figure is subtracted: with ``sales`` the run's own, what those sales add on their own
    on top of the earlier ones (the plan's figure plus it is the year's tax of the
    plan's and today's other trades); with no ``others`` in the run, what ``sales`` add
    on top of the plan's.

    Parameters
    ----------
    setup : ClientSetup
        The client the plan was simulated for.
    run : PlanRun
        The plan's expected-path run (its ``steps``, ``dispositions``, ``gifts`` and
        ``interest``).
    sales : pd.DataFrame
        Form 8949 rows of every other taxable account's sales today (:meth:`pma_lab.tax.
        ledger.Ledger.dispositions`, ``as_decimal=True``), sold on the plan's first day.

    Returns
    -------
    dict[str, float]
        ``tax`` (the year's total: gains, gift deduction, interest and dividends),
        ``tax_gains``, ``tax_gains_today`` (today's sales alone, on the year's income) and
        ``charity_saving`` (the gift deduction's, valued on top of the gains): each the
        first year's figure with ``sales`` less the plan's own (USD; the interest and
        dividends sit beneath the gains, so their tax does not change).

    Raises
    ------
    DataError
        When a sale is not dated the plan's first day.
    """
    from pma_lab.errors import DataError

    steps = run.steps  # type: ignore[attr-defined]
    zero = {"tax": 0.0, "tax_gains": 0.0, "tax_gains_today": 0.0, "charity_saving": 0.0}
    others = getattr(run, "others", None)
    if others is not None and not len(others):
        others = None
    if (not len(sales) and others is None) or not len(steps):
        return zero
    day0 = steps.date.iloc[0]
    off = [d for d in sales.date_sold if d != day0]
    if off:
        raise DataError(f"the other accounts' sales are dated {off[0]}, not the plan's first "
                        f"day {day0}: solve the household on the plan's date")
    # the first year alone (its income still accrued from every step: a step in January
    # books some of its days' dividends and interest in the year before)
    ctx = _tax_context(setup, [int(min(steps.year))],
                       _interest(steps, run.interest),  # type: ignore[attr-defined]
                       _dividends(steps))
    disp = run.dispositions  # type: ignore[attr-defined]
    gifts = run.gifts  # type: ignore[attr-defined]
    if len(gifts):  # the first year's gifts (a later year's deduction does not reach it)
        gifts = gifts.loc[np.array([d.year == ctx.years[0] for d in gifts.date], dtype=bool)]
    own_ctx = ctx if others is None else _tax_context(
        setup, ctx.years, _interest(steps, run.interest),  # type: ignore[attr-defined]
        _dividends(steps), others=others)
    cols = list(disp.columns) if len(disp.columns) else list(sales.columns)
    more = pd.concat([disp, sales[[c for c in cols if c in sales]]], ignore_index=True)
    without, *_ = _yearly(setup, own_ctx, steps, disp, gifts, disp.iloc[:0], 0.0,
                            others=others)
    # the plan's own first year, as its table has it: else the netting above is not its
    own = run.years.iloc[0]  # type: ignore[attr-defined]
    for k in ("tax_gains", "tax_gains_today"):
        a, b = float(without[k].iloc[0]), float(own[k])
        if not (abs(a - b) <= 0.01 or (np.isnan(a) and np.isnan(b))):
            raise DataError(f"the plan's first year could not be netted again ({k} "
                            f"{a:,.2f}, the plan's table {b:,.2f}): pass the run the plan's "
                            "figures come from (its expected path)")
    with_, *_ = _yearly(setup, ctx, steps, more, gifts, disp.iloc[:0], 0.0)
    return {k: float(with_[k].iloc[0] - without[k].iloc[0]) for k in zero}


@dataclass(frozen=True)
class Revalued:
    """A plan's after-tax wealth at the horizon computed again (:func:`revalued_wealth`).

    Attributes
    ----------
    wealth : float
        After-tax wealth on the expected path (USD): the value at the horizon less the
        liquidation tax and each year's tax carried to the horizon, plus the value of the
        carryforward left (:func:`pma_lab.plan.montecarlo.wealth_at_horizon`).
    value_end : float
        The value at the horizon before tax (USD; the whole portfolio's).
    liquidation_tax : float
        The tax of selling every lot at the horizon (USD).
    carry_left : float
        The value of the carryforward left after it (USD).
    taxes : pd.Series
        Each year's tax (USD, by calendar year): gains, gift deduction, interest, dividends.
    """

    wealth: float
    value_end: float
    liquidation_tax: float
    carry_left: float
    taxes: pd.Series


def revalued_wealth(setup: ClientSetup, run: object, account: str, expected_return: float,
                    rate: float, *, interest: Mapping[int, InterestIncome] | None = None,
                    dividends: pd.DataFrame | None = None,
                    sold: pd.DataFrame | None = None, value_end: float | None = None
                    ) -> Revalued:
    """A plan's after-tax wealth again, with other income, horizon sales and value (USD).

    The plan's own accounting (:func:`pma_lab.plan.simulation.simulate`'s): its
    dispositions and gifts, the first year's earlier sales and a household's other
    accounts' sales (``run.others``, :func:`_tax_context`), each year netted by
    :func:`_yearly`, every lot of ``account`` sold at the horizon at the expected path's
    prices (the plan's trades replayed through today's ledger,
    :func:`pma_lab.plan.simulation.replay_events`, then :func:`_liquidation`) and
    :func:`pma_lab.plan.montecarlo.wealth_at_horizon`. With no keyword given it is the
    run's own ``after_tax_wealth`` (tested to the cent); the keywords replace or add to
    the run's figures, so a variant of the plan is taxed exactly as the plan is
    (:func:`pma_lab.plan.analysis.mix_after_tax`: the plan with hold's stock/bond mix).

    Parameters
    ----------
    setup : ClientSetup
        The client the plan was simulated for.
    run : PlanRun
        The plan's completed expected-path run.
    account : str
        The account the plan follows.
    expected_return : float
        The expected path's yearly growth of every price (its horizon prices).
    rate : float
        The cash rate the plan's taxes are carried to the horizon at (and its carryforward
        valued at).
    interest : Mapping[int, InterestIncome] | None
        A bond sleeve's interest by calendar year instead of the run's (``run.interest``);
        the interest of the account's cash (its steps') is added to it as in the run.
    dividends : pd.DataFrame | None
        Dividends added to each step's (columns ``dividends_qualified`` and
        ``dividends_reit``, one row a step, USD), booked in calendar years as the run's.
    sold : pd.DataFrame | None
        Form 8949 rows added to the sale of every lot at the horizon (``date_sold`` the
        horizon, ``gain_loss`` Decimal, ``term``): holdings the plan did not have
        (a negative gain: holdings it had and the variant does not).
    value_end : float | None
        The value at the horizon before tax (default: the run's, ``years.value_end``).

    Raises
    ------
    DataError
        When the run could not be completed, ``dividends`` has not one row a step, or the
        plan's trades replayed do not leave the run's lots (their gain at the horizon is
        not the run's ``embedded_gain``: another run, setup or account).
    """
    from pma_lab.errors import DataError
    from pma_lab.plan.montecarlo import wealth_at_horizon
    from pma_lab.plan.scenarios import expected_path
    from pma_lab.plan.simulation import replay_events

    steps = run.steps  # type: ignore[attr-defined]
    if run.failed or not len(run.years) or not len(steps):  # type: ignore[attr-defined]
        raise DataError(f"plan {run.plan.name!r} could not be completed: "  # type: ignore
                        "it has no horizon wealth to compute again")
    if dividends is not None:
        if len(dividends) != len(steps):
            raise DataError(f"dividends has {len(dividends)} rows for {len(steps)} steps: "
                            "give one row a step")
        steps = steps.assign(**{c: steps[c].to_numpy(float) + dividends[c].to_numpy(float)
                                for c in ("dividends_qualified", "dividends_reit")})
    others = run.others  # type: ignore[attr-defined]
    years = sorted(steps.year.unique())
    ctx = _tax_context(setup, years,
                       _interest(steps, run.interest if interest is None  # type: ignore
                                 else interest),
                       _dividends(steps), others=others)
    dates = list(steps.date)
    horizon = dates[-1]
    prices = expected_path(setup.prices, dates, expected_return).prices.loc[horizon]
    liq = _liquidation(replay_events(setup, run), account, horizon, prices)
    # the plan's lots replayed are the run's: their gain at the horizon is its embedded
    # gain (to the cent a lot: the run's figure is summed in floats)
    embedded = float(steps.embedded_gain.iloc[-1])
    if abs(float(sum(liq.gain_loss)) - embedded) > 0.01 * (len(liq) + 1):
        raise DataError(f"plan {run.plan.name!r}: its trades replayed leave a gain of "  # type: ignore
                        f"{float(sum(liq.gain_loss)):,.2f} at the horizon, the run "
                        f"{embedded:,.2f}: pass the plan's expected-path run for this setup "
                        "and account")
    if sold is not None and len(sold):
        liq = pd.concat([liq, sold[["date_sold", "gain_loss", "term"]]], ignore_index=True)
    table, liq_tax, carry_left, _ = _yearly(setup, ctx, steps, run.dispositions,  # type: ignore
                                            run.gifts, liq, rate, others=others)  # type: ignore
    value = float(run.years.value_end.iloc[-1]) if value_end is None \
        else float(value_end)  # type: ignore[attr-defined]
    wealth = float(wealth_at_horizon(value, liq_tax, table.tax.to_numpy(), list(table.year),
                                     horizon, rate, carry_left))
    return Revalued(wealth, value, liq_tax, carry_left,
                    pd.Series(table.tax.to_numpy(float), index=table.year.astype(int)))
