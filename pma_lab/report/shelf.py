"""Proposal sections for the rest of the shelf: household, ladder, core allocation, completion.

Each product has a function that builds its result object when the client's profile uses
the product, and ``None`` otherwise (:func:`household`, :func:`ladder`, :func:`sleeves`,
:func:`completion`), and a view that lays that result out for the client
(:func:`household_view`, :func:`ladder_view`, :func:`sleeves_view`,
:func:`completion_view`). A view of ``None`` is ``None``, which a notebook cell displays as
nothing, so the proposal shows a section only to the clients who hold the product.

A view is a :class:`View`: a level-2 heading (listed in the proposal's table of contents
through :data:`SECTION_MIMETYPE`), prose and :class:`~pma_lab.report.proposal.ReportTable`
tables. The numbers are the result objects' own, formatted by :mod:`pma_lab.formatting`,
and every piece of text is HTML-escaped.

:func:`mixed_note` says what the transition plans cover for a client who also holds a bond
ladder: the whole portfolio (:mod:`pma_lab.plan.sleeves` carries the ladder through every
plan: its interest and the tax on it, the moves between the sleeves), with tracking error
measured on the equity holdings alone.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from pma_lab.accounts import tax_treatment
from pma_lab.formatting import (
    fmt_date,
    fmt_num,
    fmt_pct,
    fmt_term,
    fmt_usd,
    round_usd,
)
from pma_lab.optimize.household import HouseholdResult, _count
from pma_lab.plan.accounting import first_year_with_sales
from pma_lab.plan.household import PLAN_FIRST_STEP as PLAN_FIRST_STEP
from pma_lab.plan.household import around_first_step
from pma_lab.plan.sleeves import bond_sleeve
from pma_lab.portfolio.allocation import SleevePlan, plan_sleeves
from pma_lab.portfolio.completion import CompletionResult
from pma_lab.portfolio.ladder import Ladder, LadderKind, interest_tax_words, ladder_for_profile
from pma_lab.report import labels
from pma_lab.report.proposal import (  # noqa: F401 - PlanYearTax, plan_year_tax re-exported
    CUSTODIAN_COLUMNS,
    TABLE_MIMETYPE,
    TRADE_DTYPES,
    Markdown,
    PlanYearTax,
    ReportTable,
    _kv,
    lot_cells,
    plan_year_tax,
)
from pma_lab.report.proposal import HOUSEHOLD_TRADES as _HOUSEHOLD_TRADES
from pma_lab.tax.rules import interest_taxation

__all__ = [
    "SECTION_MIMETYPE", "View", "household", "household_view", "household_summary",
    "location_table", "account_trades_table", "household_trade_rows", "HOUSEHOLD_TRADES",
    "PLAN_FIRST_STEP", "ORDERS_ROW", "PlanYearTax", "plan_year_tax", "HouseholdYearTax",
    "household_year_tax", "TAX_OF_THESE_TRADES",
    "TAX_OF_TODAYS_TRADES", "TAX_OF_TODAYS_TRADES_GIFT", "ladder",
    "ladder_view", "ladder_summary",
    "ladder_rungs", "ladder_cash_flows", "sleeves", "sleeves_view", "sleeves_table",
    "sleeve_moves", "completion", "completion_view", "completion_summary",
    "industry_exposures", "style_exposures", "tilts_table", "mixed_note",
]

SECTION_MIMETYPE = "application/vnd.pma-lab.section+json"
"""Output mimetype of a generated section: ``{"title": ...}`` (the template's table of
contents lists it like a markdown heading)."""


def anchor(title: str) -> str:
    """The heading's id, as the template's table of contents links it (spaces -> ``-``)."""
    return title.strip().replace(" ", "-")


class View:
    """A proposal section: a heading, an opening paragraph and the parts that follow.

    Parameters
    ----------
    title : str
        The level-2 heading (also the table of contents entry).
    intro : str
        Prose under the heading (paragraphs separated by a blank line).
    parts : Sequence[object]
        Tables and prose, each with a ``_repr_html_`` that escapes its text.
    machine : ReportTable | None
        Rows emitted as data under :data:`~pma_lab.report.proposal.TABLE_MIMETYPE` (not
        shown), for the files :func:`~pma_lab.report.proposal.render_proposal` writes (the
        household's trade rows: :data:`HOUSEHOLD_TRADES`).
    """

    def __init__(self, title: str, intro: str, parts: Sequence[object],
                 machine: ReportTable | None = None):
        self.title, self.intro, self.parts = title, intro, tuple(parts)
        self.machine = machine

    def _repr_html_(self) -> str:
        e = html.escape
        head = (f'<div class="pma-md pma-section"><h2 id="{e(anchor(self.title))}">'
                f"{e(self.title)}</h2></div>")
        return head + Markdown(self.intro)._repr_html_() + "".join(
            p._repr_html_() for p in self.parts)  # type: ignore[attr-defined]

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        out = {"text/html": self._repr_html_(), "text/plain": repr(self),
               SECTION_MIMETYPE: {"title": self.title}}
        if self.machine is not None:
            m = self.machine
            out[TABLE_MIMETYPE] = {"name": m.name, "columns": list(map(str, m.frame)),
                                   "rows": m.records()}
        return out

    def __repr__(self) -> str:
        return "\n\n".join([f"## {self.title}", self.intro, *map(repr, self.parts)])


def _notes(title: str, notes: Sequence[str]) -> Markdown:
    return Markdown(f"{title}\n\n" + "\n\n".join(notes))


def _uses_ladder(profile) -> bool:
    fi = getattr(profile, "fixed_income", None)
    return fi is not None and fi.amount is not None


# ------------------------------------------------------------------------------ household
_KIND_WORDS = labels.ACCOUNT_KINDS  # taxable, Traditional IRA, Roth IRA (as the tables)


HOUSEHOLD_TRADES = _HOUSEHOLD_TRADES
"""Name of the household view's machine table: the other accounts' orders in the trade
file's layout (:data:`~pma_lab.report.proposal.CUSTODIAN_COLUMNS`), which
:func:`~pma_lab.report.proposal.render_proposal` appends to the plan's in the trade files."""


def household(setup, trades=None, plan=None) -> HouseholdResult | None:
    """The household rebalance of a client with several accounts; ``None`` with one.

    Parameters
    ----------
    setup : ClientSetup
    trades : RebalanceResult | None
        The plan's first step (:func:`pma_lab.report.proposal.todays_trades`, or
        :func:`pma_lab.plan.transition.first_trades` of the client's plan): that taxable
        account's trades are kept as they are and the retirement accounts are traded
        around them (:class:`~pma_lab.optimize.household.FixedTrades`), so the proposal
        shows one taxable trade list. ``None``: every account optimised.
    plan : Plan | str | None
        The plan whose first step ``trades`` are (default the client's): a budget plan's
        budget is the household's (:func:`pma_lab.plan.household.household_settings`).
        The plan's simulation solves the same household
        (:func:`pma_lab.plan.household.around_first_step`) and counts the other taxable
        accounts' sales today at every later step.

    Raises
    ------
    InfeasibleError, OptimizationError
        As :meth:`pma_lab.optimize.household.HouseholdProblem.solve`.
    """
    r = around_first_step(setup, trades, plan)
    # the section's words name the client's own loss limit (married filing separately)
    return None if r is None else \
        replace(r, loss_limit=float(setup.client.profile.tax.loss_limit))


def household_trade_rows(result: HouseholdResult) -> pd.DataFrame:
    """The household's orders outside the fixed account, in the trade file's layout.

    One SELL row per lot (specific identification) and one BUY row per name and account,
    as :func:`pma_lab.report.proposal.custodian_trades` writes the plan's, with the account
    in the ``Account`` column. A retirement account's sale has no gain (``Est. Gain``
    empty: it is not taxed). ``Wash Sale`` is ``no``: the household's constraints and its
    ledger check leave none. Without a fixed account, every account's orders.
    """
    fixed = result.fixed_account
    kind = result.accounts.set_index("account").kind.astype(str)
    sales = result.lot_sales[result.lot_sales.account != fixed]
    rows = [(str(r.account), str(r.ticker), "SELL", float(r.shares), str(r.lot_id),
             float(r.proceeds) / float(r.shares), float(r.proceeds), fmt_term(str(r.term)),
             float(r.gain) if kind.get(r.account) == "taxable" else np.nan, "Market", "Day",
             "no", *lot_cells(r)) for r in sales.itertuples()]
    buys = result.trades[(result.trades.side == "buy") & (result.trades.account != fixed)]
    rows += [(str(r.account), str(r.ticker), "BUY", float(r.shares), "", float(r.price),
              float(r.value), "", np.nan, "Market", "Day", "no", "", np.nan, "", np.nan)
             for r in buys.itertuples()]
    f = pd.DataFrame(rows, columns=list(CUSTODIAN_COLUMNS))
    return f.astype(TRADE_DTYPES)


TAX_OF_THESE_TRADES = labels.TAX_OF_THESE_TRADES
"""The household's tax this year: its trades' alone (page 1's "Tax this year" is the plan's
whole year). In :mod:`labels`, as the household's notes head their tax note with it."""
TAX_OF_TODAYS_TRADES = labels.TAX_OF_TODAYS_TRADES
"""... around the plan's first step: today's trades of every account (the retirement
accounts' are not taxed, so it is the "Estimated tax" of today's trades). Page 1's "Tax
this year" is the plan's whole year; :func:`household_summary` reconciles the two when it
is given :func:`plan_year_tax`."""
TAX_OF_TODAYS_TRADES_GIFT = ("Tax this year of today's trades only (every account; the "
                             "plan's tax for the year also counts the gift deduction, its "
                             "later trades, dividends and interest)")
""":data:`TAX_OF_TODAYS_TRADES` when the rows beneath it have the gift deduction's."""


@dataclass(frozen=True)
class HouseholdYearTax(PlanYearTax):
    """The plan's first-year tax with the other taxable accounts' trades today netted in.

    One client files one return; :meth:`rows` also say how it comes back to the plan's
    own figure.

    A plan follows one taxable account (:func:`pma_lab.plan.transition.first_trades`); the
    household trades the others around its first step. Their sales today net with the
    plan's gains and losses of the year on the client's one return
    (:func:`pma_lab.plan.accounting.first_year_with_sales`), so :attr:`total`,
    :attr:`trades`, :attr:`trades_today` and :attr:`charity` are the plan's with them, and
    :meth:`rows` add the household's tax of today's trades (every account) up to that
    total, then take the other accounts' trades out again to reach the plan's own "Tax
    this year" (:attr:`plan_total`, page 1's). Built by :func:`household_year_tax`.

    Attributes
    ----------
    plan_total : float
        The plan's own tax for the year (page 1's "Tax this year"), USD.
    others : str
        The other taxable accounts traded today, in the client's words
        (``Family trust (XXXX-5678)``, :func:`pma_lab.accounts.account_names`).
    plan_account : str
        The taxable account the plan follows, in the client's words.
    """

    plan_total: float = float("nan")
    others: str = ""
    plan_account: str = ""

    def rows(self, today: float) -> list[tuple[str, str]]:
        """The rows beneath today's tax (every account) that add it up to the plan's.

        :meth:`~pma_lab.report.proposal.PlanYearTax.parts` up to :attr:`total` (the plan's
        year with the other accounts' trades today), that total, the other accounts'
        trades taken out again (:meth:`others_row`, signed: ``+ the tax that today's trades
        in the … save``) and ``= Your plan's tax for <year> (“Tax this year”)``; whole
        dollars adding up exactly.
        """
        year, mine, both = self.year, round_usd(self.plan_total), round_usd(self.total)
        return [*((f"... plus {w}", fmt_usd(v)) for v, _, w in self.parts(today)),
                (f"= Tax for {year} of your plan and today's trades in the {self.others}",
                 fmt_usd(both)),
                self.others_row(mine - both),
                (f"= Your plan's tax for {year} (“Tax this year”)", fmt_usd(mine))]

    def others_row(self, back: float) -> tuple[str, str]:
        """The row that takes the other accounts' trades today out of the year's tax.

        ``back``: the plan's own tax less the tax with those trades (whole USD). Signed
        (``+$245``), and it says what it is: the tax their net loss saves on its own (on
        top of the year's earlier sales; what it saves netted with the plan's gains is in
        the plan's figure), added back, or the tax their net gain adds, taken off; never a
        bare amount that reads as a tax of its own.
        """
        alone = (f"your plan follows the {self.plan_account} alone, its tax what its trades "
                 "add on top of them")
        if back > 0:
            return (f"+ the tax that today's trades in the {self.others} save on their own "
                    f"(their net loss), added back: {alone}", "+" + fmt_usd(back))
        if back < 0:
            return (f"- the tax that today's trades in the {self.others} add on their own "
                    f"(their net gain), taken off: {alone}", fmt_usd(back))
        return (f"+ the tax that today's trades in the {self.others} change: {alone}",
                fmt_usd(0.0))


def _other_taxable(result: HouseholdResult) -> list[str]:
    """The household's taxable accounts other than the one the plan follows."""
    a = result.accounts
    taxed = a.taxed_as if "taxed_as" in a else a.kind
    return [str(x) for x, k in zip(a.account, taxed.astype(str), strict=True)
            if k == "taxable" and str(x) != result.fixed_account] if result.fixed_account \
        else []


def _selling(result: HouseholdResult, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` that sell today in a taxable account (the result's dispositions)."""
    d = result.dispositions
    sold = set(d.account.astype(str)) if len(d) else set()
    return [i for i in ids if i in sold]


def _names_words(result: HouseholdResult, ids: Sequence[str]) -> str:
    """``Family trust``, ``a and b``: accounts in the client's words."""
    names = [_account_name(result, i) for i in ids]
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def household_year_tax(setup, analysis, result: HouseholdResult | None,
                       plan: str | None = None) -> PlanYearTax | None:
    """The plan's "Tax this year" for the household section, every taxable account in it.

    :func:`plan_year_tax` of ``analysis`` (``plan``: a plan code, as the dashboard's plan
    on screen) when the household has one taxable account, or no plan step was kept
    (``result.fixed_account`` empty). With other taxable accounts, a
    :class:`HouseholdYearTax`: the plan's first year netted again with their sales today
    (``result.dispositions``), since one client files one return.

    Parameters
    ----------
    setup : ClientSetup
        The client the plans were simulated for.
    analysis : TransitionAnalysis | None
    result : HouseholdResult | None
        :func:`household` around the plan's first step.
    plan : str | None
    """
    t = plan_year_tax(analysis, plan)
    if t is None or result is None:
        return t
    others = _selling(result, _other_taxable(result))
    if not others:  # nothing sold there today: the plan's year is the return's as it is
        return t
    name = plan if plan is not None and (analysis.comparison.plan == plan).any() else \
        analysis.comparison[analysis.comparison.is_client_plan].plan.iloc[0]
    run = next(r for r in analysis.runs if r.path == "expected" and r.plan.name == name)
    disp = result.dispositions
    sales = disp[disp.account.astype(str).isin(others)] if len(disp) else disp
    d = first_year_with_sales(setup, run, sales)
    return HouseholdYearTax(
        **{f.name: getattr(t, f.name) for f in fields(PlanYearTax)}
        | {"total": t.total + d["tax"], "trades": t.trades + d["tax_gains"],
           "trades_exact": t.trades_exact + d["tax_gains"],
           "trades_today": t.trades_today + d["tax_gains_today"],
           "charity": t.charity + d["charity_saving"],
           "others_today": 0.0},  # today's tax is every account's: theirs in it
        plan_total=t.total, others=_names_words(result, others),
        plan_account=_account_name(result, result.fixed_account))


ORDERS_ROW = ("Orders across the accounts, and the trade file's rows (one a lot sold, one "
              "a purchase)")
"""The household's order count: orders (one a stock sold or bought in an account) and the
trade file's rows, which list each lot sold on its own row."""


def orders_value(orders: int, rows: int) -> str:
    """:data:`ORDERS_ROW`'s value, each count named: ``71 orders, 72 rows``.

    The row's label said the number was the trade file's rows and then showed the order
    count beside a different row count ("71 (72 rows)").

    Examples
    --------
    >>> orders_value(71, 72), orders_value(1, 1)
    ('71 orders, 72 rows', '1 order, 1 row')
    """
    return f"{_count(orders, 'order')}, {_count(rows, 'row')}"


def household_summary(result: HouseholdResult,
                      year_tax: PlanYearTax | None = None) -> ReportTable:
    """The household's headline figures (tracking error, orders, realised gains, tax).

    The tax row is that of these trades (:data:`TAX_OF_THESE_TRADES`; around the plan's
    first step :data:`TAX_OF_TODAYS_TRADES`), never worded as page 1's "Tax this year" of
    the plan's whole year, which counts its later trades that year too. With ``year_tax``
    (:func:`plan_year_tax`, around the plan's first step) rows beneath it add it up to
    page 1's figure, part by part: the proposal's "Today's trades" rows
    (:meth:`~pma_lab.report.proposal.PlanYearTax.rows`, the same words and arithmetic).
    """
    s = result.summary()
    n_taxable = int((result.accounts.kind.astype(str) == "taxable").sum())
    where = "taxable account" if n_taxable == 1 else "taxable accounts"
    year_rows = (year_tax.rows(result.tax_this_year) if year_tax is not None
                 and result.fixed_account else [])
    gift = bool(year_rows) and abs(round_usd(year_tax.charity)) >= 0.5  # its row is shown
    bench = ([(f"Household tracking error to the {result.benchmark_label} today",
               fmt_pct(s.te_benchmark_before)),
              ("... after these trades", fmt_pct(s.te_benchmark_after))]
             if result.benchmark_label else [])
    sized = ([("Household target", f"{fmt_num(result.sizing.names)} names, sized on "
                                   f"{labels.target_sizing(result.sizing)}")]
             if result.sizing is not None else [])
    return _kv([
        *sized,
        *bench,
        ("Household tracking error to the target today", fmt_pct(s.te_before)),
        ("... after these trades", fmt_pct(s.te_after)),
        (ORDERS_ROW, orders_value(int(s.orders), int(s.trade_file_rows))),
        ("Lots sold", fmt_num(s.lots_sold)),
        (f"Short-term gains realised ({where})", fmt_usd(s.realized_st_usd)),
        (f"Long-term gains realised ({where})", fmt_usd(s.realized_lt_usd)),
        (TAX_OF_THESE_TRADES if not result.fixed_account else
         TAX_OF_TODAYS_TRADES_GIFT if gift else TAX_OF_TODAYS_TRADES,
         fmt_usd(s.tax_of_todays_trades_usd)),
        *year_rows,
        (labels.CARRYFORWARD_CREATED, fmt_usd(s.carryforward_created_usd)),
        (f"{labels.ECONOMIC_TAX} (losses credited in full; negative: tax saved)",
         fmt_usd(s.tax_estimate_usd)),
        ("Yearly tax cost of where assets are held, today",
         fmt_usd(s.location_cost_before_usd)),
        ("... after these trades", fmt_usd(s.location_cost_after_usd)),
    ], caption="The household plan")


def location_table(result: HouseholdResult) -> ReportTable:
    """Asset location: each account's value, share, cash, trades and yearly location cost."""
    a = result.accounts.merge(result.location[["account", "cost_before", "cost_after"]],
                              on="account", how="left")
    total = float(a.value.sum())
    frame = pd.DataFrame({
        "Account": [_upper_first(_account_name(result, x)) for x in a.account],
        # how each kind is taxed, not its name again (pma_lab.accounts.TAX_TREATMENTS)
        "Tax treatment": [tax_treatment({e[0]: e[1] for e in _named_kinds(result)}
                                        .get(str(x), k))
                          for x, k in zip(a.account, a.kind, strict=True)],
        "Value": a.value, "Share of household": a.value / total if total else np.nan,
        "Cash today": a.cash_before, "Cash after": a.cash_after, "Bought": a.bought,
        "Sold": a.sold, "Location cost today": a.cost_before,
        "Location cost after": a.cost_after})
    if "min_cash" in a and (a.min_cash > 0).any():  # the floor beside the cash it keeps
        frame.insert(frame.columns.get_loc("Cash after") + 1, "Minimum cash", a.min_cash)
    return ReportTable(frame, formats={
        "Value": "usd", "Share of household": "pct1", "Cash today": "usd",
        "Cash after": "usd", "Minimum cash": "usd", "Bought": "usd", "Sold": "usd",
        "Location cost today": "usd", "Location cost after": "usd"},
        caption="Asset location: your accounts in the household plan (location cost: "
                "tax a year of holding these assets in that account, USD)")


def account_trades_table(result: HouseholdResult, account_id: str) -> ReportTable:
    """One account's orders: each lot sold (lot, term, gain) and each purchase.

    A retirement account's table has no gain column: its sales realise nothing.
    """
    kind = str(result.accounts.set_index("account").kind.get(account_id, ""))
    taxable = kind == "taxable"
    sells = result.lot_sales[result.lot_sales.account == account_id]
    buys = result.account_trades(account_id)
    buys = buys[buys.side == "buy"]
    rows = [{"Action": "Sell", "Symbol": r.ticker, "Shares": r.shares, "Lot": r.lot_id,
             "Term": r.term, "Est. price": r.proceeds / r.shares if r.shares else np.nan,
             "Est. amount": r.proceeds, "Est. gain": r.gain if taxable else np.nan}
            for r in sells.itertuples()]
    rows += [{"Action": "Buy", "Symbol": r.ticker, "Shares": r.shares, "Lot": "new lot",
              "Term": np.nan, "Est. price": r.price, "Est. amount": r.value,
              "Est. gain": np.nan} for r in buys.itertuples()]
    frame = pd.DataFrame(rows, columns=["Action", "Symbol", "Shares", "Lot", "Term",
                                        "Est. price", "Est. amount", "Est. gain"])
    if not taxable:  # no gain is realised in an IRA or a Roth: no gain column
        frame = frame.drop(columns="Est. gain")
    note = ("" if taxable else "; a retirement account's sales are not taxed, so no gain "
            "is shown")
    return ReportTable(frame, formats={"Shares": "shares", "Term": "term",
                                       "Est. price": "usd2", "Est. amount": "usd",
                                       "Est. gain": "usd"},
                       caption=f"{_upper_first(_account_name(result, account_id))}: "
                               f"{_count(len(sells), 'lot')} sold, "
                               f"{_count(len(buys), 'purchase')}{note}",
                       empty="No trade in this account.")


def _account_name(result: HouseholdResult, account_id: str) -> str:
    """One account in the client's words: ``taxable account``, ``Roth IRA``.

    Its profile ``name`` and ``number`` when set; two unnamed of a kind numbered
    (:func:`labels.account_names`).
    """
    named = _named_kinds(result)
    names = labels.account_names(named, noun=True)
    return dict(zip((e[0] for e in named), names, strict=True)).get(str(account_id),
                                                                   str(account_id))


def _named_kinds(result: HouseholdResult) -> list[tuple[str, ...]]:
    """Each account's ``(id, the kind it is named by, name, number)``.

    ``ira``: its kind not stated; see :func:`labels.account_names`.

    :attr:`~pma_lab.optimize.household.HouseholdResult.named_kinds`; a result without
    them (built by hand) by its accounts' ``kind``.
    """
    return [tuple(str(x) for x in e) for e in result.named_kinds] or list(
        zip((str(a) for a in result.accounts.account),
            (str(k) for k in result.accounts.kind), strict=True))


def _upper_first(text: str) -> str:
    """``Taxable account``: a name that starts a caption."""
    return text[:1].upper() + text[1:]


def _accounts_words(result: HouseholdResult) -> str:
    """``taxable account, Traditional IRA and Roth IRA`` (:func:`labels.account_names`)."""
    parts = labels.account_names(_named_kinds(result), noun=True)
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def household_view(result: HouseholdResult | None,
                   year_tax: PlanYearTax | None = None) -> View | None:
    """The household section: summary, asset location, each account's trades, the method.

    ``year_tax`` (:func:`plan_year_tax` of the proposal's analysis): the summary adds up
    today's trades' tax to page 1's "Tax this year" (:func:`household_summary`).
    """
    if result is None:
        return None
    if result.fixed_account:
        return _household_around_plan_view(result, year_tax)
    intro = (
        f"One rebalance across your {len(result.accounts)} accounts, "
        f"{_accounts_words(result)}: one target for the household, tracking error measured "
        "on the household as a whole (so it does not matter which account holds a stock), "
        "trades in every account, each account paying for its purchases from its own "
        "sales and cash, and no purchase in any account that would turn a loss sold in a "
        "taxable account into a wash sale. Sales inside a retirement account are not "
        "taxed.\n\n"
        "This is the household view. The plan and the trades proposed today, earlier in "
        "this proposal, move the taxable account on its own; the household rebalance also "
        "trades the retirement accounts, so its taxable trades can differ. Both are priced "
        "at the same as-of prices and checked against the same lots.")
    tables: list[object] = [household_summary(result), location_table(result)]
    tables += [account_trades_table(result, a) for a in result.accounts.account]
    tables.append(_notes("How the household plan was computed:", result.notes))
    return View("One plan across your accounts", intro, tables)


def _own_wash_words(result: HouseholdResult) -> str:
    """The plan's own wash sales, in one sentence (``""`` without any)."""
    w = result.fixed_wash_sales
    if w is None or not len(w):
        return ""
    n = len(w)
    total = float(w.disallowed.astype(float).sum())
    # a retirement account's replacement shares: that loss is lost for good (Rev. Rul.
    # 2008-5), not deferred, and the sentence says so as the notes do
    lost = float(w.disallowed[w.permanent.astype(bool)].astype(float).sum()) \
        if "permanent" in w else 0.0
    good = ("" if lost <= 0.005 else
            ", lost for good (a retirement account bought the replacement shares)"
            if lost >= total - 0.005 else
            f", {fmt_usd(lost)} of it lost for good (a retirement account bought "
            "replacement shares)")
    return (f" The plan's own trades wash {n} loss sale{'s' if n > 1 else ''}: "
            f"{fmt_usd(total)} of loss disallowed{good} (its trade list's Wash Sale column; "
            "the notes below say where each loss went).")


def _household_around_plan_view(result: HouseholdResult,
                                year_tax: PlanYearTax | None = None) -> View:
    """The household section when the taxable account's trades are the plan's first step.

    The taxable account's orders are listed once, in the proposal's trade list; here the
    other accounts' orders, the household's figures (of every account's trades) and the
    machine rows the trade files append (:func:`household_trade_rows`).
    """
    fixed = result.fixed_account
    label = _account_name(result, fixed)
    others = [a for a in result.accounts.account if a != fixed]
    taxable = _other_taxable(result)
    if taxable:  # the plan follows one taxable account; the others trade around it too
        around = (f"The other accounts ({_names_words(result, others)}) are traded around "
                  f"them, each paying for its purchases from its own sales and cash; no "
                  f"other account buys a stock the {label} sells at a loss today (a wash "
                  "sale: in a retirement account the loss would be lost for good).")
        sold = _selling(result, taxable)
        one = len(taxable) == 1
        plan_words = (
            f" Your plan (its “Tax this year”) follows the {label} alone: "
            + (f"today's sales in the {_names_words(result, sold)} are on the same tax "
               "return, so the plan counts them as it counts the year's earlier sales: "
               "against its gains budget at every later step of the year (the budget is "
               "the household's: every taxable account's net realised gain of the tax "
               "year), and netted with its gains and losses (short- and long-term "
               f"netting, the {fmt_usd(result.loss_limit)} limit, the carryforward into "
               "later years), its own "
               "figures being what its trades add on top of them. The rows below add "
               "their tax to the plan's for the year, then take it out again to reach "
               "the plan's own figure"
               if sold else f"the {_names_words(result, taxable)} "
               f"{'sells' if one else 'sell'} nothing today")
            + "; " + ("that account's" if one else "those accounts'")
            + " dividends and any later trades are not in the plan.")
    else:
        around = ("The retirement accounts are traded around them, each paying for its "
                  "purchases from its own sales and cash; no other account buys a stock the "
                  "taxable account sells at a loss today (a wash sale: in a retirement "
                  "account the loss would be lost for good).")
        plan_words = ""
    intro = (
        f"One plan across your {len(result.accounts)} accounts, "
        f"{_accounts_words(result)}: one target for the household, tracking error measured "
        "on the household as a whole (so it does not matter which account holds a stock), "
        "and asset location (income-heavy stocks where their income is not taxed each "
        "year).\n\n"
        f"The trades of the {label} are {result.fixed_source or 'the plan'}: they are "
        f"listed once, in the plan's trade list, and kept as they are here. {around}"
        f"{_own_wash_words(result)} Sales inside a retirement account are not taxed. "
        "The figures below are those of every account's trades together, the "
        f"{'plan' if taxable else 'taxable account'}'s included; the trade files list "
        f"every account's orders.{plan_words}")
    tables: list[object] = [household_summary(result, year_tax), location_table(result)]
    tables += [account_trades_table(result, a) for a in others]
    tables.append(_notes("How the household plan was computed:", result.notes))
    machine = ReportTable(household_trade_rows(result), name=HOUSEHOLD_TRADES, machine=True)
    return View("One plan across your accounts", intro, tables, machine)


# ---------------------------------------------------------------------------------- ladder
def ladder(client) -> Ladder | None:
    """The bond ladder of the client's ``[fixed_income]``; ``None`` without one.

    Raises
    ------
    DataError
        As :func:`pma_lab.portfolio.ladder.ladder_for_profile`.
    """
    if not _uses_ladder(client.profile):
        return None
    return ladder_for_profile(client.profile, client.as_of)


def _ladder_name(lad: Ladder) -> str:
    if lad.kind is LadderKind.MUNI:
        where = "in-state" if lad.settings.in_state else "out-of-state"
        return f"1-{lad.years} year {where} municipal bond ladder"
    return f"1-{lad.years} year Treasury ladder"


def ladder_summary(lad: Ladder) -> ReportTable:
    """The ladder's headline figures."""
    s = lad.summary()
    rows = [("Ladder", _ladder_name(lad)), ("Invested", fmt_usd(s.invested_usd))]
    if s.cash_left_usd > 0.005:
        rows.append(("Left in cash (whole bond increments)", fmt_usd(s.cash_left_usd, 2)))
    rows += [
        ("Yield (average of the rungs)", fmt_pct(s["yield"])),
        ("Tax-equivalent yield at your rates", fmt_pct(s.tax_equivalent_yield)),
        ("Interest in the first year", fmt_usd(s.annual_income_usd)),
        ("Duration", f"{fmt_num(s.duration_years, 1)} years"),
        ("Treasury curve used", f"{fmt_date(lad.curve_date)} (the last one on or before "
                                f"{fmt_date(lad.as_of)} in the packaged data)"),
    ]
    if lad.kind is LadderKind.MUNI:
        rows.append(("Municipal yields", f"modelled: {fmt_pct(lad.settings.muni_ratio, 0)} "
                                         "of the Treasury yield of the same maturity"))
    return _kv(rows, caption="Your bond ladder")


def ladder_rungs(lad: Ladder) -> ReportTable:
    """One row per rung: maturity, amount, coupon, yield, after-tax and tax-equivalent."""
    r = lad.rungs
    frame = pd.DataFrame({
        "Maturity": r.maturity, "Amount": r.amount, "Coupon": r.coupon,
        "Yield": r["yield"], "After-tax yield": r.after_tax_yield,
        "Tax-equivalent yield": r.tax_equivalent_yield, "Interest a year": r.annual_income,
        "Duration (years)": r.duration})
    muni = lad.kind is LadderKind.MUNI
    if muni:
        frame.insert(4, "Treasury yield", r.treasury_yield)
    return ReportTable(frame, formats={
        "Maturity": "date", "Amount": "usd", "Coupon": "pct", "Yield": "pct",
        "Treasury yield": "pct", "After-tax yield": "pct", "Tax-equivalent yield": "pct",
        "Interest a year": "usd", "Duration (years)": "num2"},
        caption="The rungs" + (" (municipal yields modelled from the Treasury curve)"
                               if muni else ""))


def ladder_cash_flows(lad: Ladder) -> ReportTable:
    """Cash the ladder pays each year: interest, its tax at that year's rates, principal."""
    c = lad.cash_flows
    frame = pd.DataFrame({"Year": c.year, "Year ending": c.period_end,
                          "Interest": c.coupons, "Tax on interest": c.interest_tax,
                          "Tax rate": c.interest_tax_rate,
                          "Interest after tax": c.after_tax_coupons,
                          "Principal repaid": c.principal, "Total": c.total})
    return ReportTable(frame, formats={"Year": "int", "Year ending": "date",
                                       "Interest": "usd", "Tax on interest": "usd",
                                       "Tax rate": "pct", "Interest after tax": "usd",
                                       "Principal repaid": "usd", "Total": "usd"},
                       caption="Cash flows by year (before reinvesting maturing rungs; each "
                               "year's interest taxed at the rates that year's interest "
                               "reaches)")


def ladder_view(lad: Ladder | None) -> View | None:
    """The ladder section: the modelled-yield statement first, then figures and notes."""
    if lad is None:
        return None
    first, last = lad.rungs.maturity.iloc[0], lad.rungs.maturity.iloc[-1]
    intro = (f"A {_ladder_name(lad)} of {fmt_usd(lad.amount)}: equal amounts maturing each "
             f"year from {fmt_date(first)} to {fmt_date(last)}, each bond bought at par and "
             "held to maturity. Yields are those of the US Treasury par curve of "
             f"{fmt_date(lad.curve_date)}.")
    if lad.kind is LadderKind.MUNI:
        intro = (f"Municipal yields in this section are modelled, not market quotes: "
                 f"{fmt_pct(lad.settings.muni_ratio, 0)} of the Treasury par yield of the same "
                 f"maturity on {fmt_date(lad.curve_date)}.\n\n" + intro)
    return View("Your bond ladder", intro, [
        ladder_summary(lad), ladder_rungs(lad), ladder_cash_flows(lad),
        _notes("How the ladder was modelled:", lad.notes)])


# ------------------------------------------------------------------------ core allocation
def _sleeve_account(setup) -> tuple[str, str]:
    """The account whose holdings are the equity sleeve: its id and, for a household, name.

    The plans follow one taxable account (the first: :func:`pma_lab.plan.simulation.
    todays_flow`, :func:`pma_lab.plan.simulation.simulate`) and move between the ladder and
    that account alone, so the sleeve is that account's lots and cash, not the household's
    (its other accounts, an IRA among them, are not sold for the band). The name is the
    account in the client's words when the profile has several accounts (``""`` with one).
    """
    from pma_lab.accounts import account_name

    accounts = setup.client.profile.accounts
    acc = setup.taxable_accounts()[0]
    return acc, account_name(accounts, acc) if len(accounts) > 1 else ""


def _equity_value(setup) -> float:
    """The equity sleeve: the plan account's lots at the as-of prices and its cash (USD).

    :func:`_sleeve_account`'s account, valued as the plans' band move values it
    (:func:`pma_lab.plan.sleeves.equity_value`); a one-account client's lots and cash.
    """
    from pma_lab.plan.simulation import account_cash
    from pma_lab.plan.sleeves import equity_value

    acc, _ = _sleeve_account(setup)
    return equity_value(setup.ledger.lots(account=acc), setup.prices,
                        account_cash(setup, acc))


def sleeves(setup, plan=None) -> SleevePlan | None:
    """The equity / bond split of a client with a ``[core]`` allocation; ``None`` without.

    The equity sleeve is the lots and cash of the account the plans follow (today's trades
    invest the cash in equity; a household's other accounts are not in it:
    :func:`_sleeve_account`, named in ``account``), the bond sleeve the profile's ladder
    amount; the band is the profile's.
    ``plan``: the client's plan (a Plan or its code; default the profile's,
    :func:`pma_lab.plan.plans.client_plan`): a budget plan's gains budget limits the band's
    sale today as the plan's first step makes it
    (:func:`pma_lab.plan.simulation.band_sale_limit`), so the section shows the move
    "Your plan today" trades, with its reason.

    Raises
    ------
    DataError
        As :func:`pma_lab.portfolio.allocation.plan_sleeves`.
    """
    core = getattr(setup.client.profile, "core", None)
    if core is None or core.allocation is None or not _uses_ladder(setup.client.profile):
        return None
    bonds = bond_sleeve(setup)
    if bonds is None or bonds.allocation is None:
        return None
    equity, amount = _equity_value(setup), float(setup.client.profile.fixed_income.amount)
    acc, name = _sleeve_account(setup)
    whole = replace(plan_sleeves(bonds.allocation, equity, amount), account=name)
    if whole.sell_equity <= 0:
        return whole
    from pma_lab.plan.plans import client_plan, parse_plan
    from pma_lab.plan.simulation import account_cash, band_sale_limit

    plan = client_plan(setup) if plan is None else \
        parse_plan(plan) if isinstance(plan, str) else plan
    cash = account_cash(setup, acc)
    limit = band_sale_limit(setup, plan, acc, setup.ledger, setup.as_of, setup.prices,
                            cash + float(plan.flow))
    if limit is None:
        return whole
    return replace(plan_sleeves(bonds.allocation, equity, amount,
                                max_sell_equity=limit(whole.sell_equity)), account=name)


def sleeves_table(plan: SleevePlan) -> ReportTable:
    """Sleeve weights today and after the rebalance, against the target and the band."""
    a = plan.allocation
    b, f = plan.before, plan.after
    tot_b, tot_f = b.equity + b.bonds, f.equity + f.bonds
    frame = pd.DataFrame({
        "Sleeve": ["Equity", "Bonds (ladder)"],
        "Value today": [b.equity, b.bonds],
        "Share today": [b.equity / tot_b, b.bonds / tot_b],
        "Target": [a.equity, 1 - a.equity],
        "Band low": [a.equity - a.band, 1 - a.equity - a.band],
        "Band high": [a.equity + a.band, 1 - a.equity + a.band],
        "Value after": [f.equity, f.bonds],
        "Share after": [f.equity / tot_f, f.bonds / tot_f]})
    return ReportTable(frame, formats={
        "Value today": "usd", "Share today": "pct1", "Target": "pct0", "Band low": "pct0",
        "Band high": "pct0", "Value after": "usd", "Share after": "pct1"},
        caption=f"Your {a.label} allocation: the sleeves against the target and the band")


BAND_FIRST = ("Your equity is {share} of your portfolio, above the {edge} edge of your "
              "{label} allocation's band: each tax year's gains budget goes first to "
              "selling equity back toward that edge ({moved} of the {needed} needed today, "
              "the rest in the next years) and only what it leaves to trades toward your "
              "target, so the tracking error to the target may not fall until the "
              "portfolio is back inside the band.")
"""Page one's sentence when a budget plan's band move takes more than a year."""


def band_first_note(setup, plan) -> str:
    """Page one's :data:`BAND_FIRST` for a plan whose budget limits today's band move.

    ``""`` when the client has no core allocation, its equity is inside the band, or the
    plan's budget pays the whole move to the band's edge today (:func:`sleeves` with and
    without the plan's limit).
    """
    limited = sleeves(setup, plan)
    if limited is None or limited.sell_equity <= 0:
        return ""
    whole = plan_sleeves(limited.allocation, float(limited.before.equity),
                         float(limited.before.bonds))
    if whole.sell_equity <= limited.sell_equity + 0.5:
        return ""
    a = limited.allocation
    return BAND_FIRST.format(share=fmt_pct(float(limited.before.equity_share)),
                             edge=fmt_pct(a.equity + a.band, 0), label=a.label,
                             moved=fmt_usd(limited.sell_equity),
                             needed=fmt_usd(whole.sell_equity))


BAND_UNREACHED = ("Within {years} your plan's gains budget does not bring your portfolio "
                  "back to the {edge} edge of your {label} allocation's band: your equity "
                  "share would be {path}, above holding's {hold} in {years} (holding sells "
                  "back to the edge at the start of every plan year), so more of your "
                  "portfolio stays in equities than your allocation asks for; a larger "
                  "budget gets there sooner.")
"""Page one's sentence when a budget plan's equity share is still above the band's edge at
the horizon (:func:`band_unreached_note`)."""

BAND_TOLERANCE = 0.001
"""How far (a decimal: a tenth of a point) a plan's equity share at the horizon may be above
holding's and still count as back at the band's edge (:func:`band_unreached_note`): a plan
that sold back to the edge at its last plan year's start ends within a few hundredths of a
point of holding, which does every year."""


def band_unreached_note(setup, analysis) -> str:
    """Page one's :data:`BAND_UNREACHED` when the client's budget plan never gets back.

    A budget plan sells equity back to the band's edge only as far as each tax year's
    gains budget allows (:data:`BAND_FIRST`); holding makes the whole move at the start of
    every plan year, so at the horizon it is at the edge plus one year's drift. The client's
    plan has not got back when its equity share at the horizon is more than
    :data:`BAND_TOLERANCE` above holding's. Its shares are said today (before today's
    move), at the end of each calendar year and at the horizon.

    ``""`` without a core allocation and ladder, for a plan without a gains budget, one
    that could not be completed, or when holding's run is missing or failed.
    """
    prof = setup.client.profile
    core = getattr(prof, "core", None)
    if core is None or core.allocation is None or not _uses_ladder(prof):
        return ""
    runs = {r.plan.kind: r for r in analysis.runs if r.path == "expected"}
    c = analysis.comparison
    mine_name = c.plan[c.is_client_plan.astype(bool)]
    mine = next((r for r in analysis.runs if r.path == "expected" and len(mine_name)
                 and r.plan.name == mine_name.iloc[0]), None)
    hold = runs.get("hold")
    if mine is None or hold is None or mine.plan.kind != "budget" or mine.failed \
            or hold.failed or "equity_share_end" not in mine.years \
            or "equity_share_end" not in hold.years:
        return ""
    end, hold_end = (float(r.years.equity_share_end.iloc[-1]) for r in (mine, hold))
    if not end > hold_end + BAND_TOLERANCE:
        return ""
    today = sleeves(setup, mine.plan)
    a = today.allocation if today is not None else None
    if a is None:
        return ""
    from pma_lab.report.proposal import _horizon

    h = _horizon(analysis)
    y = mine.years
    path = " \u2192 ".join([f"today {fmt_pct(float(today.before.equity_share), 1)}"]
                           + [f"{int(yr)} {fmt_pct(float(v), 1)}" for yr, v in
                              zip(y.year, y.equity_share_end, strict=True)])
    return BAND_UNREACHED.format(years=labels.years(h), edge=fmt_pct(a.equity + a.band, 0),
                                 label=a.label, path=path, hold=fmt_pct(hold_end, 1))


def sleeve_moves(plan: SleevePlan) -> ReportTable:
    """The moves between the sleeves, with the reason for each."""
    m = plan.moves
    frame = pd.DataFrame({"From": m.source, "To": m.destination, "Amount": m.amount,
                          "Why": m.reason})
    return ReportTable(frame, formats={"Amount": "usd"}, wrap=("Why",),
                       caption="The rebalance between the sleeves",
                       empty="No move: both sleeves are inside the band, so nothing is "
                             "sold to rebalance between them.")


def sleeves_view(plan: SleevePlan | None) -> View | None:
    """The core allocation section: sleeve weights against the band, and the rebalance."""
    if plan is None:
        return None
    a = plan.allocation
    intro = (f"Your core allocation is {a.label}: {fmt_pct(a.equity, 0)} equity (the "
             f"holdings this proposal transitions) and "
             f"{fmt_pct(1 - a.equity, 0)} bonds (the ladder below). Nothing is sold to "
             f"rebalance while the equity share stays between "
             f"{fmt_pct(a.equity - a.band, 0)} and {fmt_pct(a.equity + a.band, 0)}; outside "
             "that band we sell only back to its edge, choosing the lots with the least "
             "tax and, under a capital-gains budget, no more in a year than the budget "
             "allows (the rest of the move in the next years), and new cash, interest and "
             "maturing bonds go first to the sleeve that is below its target.\n\n"
             + (f"The equity sleeve counts your holdings and the cash in your {plan.account} "
                "(today's trades invest that cash), the account the plans follow: your other "
                "accounts are not sold to rebalance, but the gains every taxable account "
                "realises in a year count against the capital-gains budget (one tax return)"
                if plan.account else
                "The equity sleeve counts your holdings and the cash in your account (today's "
                "trades invest that cash)")
             + "; the bond sleeve is the ladder's amount. Bonds are "
             "bought at par and assumed to sell at par, so moving bonds to equity realises "
             "no gain in this model. The plans earlier in this proposal follow these rules "
             "at the start of every year, so their taxes and values include both sleeves.")
    return View("Your core allocation", intro, [sleeves_table(plan), sleeve_moves(plan)])


def mixed_note(setup) -> Markdown | None:
    """What the plans cover for a mixed portfolio; ``None`` for an equity-only client.

    A client with a bond ladder: the plans cover the whole portfolio (a household's: the
    account the plans follow and the ladder, :func:`_sleeve_account`), with the figures the
    plans use (:func:`pma_lab.plan.sleeves.bond_sleeve`). An active + index core client:
    the plans move the account to the core (the active model plus the completion sleeve).
    """
    sleeve = bond_sleeve(setup)
    if sleeve is None:
        return _core_note(setup)
    fi = setup.client.profile.fixed_income
    lad = sleeve.ladder
    equity = _equity_value(setup)
    _, account = _sleeve_account(setup)
    bonds = float(fi.amount)
    kind = "municipal bond" if lad.kind is LadderKind.MUNI else "Treasury"
    a = sleeve.allocation
    total = equity + bonds
    if a is not None:
        moves = (f"Your {a.label} allocation targets {fmt_pct(a.equity, 0)} in equity: "
                 "each year the ladder's interest and maturing bonds go first to the part "
                 f"below its target, and when equity leaves the {fmt_pct(a.equity - a.band, 0)}"
                 f" to {fmt_pct(a.equity + a.band, 0)} band we sell back to its edge, "
                 "equity lot by lot with the least tax (that tax is in the plans' figures)"
                 "; under a capital-gains budget, no more in a year than the budget "
                 "allows, the rest of the move in the next years.")
    else:
        moves = ("The ladder's interest and maturing bonds are reinvested at its long end; "
                 "nothing moves between the ladder and your equity holdings.")
    who = interest_taxation(lad.issuer)
    how = ("it is added to the taxable income in your profile as ordinary income, below "
           "any capital gains of the year, so it is taxed through your federal brackets "
           "and, above its threshold, the 3.8% investment income tax"
           + (", and at your state's rate" if who.state else "")
           + "; the year's gains are taxed on top of it" if who.federal else
           "it is taxed at your state's rate")
    tax_words = (f"Each year's tax includes the tax on the ladder's interest, which is "
                 f"{_interest_tax(lad)}: {how}" if sleeve.interest_taxed else
                 f"The ladder's interest is {_interest_tax(lad)}, so it adds no tax")
    modelled = (f"; municipal yields modelled as {fmt_pct(lad.settings.muni_ratio, 0)} of "
                "the Treasury yield" if lad.kind is LadderKind.MUNI else "")
    return Markdown(
        (f"These plans cover your {account} and your ladder: your equity holdings there, "
         if account else "These plans cover your whole portfolio: your equity holdings, ")
        + f"{fmt_usd(equity)} "
        f"with cash ({fmt_pct(equity / total, 1)} of {fmt_usd(total)}), and your "
        f"1-{fi.years} year {kind} ladder of {fmt_usd(bonds)} ({fmt_pct(bonds / total, 1)}"
        f"{modelled}). {tax_words}; the values and after-tax wealth include the ladder, "
        "bought and valued at par (no gain to tax). "
        f"{moves} Tracking error is that of your equity holdings to their benchmark: the "
        "ladder is not in the risk model, so no tracking error of the whole portfolio is "
        "shown. The ladder's rungs and cash flows are in the section \u201cYour bond "
        "ladder\u201d.")


def _core_note(setup) -> Markdown | None:
    """What the plans cover for an active + index core client; ``None`` otherwise."""
    comp = getattr(setup, "completion", None)
    if comp is None:
        return None
    excluded = labels.excluded_from_model(comp)
    held, rest = labels.sleeve_share(comp.active_held), labels.sleeve_share(comp.completion_share)
    return Markdown(
        "These plans move your whole account to your active and index core: the active "
        f"manager's model at {held} of the account and a direct-indexed "
        f"completion sleeve of {fmt_num(int((comp.completion > 0).sum()))} stocks in the "
        f"other {rest}, {fmt_num(int((comp.total > 0).sum()))} "
        "stocks in all. Tracking error is that of the whole account to the benchmark, "
        f"{fmt_pct(comp.te_total)} for the core itself (the manager's model alone: "
        f"{fmt_pct(comp.te_active_only)}): the completion sleeve offsets the model's "
        "industry and style exposures, not its stock picks. The core is shown in the section "
        "\u201cYour active and index core\u201d." + (f" {excluded}" if excluded else ""))



def _interest_tax(lad: Ladder) -> str:
    """How the ladder's interest is taxed, in words (``interest_tax_words``)."""
    return interest_tax_words(lad.issuer, "your state")


# ------------------------------------------------------------------------------ completion
def completion(setup) -> CompletionResult | None:
    """The completion sleeve of an active + index core client; ``None`` otherwise.

    The one :func:`pma_lab.optimize.engine.prepare` solved (``setup.completion``), whose
    total is the account's target: the section shows the core the plans trade toward.
    """
    return getattr(setup, "completion", None)


def completion_summary(comp: CompletionResult) -> ReportTable:
    """The core's headline figures: the sleeves' shares and tracking error before/after."""
    s = comp.summary()
    return _kv([
        ("Active sleeve (the manager's model)", labels.sleeve_share(comp.active_held)),
        ("Completion sleeve (direct-indexed)", labels.sleeve_share(comp.completion_share)),
        *([("Left out of the manager's model (your restrictions)",
            ", ".join(e.ticker for e in comp.excluded))] if comp.excluded else []),
        ("Stocks in the completion sleeve", fmt_num(s.completion_names)),
        ("Stocks in your account (both sleeves)", fmt_num(s.total_names)),
        ("Tracking error of the active sleeve alone", fmt_pct(s.te_active_only)),
        ("... of your account with the completion sleeve", fmt_pct(s.te_total)),
        ("Part from industry and style exposures, active sleeve alone",
         fmt_pct(s.te_factor_active_only)),
        ("... with the completion sleeve", fmt_pct(s.te_factor_total)),
    ], caption="Your active and index core")


_STYLES = ("size", "momentum", "volatility", "value", "quality", "growth", "yield",
           "beta", "liquidity", "leverage")


def _styles(e: pd.DataFrame) -> pd.Index:
    return pd.Index([f for f in e.index if str(f).lower() in _STYLES])


def industry_exposures(comp: CompletionResult, top: int = 12) -> ReportTable:
    """Industry weights against the benchmark: active sleeve alone, then the account."""
    e = comp.exposures.drop(index=_styles(comp.exposures))
    e = e.reindex(e.active_only.abs().sort_values(ascending=False).index[:top])
    frame = pd.DataFrame({"Industry": e.index, "Benchmark": e.benchmark,
                          "Active sleeve": e.active_sleeve,
                          "Difference, active sleeve alone": e.active_only,
                          "Your target core": e.total,
                          "Difference, your target core": e.total_active})
    return ReportTable(frame.reset_index(drop=True), formats={
        "Benchmark": "pct1", "Active sleeve": "pct1",
        "Difference, active sleeve alone": "pct1", "Your target core": "pct1",
        "Difference, your target core": "pct1"}, wrap=("Industry",),
        caption=f"Industry exposures before and after the completion sleeve (the {top} "
                "largest differences of the active sleeve)")


def style_exposures(comp: CompletionResult) -> ReportTable:
    """Style exposures (standardised scores) against the benchmark, before and after."""
    e = comp.exposures.loc[_styles(comp.exposures)]
    frame = pd.DataFrame({"Style": [str(f).capitalize() for f in e.index],
                          "Benchmark": e.benchmark, "Active sleeve": e.active_sleeve,
                          "Difference, active sleeve alone": e.active_only,
                          "Your target core": e.total,
                          "Difference, your target core": e.total_active})
    return ReportTable(frame.reset_index(drop=True), formats={
        c: "num2" for c in frame.columns if c != "Style"},
        caption="Style exposures before and after the completion sleeve (standard "
                "deviations from the average stock)")


def tilts_table(comp: CompletionResult, benchmark: pd.Series, top: int = 10
                ) -> ReportTable:
    """The manager's largest stock bets and how much of each your account keeps."""
    # the manager's weights as held (a name your restrictions exclude at 0)
    # (the keep list's names at fixed weights are neither sleeve's)
    pinned = pd.Series(dict(comp.fixed), dtype=float).reindex(comp.total.index).fillna(0.0)
    active = (comp.total - pinned - comp.completion_share * comp.completion) / comp.alpha
    bench = benchmark.reindex(active.index).fillna(0.0)
    bet = (active - bench).sort_values(ascending=False).head(top)
    names = bet.index
    acc = comp.total.reindex(names) - bench.reindex(names)
    frame = pd.DataFrame({"Stock": names, "Active sleeve": active.reindex(names).to_numpy(),
                          "Benchmark": bench.reindex(names).to_numpy(),
                          "Manager's bet": bet.to_numpy(),
                          "Your target core": comp.total.reindex(names).to_numpy(),
                          "Your target core's bet": acc.to_numpy()})
    return ReportTable(frame, formats={c: "pct" for c in frame.columns if c != "Stock"},
                       caption=f"The manager's {top} largest stock bets, kept in your "
                               f"target core at the active sleeve's {fmt_pct(comp.alpha, 0)}")


def _limit(comp: CompletionResult) -> str:
    if comp.max_names is None:
        return "as many stocks as the benchmark: its share of your account is large enough"
    return f"at most {fmt_num(comp.max_names)} stocks, the count for its share of your account"


def completion_view(comp: CompletionResult | None, benchmark: pd.Series | None = None
                    ) -> View | None:
    """The active + index core section: tilts kept, exposures before and after."""
    if comp is None:
        return None
    held, rest = labels.sleeve_share(comp.active_held), labels.sleeve_share(comp.completion_share)
    intro = (f"{held} of your account follows the active manager's "
             f"model; the other {rest} is a direct-indexed completion "
             "sleeve chosen so that the account as a whole has the benchmark's industry and "
             "style exposures, while the manager's stock picks stay: the completion sleeve "
             "offsets the exposures nobody meant to take, not the manager's bets.\n\n"
             "This core is the target of the plans and trades earlier in this proposal: the "
             f"manager's model held at its share, the completion sleeve around it ({_limit(comp)}"
             "), and what each does to the account's exposures.")
    excluded = labels.excluded_from_model(comp)
    if excluded:
        intro += f"\n\n{excluded}"
    parts: list[object] = [completion_summary(comp)]
    if benchmark is not None:
        parts.append(tilts_table(comp, benchmark))
    parts += [industry_exposures(comp), style_exposures(comp)]
    return View("Your active and index core", intro, parts)
