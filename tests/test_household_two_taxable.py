"""A household with two taxable accounts and an IRA: one client, one return.

The plan (the transition) follows one taxable account; the household rebalance trades the
other taxable account and the IRA around the plan's first step. Every taxable account's
sales of the year must be netted on the one return, and the household section's tax rows
must say what each row is. The household used to reconcile its tax of today's trades
(every account's) to the plan's "Tax this year" (the first taxable account's alone) with a
row "today's gains taxed on top of the year's income" that was really the second taxable
account's trades (review M-B).

The client is the ``household`` sample with every other taxable lot moved to a second
taxable account ``trust`` (module fixture, built once: about 10 s on an idle machine).
"""

from __future__ import annotations

import csv
import html
import re
import shutil
from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pytest

from pma_lab.formatting import fmt_usd, round_usd
from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.accounting import first_year_with_sales
from pma_lab.plan.transition import (
    TransitionSettings,
    client_plan,
    first_trades,
    parse_plan,
    run_transition,
)
from pma_lab.report import proposal as report
from pma_lab.report import shelf

TRUST = "taxable account 2"  # two taxable accounts with no name: numbered (accounts.py)
FIRST = "taxable account 1"
STACK = "... plus today's gains taxed on top of the year's income"
PLAN_TOTAL = "= Your plan's tax for 2026 (\u201cTax this year\u201d)"


def two_taxable_profile(folder) -> object:
    """The household sample with a second taxable account ``trust`` (every other taxable
    lot moved to it, $8,000 cash); returns the profile's path."""
    src = clients_dir() / "household"
    shutil.copy(src / "recent_trades.csv", folder / "recent_trades.csv")
    rows = list(csv.DictReader(open(src / "household_lots.csv", newline="")))
    k = 0
    for r in rows:
        if r["account"] == "taxable":
            if k % 2:
                r["account"] = "trust"
            k += 1
    with open(folder / "household_lots.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    text = (src / "profile.toml").read_text()
    trust = ('[[accounts]]\nid = "trust"\ntype = "taxable"\nrelief = "min_tax"\n'
             'cash = 8000.0\n\n[[accounts]]\nid = "ira"')
    assert text.count('[[accounts]]\nid = "ira"') == 1
    (folder / "profile.toml").write_text(text.replace('[[accounts]]\nid = "ira"', trust))
    return folder / "profile.toml"


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """(setup, analysis, plan run, the plan's first step, household) of the client,
    as ``pma-lab household`` runs them (one year, no Monte Carlo)."""
    profile = two_taxable_profile(tmp_path_factory.mktemp("two-taxable"))
    s = prepare(load_client(profile))
    assert s.taxable_accounts() == ["taxable", "trust"]
    mine = client_plan(s)
    an = run_transition(s, [mine], TransitionSettings(mc_paths=0, horizon_years=1,
                                                      workers=1))
    run = next(r for r in an.runs if r.path == "expected" and r.plan == mine)
    trades = first_trades(s, mine, TransitionSettings(), run=run)
    return s, an, run, trades, shelf.household(s, trades)


def _rows(table) -> list[tuple[str, float]]:
    """The household summary's rows from today's tax to the last ``=`` row (as shown)."""
    f = table.formatted()
    items, values = list(f["item"]), list(f["value"])
    i = items.index(shelf.TAX_OF_TODAYS_TRADES)
    j = max(k for k, x in enumerate(items) if x.startswith("= "))
    return [(items[k], float(values[k].replace("$", "").replace(",", "")))
            for k in range(i, j + 1)]


def test_the_second_taxable_accounts_trades_appear_once_and_in_the_years_tax(two):
    """The household's Form 8949 rows are every taxable account's sales, each once: the
    plan's (the first account's, to the lot and share) and the trust's (its lot sales);
    the trust's are listed in the household section's trade rows, the plan's are not."""
    s, an, run, trades, r = two
    assert r.fixed_account == "taxable"
    d = r.dispositions
    assert set(d.account) == {"taxable", "trust"}  # the IRA's sales realise nothing
    keys = list(zip(d.account, d.lot_id, strict=True))
    assert len(keys) == len(set(keys))
    taxed = r.lot_sales[r.lot_sales.taxable]
    assert sorted(keys) == sorted(zip(taxed.account, taxed.lot_id, strict=True))
    mine = d[d.account == "taxable"]
    assert sorted(mine.lot_id) == sorted(trades.lot_trades.lot_id)
    trust = d[d.account == "trust"]
    assert len(trust)  # the fixture's point: the second taxable account trades today
    assert float(sum(trust.gain_loss, Decimal(0))) == pytest.approx(
        float(r.lot_sales.gain[r.lot_sales.account == "trust"].sum()), abs=0.01)
    rows = shelf.household_trade_rows(r)
    assert "taxable" not in set(rows.Account)
    assert sorted(rows[(rows.Account == "trust") & (rows.Action == "SELL")]["Lot ID"]) \
        == sorted(trust.lot_id)


def test_the_tax_rows_add_up_and_say_what_they_are(two):
    """Every row between today's tax (every account) and page 1's "Tax this year" is a
    part of it, in whole dollars that add up exactly; the trust's trades today are a row
    of their own, named, netted with the plan's year (one return) and taken out again to
    reach the plan's own figure. On main the rows reached page 1's figure through a row
    "today's gains taxed on top of the year's income" of $722 that was the trust's loss."""
    s, an, run, trades, r = two
    plain = shelf.plan_year_tax(an)
    yt = shelf.household_year_tax(s, an, r)
    assert isinstance(yt, shelf.HouseholdYearTax)
    assert yt.plan_total == plain.total and yt.others == TRUST and yt.plan_account == FIRST
    rows = _rows(shelf.household_summary(r, yt))
    labels = [k for k, _ in rows]
    both = f"= Tax for 2026 of your plan and today's trades in the {TRUST}"
    # the trust's loss saves tax: a signed addition that says so (on main "... without
    # today's trades in the taxable account (“trust”)  $722" read as a tax amount)
    without = (f"+ the tax that today's trades in the {TRUST} save on their own (their net "
               f"loss), added back: your plan follows the {FIRST} alone, its tax what its "
               "trades add on top of them")
    assert labels[-3:] == [both, without, PLAN_TOTAL]
    shown = dict(zip(*(list(shelf.household_summary(r, yt).formatted()[c])
                       for c in ("item", "value")), strict=True))
    assert shown[without].startswith("+$") and not shown[both].startswith("+")
    got = dict(rows)
    # whole dollars adding up: today's tax and its parts to the household's year, then
    # the trust's trades out again to page 1's figure (the comparison's, unchanged)
    i = labels.index(both)
    assert sum(v for _, v in rows[:i]) == got[both]
    assert got[both] + got[without] == got[PLAN_TOTAL]
    row = an.comparison[an.comparison.is_client_plan].iloc[0]
    assert got[PLAN_TOTAL] == round_usd(float(row.tax_year1))
    assert got[shelf.TAX_OF_TODAYS_TRADES] == round_usd(r.tax_this_year)
    # the trust's row is what its sales change in the year's tax, netted with the plan's
    trust = r.dispositions[r.dispositions.account == "trust"]
    delta = first_year_with_sales(s, run, trust)["tax"]
    assert delta < -100  # a loss sold today: it lowers the year's tax
    assert got[without] == round_usd(yt.plan_total) - round_usd(yt.plan_total + delta)
    # the gains stacked on the year's income are today's gains' own stacking, as the
    # plan's trade summary shows for the taxable account alone; never the trust's trades
    own = dict(_kv(report.trade_summary(s, trades, an)))
    assert abs(got.get(STACK, 0.0) - own.get(STACK, 0.0)) <= 5
    # the trust's $2,941.60 long-term loss on the return: $2,941.60 x 24.55 % = $722.16
    # in all: what it saves on its own on top of the year's earlier -$2,410.30 (the $3,000
    # limit against ordinary income: $589.70 more of it) is the row above; the rest nets
    # with the plan's long-term gains today, which the plan's own "Today's trades" says
    net = ("... plus today's sales in your other taxable accounts, netted with today's "
           "gains (one tax return)")
    assert own[net] < 0 and got[without] - own[net] == pytest.approx(722, abs=2)
    assert net not in got  # the household's today is every account's: theirs is in it
    assert abs(delta) > 100 + abs(got.get(STACK, 0.0))


def _kv(table) -> list[tuple[str, float]]:
    f = table.formatted()
    return [(k, float(v.replace("$", "").replace(",", ""))) for k, v in
            zip(f["item"], f["value"], strict=True)
            if str(v).lstrip("-").startswith("$") and " " not in str(v)]


def test_the_section_says_the_plan_follows_one_taxable_account(two):
    """The intro names the other accounts traded around the plan (the trust is not a
    retirement account) and says that the plan follows the first taxable account alone,
    that the trust's trades today are netted on the same return, and what is not in the
    plan."""
    s, an, run, trades, r = two
    v = shelf.household_view(r, shelf.household_year_tax(s, an, r))
    assert f"The other accounts ({TRUST} and IRA) are traded around them" in v.intro
    assert "The retirement accounts are traded around them" not in v.intro
    assert (f"Your plan (its \u201cTax this year\u201d) follows the {FIRST} alone: today's "
            f"sales in the {TRUST} are on the same tax return") in v.intro
    assert "; that account's dividends and any later trades are not in the plan." in v.intro
    # a trust that sells nothing today: no rows of its own (a $0 row told nothing), and
    # the section says it sells nothing
    quiet = replace(r, dispositions=r.dispositions[r.dispositions.account != "trust"])
    yt = shelf.household_year_tax(s, an, quiet)
    assert type(yt) is report.PlanYearTax and yt == shelf.plan_year_tax(an)
    assert (f"follows the {FIRST} alone: the {TRUST} sells nothing today; that account's "
            "dividends") in shelf.household_view(quiet, yt).intro


def test_other_accounts_sales_net_with_the_plans_year_by_hand(two):
    """A $10,000 long-term loss sold today in another taxable account on top of the
    trust's sales (the run's own, which the plan's figures are on top of), netted with the
    plan's long-term gains of the year (more than $10,000, within one bracket): the year's
    tax falls by $10,000 x the long-term rate (15 % + 3.8 % NIIT + 5.75 % state =
    24.55 %), $2,455.00, today's gains' too; the plan's own figures are unchanged."""
    s, an, run, trades, r = two
    lt = float(run.years["lt"].iloc[0])
    assert lt > 10_000
    assert len(run.others)  # the trust's sales today, counted by the plan
    sale = pd.DataFrame({"account": ["trust"], "ticker": ["XYZ"], "lot_id": ["X1"],
                         "shares": [Decimal(1)], "date_acquired": [pd.Timestamp(
                             "2020-01-02").date()], "date_sold": [s.as_of],
                         "proceeds": [Decimal(0)], "cost_basis": [Decimal(10_000)],
                         "adjustment": [Decimal(0)], "gain_loss": [Decimal(-10_000)],
                         "term": ["LT"]})
    own = first_year_with_sales(s, run, run.others)  # the trust's: what they add alone
    more = first_year_with_sales(s, run, pd.concat([run.others, sale], ignore_index=True))
    d = {k: more[k] - own[k] for k in own}
    rate = s.client.profile.tax.lt_rate
    assert rate == pytest.approx(0.2455)
    assert d["tax"] == pytest.approx(-10_000 * rate, abs=0.01)
    assert d["tax_gains"] == pytest.approx(-10_000 * rate, abs=0.01)
    assert d["tax_gains_today"] == pytest.approx(-10_000 * rate, abs=0.01)
    assert d["charity_saving"] == 0.0 and own["charity_saving"] == 0.0
    with pytest.raises(Exception, match="not the plan's first day"):
        first_year_with_sales(s, run, sale.assign(date_sold=[pd.Timestamp(
            "2026-08-03").date()]))


def test_one_taxable_account_keeps_the_plans_rows(setups_household):
    """The household sample (one taxable account and an IRA): the section's year is the
    plan's own, unchanged (no row about another taxable account)."""
    s, an, r = setups_household
    yt = shelf.household_year_tax(s, an, r)
    assert type(yt) is report.PlanYearTax and yt == shelf.plan_year_tax(an)
    items = shelf.household_summary(r, yt).frame["item"].tolist()
    assert not [k for k in items if "your plan follows" in k]
    assert "The retirement accounts are traded around them" in shelf.household_view(
        r, yt).intro


@pytest.fixture(scope="module")
def setups_household():
    s = prepare(load_client(clients_dir() / "household" / "profile.toml"))
    mine = client_plan(s)
    an = run_transition(s, [mine], TransitionSettings(mc_paths=0, horizon_years=1,
                                                      workers=1))
    run = next(r for r in an.runs if r.path == "expected" and r.plan == mine)
    return s, an, shelf.household(s, first_trades(s, mine, TransitionSettings(), run=run))


def _shown(text: str) -> list[tuple[str, str]]:
    """The tax rows as printed or shown: (label, dollars) from today's tax to the plan's."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    out, on = [], False
    for ln in lines:
        on = on or ln.startswith(shelf.TAX_OF_TODAYS_TRADES)
        if not on:
            continue
        m = re.match(r"^(.*?)\s*([-+]?\$[\d,]+)$", ln)
        if m:
            out.append((m.group(1), m.group(2)))
        if ln.startswith(PLAN_TOTAL):
            break
    return out


@pytest.mark.slow
def test_the_cli_and_the_dashboard_show_the_same_rows(tmp_path, capsys):
    """Same everywhere: ``pma-lab household --annual`` prints the rows the dashboard shows
    for the same client with annual steps (both call :func:`shelf.household_year_tax`, as
    the proposal notebook does), the trust's rows among them; summary.csv names the plan's
    figure and the one with the trust's trades today."""
    from pma_lab.app.cli import main
    from pma_lab.app.dashboard import DashboardSettings, ProposalEngine, ProposalView
    from pma_lab.app.dashboard.widgets import load_profile_client

    profile = two_taxable_profile(tmp_path)
    assert main(["household", "--profile", str(profile), "--annual",
                 "--out", str(tmp_path / "out")]) == 0
    cli = _shown(capsys.readouterr().out)
    sm = pd.read_csv(tmp_path / "out" / "summary.csv", index_col=0)["value"]
    view = ProposalView(engine=ProposalEngine(DashboardSettings.from_proposal(
        horizon_years=2, steps_per_year=1, mc_paths=0, workers=1, frontier_points=9)),
        debounce=0.0)
    try:
        view.client = load_profile_client(profile)
        assert view.error == "", view.error
        yt = view.shelf.results.year_tax
        assert isinstance(yt, shelf.HouseholdYearTax)
        # a numbered account name's one-line span is part of its text, not a line break
        page = html.unescape(re.sub(r"<[^>]+>", "\n", re.sub(
            r'<span style="white-space: nowrap">([^<]*)</span>', r"\1", view.shelf.html)))
    finally:
        view.close()
    # the dashboard's HTML puts label and figure on separate lines: pair them
    lines = [ln.strip() for ln in page.splitlines() if ln.strip()]
    i = lines.index(shelf.TAX_OF_TODAYS_TRADES)
    j = next(k for k in range(i, len(lines)) if lines[k].startswith(PLAN_TOTAL))
    dash = list(zip(lines[i:j + 1:2], lines[i + 1:j + 2:2], strict=True))
    assert cli == dash
    labels = [k for k, _ in cli]
    assert f"= Tax for 2026 of your plan and today's trades in the {TRUST}" in labels
    # the trust's loss is not "gains taxed on top" ($722 on main); a dollar of the rows'
    # whole-dollar rounding may be (s19: -$1 with the plan's step without pairs)
    assert all(abs(float(re.sub(r"[+$,]", "", v))) <= 1 for k, v in cli if k == STACK), cli
    assert round_usd(float(sm["plan_tax_this_year_usd"])) == _usd(cli[-1][1])
    assert round_usd(float(sm["plan_and_other_taxable_accounts_tax_this_year_usd"])) \
        == _usd(cli[-3][1])


def _usd(cell: str) -> float:
    return float(cell.replace("$", "").replace(",", ""))


def test_the_gains_budget_counts_the_plans_gains_today_on_the_one_return(two):
    """The year's gains budget is the client's (one return): the other taxable account's
    trades get what the year's earlier sales and the plan's trades today leave. With tax
    not weighed (gamma_tax 0) and $1,000 left after the plan's gains, the trust realises
    $1,000 of net gain; on main it was given the budget as if the plan had realised
    nothing and realised $23,028 (the year $22,000 over its budget)."""
    from pma_lab.optimize.household import FixedTrades, HouseholdSettings, household_for_client

    s, an, run, trades, r = two
    fixed = FixedTrades.from_rebalance(trades, shelf.PLAN_FIRST_STEP)
    plan_gain = float(trades.lot_trades.gain.sum())
    p = household_for_client(s, HouseholdSettings(gamma_tax=0.0, gain_budget=0.0),
                             fixed=fixed)
    ytd = float(p.ytd[0])
    assert ytd == pytest.approx(-2_410.30, abs=0.01)  # the sample's BMY and KLAC sales
    budget = ytd + plan_gain + 1_000.0
    p.update(HouseholdSettings(gamma_tax=0.0, gain_budget=budget))
    got = p.solve()
    acc = got.accounts.set_index("account")
    assert float(acc.realized_st.taxable + acc.realized_lt.taxable) == pytest.approx(
        plan_gain, abs=0.01)  # the plan's trades, kept as they are
    trust = float(acc.realized_st.trust + acc.realized_lt.trust)
    assert 900 < trust <= 1_000 + 5  # the budget binds (whole shares: within $5)
    assert p.fixed_gain[0] == pytest.approx(plan_gain, abs=0.01)
    note = next(n for n in got.notes if n.startswith("Gains budget"))
    assert (f"and by the trades of the {FIRST} today ({fmt_usd(plan_gain)}; one tax "
            f"return): $1,000 left for the other taxable accounts' trades") in note


def test_page_one_names_the_one_taxable_account_the_plan_follows(two):
    """Page 1 said "The plan and the figures on this page are those of your taxable
    accounts (“taxable”, “trust”) alone": the plan follows the first taxable account; the
    trust is traded in the household section, netted on the one return."""
    from pma_lab.report.proposal import _plan_scope

    s, an, run, trades, r = two
    scope = _plan_scope(s.client)
    assert scope.startswith(f"The plan and the figures on this page are those of your {FIRST} "
                            "alone, not of all 3 accounts;")
    assert (f"your {TRUST} is traded there around today's trades, every taxable account's "
            "gains and losses netted on your one tax return (the plan's gains budget counts "
            "its sales today, and the plan's taxes are what its own trades add on top of "
            "them).") in scope
    assert "taxable accounts" not in scope
    assert trades.summary["account"] == "taxable"  # the account the plan follows


def test_the_proposal_notebooks_household_cells_show_the_trusts_rows(two):
    """The proposal notebook's own household cells (run as its kernel does, with the plan
    comparison) show the rows :func:`shelf.household_year_tax` gives, the trust's among
    them: the proposal reads as ``pma-lab household`` and the dashboard."""
    import ast

    import nbformat

    from pma_lab.report import evidence
    from pma_lab.report.proposal import PROPOSAL_NOTEBOOK

    s, an, run, trades, r = two
    nb = nbformat.read(PROPOSAL_NOTEBOOK, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"
             and "household" in c.source and "shelf." in c.source]
    assert len(cells) == 2  # solve the household, show its section
    ns = {"setup": s, "client": s.client, "shelf": shelf, "evidence": evidence,
          "trades": trades, "analysis": an}
    shown = []
    for src in cells:
        *body, last = src.strip().splitlines()
        exec("\n".join(body), ns)  # noqa: S102 - the package's own notebook
        if isinstance(ast.parse(last).body[0], ast.Expr):
            shown.append(eval(last, ns))  # noqa: S307
        else:
            exec(last, ns)  # noqa: S102
    (view,) = shown
    table = next(p for p in view.parts if getattr(p, "caption", "") == "The household plan")
    want = shelf.household_summary(ns["household"], shelf.household_year_tax(
        s, an, ns["household"]))
    pd.testing.assert_frame_equal(table.formatted(), want.formatted())
    assert f"= Tax for 2026 of your plan and today's trades in the {TRUST}" in list(
        table.frame["item"])


# ------------------------------------------------- the budget and the netting: one return
HIST = -2_410.30  # the sample's BMY and KLAC sales earlier in 2026 (a net loss)


def _loss_profile(folder):
    """The two-taxable household's profile in ``folder``, its trust's ADBE lot made 160
    shares bought at $600 (a $55,934.40 long-term loss at $250.41)."""
    profile = two_taxable_profile(folder)
    lots = (folder / "household_lots.csv").read_text()
    old = next(ln for ln in lots.splitlines() if ln.startswith("trust,HH-0019,ADBE,"))
    (folder / "household_lots.csv").write_text(
        lots.replace(old, "trust,HH-0019,ADBE,2023-02-28,160,600.00"))
    # without the keep list: since session 22 its AAPL is never sold, and these plans'
    # 2026 gains (which the trust's harvested loss offsets) were AAPL's
    text = profile.read_text()
    keep = 'hold_no_add = ["AAPL"]   # one spouse\'s employer: keep, do not add\n'
    assert keep in text
    profile.write_text(text.replace(keep, ""))
    return profile


@pytest.fixture(scope="module")
def loss_analysis(tmp_path_factory):
    """The two-taxable household with the trust's ADBE lot made 160 shares bought at $600
    (a $55,934.40 long-term loss at $250.41, which the household harvests today), and the
    runs of ``hold``, ``budget:0`` and ``budget:20000`` (two years, quarterly, no Monte
    Carlo) with each plan's household section (solved around its first step): (setup,
    {plan: (run, household)}, the analysis)."""
    folder = tmp_path_factory.mktemp("two-taxable-loss")
    profile = _loss_profile(folder)
    s = prepare(load_client(profile))
    st = TransitionSettings(mc_paths=0, horizon_years=2, workers=1)
    plans = [parse_plan(p) for p in ("hold", "budget:0", "budget:20000")]
    an = run_transition(s, plans, st)
    out = {}
    for p in plans:
        run = next(r for r in an.runs if r.path == "expected" and r.plan.name == p.name)
        assert not run.failed, run.failed
        out[p.name] = (run, shelf.household(s, first_trades(s, p, st, run=run), p))
    return s, out, an


@pytest.fixture(scope="module")
def loss(loss_analysis):
    """(setup, {plan: (run, household)}) of :func:`loss_analysis`."""
    return loss_analysis[:2]


def _net(frame) -> float:
    return float(sum(frame.gain_loss, Decimal(0))) if len(frame) else 0.0


def _in(frame, year: int):
    return frame[[d.year == year for d in frame.date_sold]] if len(frame) else frame


def test_the_gains_budget_counts_every_taxable_accounts_gains_at_every_step(loss):
    """The budget is the household's (one return): every step of the plan counts what
    every taxable account realised that tax year. The trust harvests $55,934.40 today
    around the plan's first step; the plan's later steps count that loss, as they count
    the year's earlier sales, so the $0 plan realises $56,312 of gains in its later 2026
    steps (tax-free: the household nets -$2,032) where on main it realised $1,515 (its
    steps saw only its own sales) and left the household a $56,830 net loss. In every
    year the household's net realised gain (earlier sales, the plan's and the trust's)
    is within the plan's budget, $0 included; the trust's sales the plan counted are the
    household section's, solved with the plan's budget (on main the section gave the
    trust the profile's $20,000 around a $0 plan)."""
    s, out = loss
    for name, budget in (("budget:0", 0.0), ("budget:20000", 20_000.0)):
        run, hh = out[name]
        trust = hh.dispositions[hh.dispositions.account == "trust"]
        assert _net(trust) == pytest.approx(-55_934.40, abs=0.01)  # ADBE, harvested
        # the run booked exactly the section's trust sales (lot by lot)
        assert sorted(zip(run.others.lot_id, run.others.gain_loss, strict=True)) == \
            sorted(zip(trust.lot_id, trust.gain_loss, strict=True))
        assert set(run.dispositions.account) == {"taxable"}  # the plan's own
        for y in (2026, 2027, 2028):
            household = (HIST if y == 2026 else 0.0) + _net(_in(run.dispositions, y)) \
                + _net(_in(run.others, y))
            assert household <= budget + 0.01, (name, y, household)
        assert f"Gains budget {fmt_usd(budget)} for 2026" in " ".join(hh.notes)
    run0 = out["budget:0"][0]
    day0 = run0.dispositions[run0.dispositions.date_sold == s.as_of]
    later = _net(_in(run0.dispositions, 2026)) - _net(day0)
    assert later > 50_000  # the trust's loss counted: on main $1,515 - $2,189 = -$674
    assert HIST + _net(day0) <= 0.01  # step 0 alone within $0 (what was left: $2,410.30)


def test_the_trusts_loss_nets_on_the_household_return(loss):
    """Short- and long-term netting, the $3,000 limit and the carryforward are the
    household return's. ``hold`` trades nothing; around it the trust harvests its
    $55,934.40 long-term loss (the profile's $20,000 budget: hold has none). 2026 nets
    the year's earlier -$2,410.30 and that loss: -$58,344.70, of which $3,000 offsets
    ordinary income and $55,344.70 is carried into 2027, where another $3,000 is used:
    $52,344.70 into 2028. On main the plan's years carried nothing forward (its netting
    never saw the trust's sale). The plan's own tax is what its trades add on top of
    them (hold: its dividends and interest only), and its carryforward what its trades
    add (hold: none; the household's carry is the trust's and the earlier sales')."""
    from pma_lab.tax.liability import yearly_netting

    s, out = loss
    run, hh = out["hold"]
    assert not len(run.dispositions)
    assert _net(run.others) == pytest.approx(-55_934.40, abs=0.01)
    # the household's Form 8949 rows netted on one return carry the loss forward
    hist = s.ledger.dispositions(as_decimal=True)
    every = pd.concat([hist[[d.year == 2026 for d in hist.date_sold]], run.others],
                      ignore_index=True)
    net = yearly_netting(every, s.client.profile.tax, years=[2026, 2027])
    assert list((net.carryout_st + net.carryout_lt).astype(float)) == pytest.approx(
        [58_344.70 - 3_000.0, 58_344.70 - 6_000.0], abs=0.01)
    # ... none of it the plan's: hold adds nothing to it; the return's is its own column
    assert list(run.years.carryforward) == [0.0, 0.0, 0.0]
    assert list(run.years.carryforward_return) == pytest.approx(
        [55_344.70, 52_344.70, 49_344.70], abs=0.01)
    # the budget plan's gains used the loss up: its carryforward is what it used (< 0)
    used = float(out["budget:0"][0].years.carryforward.iloc[0])
    assert used == pytest.approx(-(58_344.70 - 3_000.0), abs=0.01)


def test_a_plan_is_charged_only_with_what_its_own_trades_change_in_every_year(loss):
    """The trust's $55,934.40 loss is carried on the household return into 2027 and
    2028 ($3,000 a year against ordinary income). A plan is charged or credited only with
    what its own trades change: ``hold`` sells nothing, so its gains tax is $0 in every
    year (on main: -$1,246.50 in 2027 and in 2028, the trust's $3,000 a year at 41.55 %,
    and $14,363 of the trust's carryforward in its after-tax wealth; the value of the
    return's carryforward left is shown beside it, not credited to the plan:
    :func:`test_the_loss_carryforward_left_is_the_returns_and_never_negative`). A budget
    plan's yearly gains tax is the return's
    with its sales less the return's without them (the history and the trust's sales
    alone, netted and carried through the same years), by hand."""
    from pma_lab.plan.accounting import _dividends, _interest, _tax_context
    from pma_lab.tax.liability import yearly_netting

    s, out = loss
    hold = out["hold"][0]
    assert list(hold.years.tax_gains) == [0.0, 0.0, 0.0]
    prof = s.client.profile
    carry = (Decimal(str(prof.carryforward_st)), Decimal(str(prof.carryforward_lt)))
    hist = s.ledger.dispositions(as_decimal=True)
    hist = hist[[d.year == 2026 for d in hist.date_sold]]
    for name in ("budget:0", "budget:20000"):
        run = out[name][0]
        years = list(run.years.year)
        ctx = _tax_context(s, years, _interest(run.steps, run.interest),
                           _dividends(run.steps), others=run.others)
        income = {"years": years,
                  "interest": dict(zip(years, ctx.interest, strict=True)),
                  "dividends": dict(zip(years, ctx.dividends, strict=True))}
        base = pd.concat([hist, run.others[list(hist.columns)]], ignore_index=True)
        with_, without, none = (
            yearly_netting(f, prof.tax, *carry, **income).tax.astype(float).to_numpy()
            for f in (pd.concat([base, run.dispositions[list(hist.columns)]],
                                ignore_index=True), base, base.iloc[:0]))
        assert list(run.years.tax_gains) == pytest.approx(
            list(with_ - without + none), abs=0.01), name
        assert (with_ != 0).any(), name  # the household return's own tax is not zero


def test_the_monte_carlo_replay_nets_the_trusts_sales_too(loss):
    """Each plan's schedule replayed on the expected path's own prices, with the tax
    context the comparison gives the replay (the trust's sales today among the year's
    earlier sales), gives the run's taxes and after-tax wealth: the Monte Carlo paths
    count them in the budget and net them on the one return as the ledger does. Without
    them (the context before this change) a budget plan's replayed 2026 tax is another
    figure (its gains no longer net with the trust's loss)."""
    from pma_lab.plan.accounting import _tax_context
    from pma_lab.plan.montecarlo import MonteCarloPaths, revalue
    from pma_lab.plan.scenarios import expected_path, step_dates
    from pma_lab.plan.simulation import _cash_rate

    s, out = loss
    st = TransitionSettings(mc_paths=0, horizon_years=2, workers=1)
    rate = _cash_rate(s, st)
    dates = step_dates(s.as_of, st.horizon_years, st.steps_per_year)
    exp = expected_path(s.prices, dates, st.expected_return)
    for name in ("hold", "budget:0", "budget:20000"):
        run = out[name][0]
        assert run.schedule is not None, name
        tick = sorted(set(run.schedule.lot_ticker))
        paths = MonteCarloPaths(tuple(dates), tuple(tick),
                                exp.prices[tick].to_numpy()[None], 0.07, 0)
        years = list(run.years.year)
        got = revalue(run.schedule, paths, _tax_context(s, years, run.interest,
                                                        others=run.others),
                      dates[-1], rate.rate)
        assert got.tax_by_year[0] == pytest.approx(run.years.tax, abs=0.05), name
        assert got.wealth[0] == pytest.approx(run.after_tax_wealth, abs=0.5), name
        assert got.carryforward_end[0] == pytest.approx(run.years.carryforward.iloc[-1],
                                                        abs=0.01), name
        # the Decimal reference agrees with the vectorized replay
        ref = revalue(run.schedule, paths, _tax_context(s, years, run.interest,
                                                        others=run.others),
                      dates[-1], rate.rate, decimal=True)
        assert ref.tax_by_year[0] == pytest.approx(got.tax_by_year[0], abs=0.01), name
        assert ref.wealth[0] == pytest.approx(got.wealth[0], abs=0.01), name
        assert ref.carryforward_end[0] == pytest.approx(got.carryforward_end[0],
                                                        abs=0.01), name
        if name != "hold":  # hold realises no gain: its 2026 tax (dividends) is the same
            alone = revalue(run.schedule, paths, _tax_context(s, years, run.interest),
                            dates[-1], rate.rate)
            assert abs(alone.tax_by_year[0][0] - got.tax_by_year[0][0]) > 100, name


def test_booking_the_households_sales_never_turns_an_oversized_sale_into_a_whole_lot(loss):
    """The trust's ADBE lot holds 160 shares. Which sales are of a whole lot is the
    household's ``full_lot`` flag (set where it rounds its trades, read by its own ledger
    check), never a tolerance on the shares: a whole-lot sale books the lot's exact shares,
    a part its own shares (a part a thousandth of a share short of the lot stays a part). A
    part of 161 shares, or a whole-lot sale whose shares
    are not the lot's (160.0000004: the household solved on other lots), is an error naming
    the lot and both share counts (an oversized sale used to sell the whole 160
    silently)."""
    from pma_lab.errors import LedgerError
    from pma_lab.plan.household import book_others

    s, out = loss
    hh = out["hold"][1]
    sales = hh.lot_sales
    adbe = (sales.account == "trust") & (sales.ticker == "ADBE")
    assert adbe.sum() == 1 and float(sales.shares[adbe].iloc[0]) == 160.0
    assert bool(sales.full_lot[adbe].iloc[0])  # the household sells the whole lot
    lot = str(sales.lot_id[adbe].iloc[0])

    def booked(shares: float, whole: bool) -> Decimal:
        led = s.ledger.fork()
        n0 = len(led.dispositions())
        ls = sales.copy()
        ls.loc[adbe, "shares"] = shares
        ls.loc[adbe, "full_lot"] = whole
        book_others(led, replace(hh, lot_sales=ls), "taxable", s.as_of, s.prices)
        d = led.dispositions(as_decimal=True).iloc[n0:]
        return sum(d.shares[d.lot_id == lot], Decimal(0))

    assert booked(160.0, True) == Decimal(160)
    assert booked(160.0, False) == Decimal(160)
    assert booked(100.0, False) == Decimal(100)
    assert booked(159.999, False) == Decimal("159.999")
    for shares, whole, words in ((161.0, False, ""), (161.0, True, r" \(the whole lot\)"),
                                 (160.0000004, True, r" \(the whole lot\)")):
        with pytest.raises(LedgerError, match=rf"{shares} shares of lot {lot} \(ADBE\) in "
                                              rf"account trust{words}, which holds 160"):
            booked(shares, whole)


def test_the_households_whole_lot_flag_is_what_its_rounding_sold(two):
    """``full_lot`` marks exactly the lots the household sells in full (the rounded shares
    are the lot's), so its own ledger check and the plan's booking relieve the same shares."""
    s, an, run, trades, r = two
    ls = r.lot_sales
    held = {(lt.account, lt.lot_id): float(lt.shares) for lt in s.ledger.lots()}
    lots = [held[k] for k in zip(ls.account, ls.lot_id, strict=True)]
    assert list(ls.full_lot) == [q >= h for q, h in zip(ls.shares, lots, strict=True)]
    assert ls.full_lot.any() and not ls.full_lot.all()


def test_the_section_names_the_clients_own_loss_limit(two):
    """Review 16b M4: the section said "the $3,000 limit" whatever the filing status; it
    now names the profile's (married filing jointly here: $3,000; married filing
    separately: $1,500)."""
    s, an, run, trades, r = two
    assert r.loss_limit == float(s.client.profile.tax.loss_limit) == 3000.0
    yt = shelf.household_year_tax(s, an, r)
    assert "netting, the $3,000 limit, the carryforward" in shelf.household_view(r, yt).intro
    mfs = shelf.household_view(replace(r, loss_limit=1500.0), yt).intro
    assert "netting, the $1,500 limit, the carryforward" in mfs and "$3,000" not in mfs


def test_the_loss_carryforward_left_is_the_returns_and_never_negative(loss_analysis):
    """A carryforward belongs to the return, not to an account. The trust harvests a
    $55,934.40 loss around every plan's first step; the budget plans' gains use it up, so
    the return carries nothing out of 2028, while around ``hold`` it carries $49,344.70.
    The comparison's "Loss carryforward left" (page one, the plans side by side and one
    row a plan, the harvesting table, the dashboard's plan table, the command line) showed
    what the plan's trades add to it: -$49,345 for the budget plans (a negative
    carryforward) and $0 for hold. It is now the return's ($0 and $49,345, its value the
    return's too: $0 and the value of $49,344.70 at the horizon), and so is the plan's
    year by year column, and the tables say whose it is."""
    from pma_lab.app.cli import _plan_tables
    from pma_lab.app.dashboard.render import comparison_table as dashboard_table
    from pma_lab.plan.accounting import (
        _dividends,
        _interest,
        _tax_context,
        return_carryforward,
    )
    from pma_lab.plan.montecarlo import carry_left_value
    from pma_lab.plan.simulation import _cash_rate
    from pma_lab.tax.liability import yearly_netting

    s, out, an = loss_analysis
    c = an.comparison.set_index("plan")
    for name, usd in (("hold", 49_344.70), ("budget:0", 0.0), ("budget:20000", 0.0)):
        run = out[name][0]
        assert c.carryforward_end[name] == pytest.approx(usd, abs=0.01), name
        assert list(return_carryforward(run.years)) == list(run.years.carryforward_return)
    assert (an.comparison.carryforward_end >= 0).all()
    assert (an.comparison.carryforward_value_end >= 0).all()
    # its value: the return's carryforward out of 2028, valued at the horizon, by hand
    hold = out["hold"][0]
    years = [int(y) for y in hold.years.year]
    ctx = _tax_context(s, years, _interest(hold.steps, hold.interest),
                       _dividends(hold.steps), others=hold.others)
    hist = s.ledger.dispositions(as_decimal=True)
    every = pd.concat([hist[[d.year == 2026 for d in hist.date_sold]], hold.others],
                      ignore_index=True)
    last = yearly_netting(every, s.client.profile.tax, years=years,
                          interest=dict(zip(years, ctx.interest, strict=True)),
                          dividends=dict(zip(years, ctx.dividends, strict=True))).iloc[-1]
    assert float(last.carryout_st + last.carryout_lt) == pytest.approx(49_344.70, abs=0.01)
    value = carry_left_value(last.carryout_st, last.carryout_lt, ctx,
                             _cash_rate(s, an.settings).rate, ctx.interest_in(len(years) - 1),
                             ctx.dividends_in(len(years) - 1))
    assert value > 10_000
    assert c.carryforward_value_end["hold"] == pytest.approx(value, abs=0.01)
    assert c.carryforward_value_end["budget:0"] == 0.0
    # every front end shows the same cells: the proposal's tables ...
    table = report.comparison_table(an)
    cells = table.formatted()["carryforward_end"]
    assert cells["hold"] == fmt_usd(49_344.70) == "$49,345"
    assert cells["budget:0"] == cells["budget:20000"] == "$0"
    alt = list(report.alternatives_table(an).frame.set_index("").loc["Loss carryforward left"])
    assert sorted(alt) == ["$0", "$0", "$0", "$49,345"]
    note = report.carryforward_note(an)
    assert "your tax return's, not one account's" in note
    assert "other taxable accounts' trades today" in note
    assert note in report.plans_note(an) and table.note == note
    # ... the client's plan year by year (the return's carryforward, not what it adds)
    mine = out["budget:20000"][0]
    yt = report.yearly_table(an)
    assert list(yt.frame["Loss carryforward at year end"]) == [0.0, 0.0, 0.0]
    assert list(mine.years.carryforward) == pytest.approx([-55_344.70, -52_344.70,
                                                           -49_344.70], abs=0.01)
    assert "The loss carryforward at year end is your tax return's" in yt.caption
    harvest = dict(report.harvesting(an, first_trades(s, mine.plan, an.settings, run=mine),
                                     s).frame.itertuples(index=False, name=None))
    assert harvest["Loss carryforward left in 2 years"] == "$0"
    # ... its value at the horizon, where the carryforward is left (it read "today")
    assert harvest["Value of that carryforward in 2 years (used at $3,000 a year against "
                   "income)"] == "$0"
    # ... the dashboard's plan table and the command line's
    shown = dashboard_table(table, "hold")
    row = re.search(r'<tr[^>]*data-plan="hold">(.*?)</tr>', shown).group(1)
    assert '<td class="pma-col-carryforward_end">$49,345</td>' in row
    assert "-$49,345" not in shown
    text = _plan_tables(an, s.benchmark)
    assert note in text and "-$49,345" not in text


def _with_ladder(folder, trust_gain: bool):
    """The two-taxable household with a $100,000 Treasury ladder and a 60/40 core
    allocation (5-point band); ``trust_gain``: the trust bought 100 MSFT at $100 on
    2026-01-05 and sold them at $250 on 2026-07-10 (a $15,000 short-term gain this year)."""
    profile = two_taxable_profile(folder)
    text = profile.read_text()
    profile.write_text(text.replace("[target]", '[fixed_income]\nkind = "treasury"\n'
                                    'years = 10\namount = 100000.0\n\n[core]\n'
                                    'allocation = "60/40"\nband = 0.05\n\n[target]'))
    if trust_gain:
        with open(folder / "recent_trades.csv", "a") as f:
            f.write("2026-01-05,trust,taxable,MSFT,buy,100,100.00,T-MSFT,\n"
                    "2026-07-10,trust,taxable,MSFT,sell,100,250.00,T-MSFT,specific\n")
    return prepare(load_client(profile))


def test_the_core_allocation_section_shows_the_band_move_the_plan_makes(tmp_path):
    """The plans move between the ladder and the account they follow (the first taxable
    one: ``todays_flow``, ``simulate``), and the band's sale is limited by the gains
    budget of the one tax return: every taxable account's sales of the year count. The
    core allocation section sized the band's move on the whole household's equity (both
    taxable accounts and the IRA, $1,706,417 with cash), limited by taxable account 1's
    sales: it showed $164,921 sold while the plan's first step sells $147,464 from taxable
    account 1 ($607,041 against a $100,000 ladder); it now shows the plan's move, on the
    plan's account (the section names it, and so does the mixed-portfolio note, which
    counted the household's equity too). Without the trust's sale the
    $20,000 budget allows the whole move; with the trust's $15,000 gain earlier in 2026
    it allows $132,343 of it, and the first step's gains with the year's earlier sales
    (the trust's among them) stay within the budget."""
    from pma_lab.plan.simulation import todays_flow

    for gain, moved in ((False, 147_464.28), (True, 132_343.0)):
        folder = tmp_path / str(gain)
        folder.mkdir()
        s = _with_ladder(folder, gain)
        plan = client_plan(s)
        assert plan.name == "budget:20000"
        ytd = sum(s.ledger.year_gains(2026))
        assert ytd == pytest.approx(HIST + (15_000.0 if gain else 0.0), abs=0.01)
        flow, move = todays_flow(s, plan)
        assert flow == 0.0 and -move == pytest.approx(moved, abs=0.01)
        section = shelf.sleeves(s, plan)
        assert section.sell_equity == pytest.approx(-move, abs=0.01)
        assert section.before.equity == pytest.approx(607_040.80, abs=0.01)  # account 1's
        assert section.account == FIRST
        why = section.moves.reason.iloc[-1]
        if gain:
            assert f"moved {fmt_usd(-move)} of the $147,464 needed to reach the band" in why
        else:
            assert "sell back to the edge" in why
        s0 = first_trades(s, plan).summary
        assert ytd + float(s0.realized_st + s0.realized_lt) <= 20_000.0 + 0.01
        view = shelf.sleeves_view(section)
        assert f"the cash in your {FIRST} (today's trades invest that cash), the account " \
               "the plans follow" in view.intro
        note = shelf.mixed_note(s).text
        assert f"These plans cover your {FIRST} and your ladder" in note
        assert fmt_usd(607_040.80) in note


@pytest.fixture(scope="module")
def harvest(tmp_path_factory):
    """The two-taxable household whose trust holds the ADBE lot at a $55,934.40 loss
    (as :func:`loss_analysis`), the client's own plan over one year (no Monte Carlo):
    (setup, analysis, the plan's first step, household)."""
    folder = tmp_path_factory.mktemp("two-taxable-harvest")
    profile = _loss_profile(folder)
    s = prepare(load_client(profile))
    mine = client_plan(s)
    st = TransitionSettings(mc_paths=0, horizon_years=1, workers=1)
    an = run_transition(s, [mine], st)
    run = next(r for r in an.runs if r.path == "expected" and r.plan == mine)
    trades = first_trades(s, mine, st, run=run)
    return s, an, trades, shelf.household(s, trades)


def test_the_harvesting_table_reads_the_whole_returns_trades_today(harvest):
    """The harvesting table's today's trades are the return's, as the household section's:
    every taxable account's losses (the ledger's Form 8949 rows) and the carryforward they
    add. On main (rev1v rh3, a second taxable account holding a loss) the table read "Added
    by today's trades' losses $0" and "Loss carryforward into 2027 after today's trades
    $0" while the household section read "Loss carryforward added $54,681": the table read
    the plan's account alone."""
    s, an, trades, r = harvest
    d = r.dispositions
    assert set(d.account) == {"taxable", "trust"}
    t = report.harvesting(an, trades, s, r)
    row = dict(zip(t.frame["item"], t.frame["value"], strict=True))
    losses = float(sum((g for g in d.gain_loss if g < 0), Decimal(0)))
    assert losses < -55_000  # the trust's ADBE loss among them
    assert row["Losses harvested by today's trades"] == fmt_usd(-losses)
    added = r.carryforward_st + r.carryforward_lt
    assert added > 0
    assert row["Added by today's trades' losses"] == fmt_usd(added)
    before = next(v for k, v in row.items() if k.startswith("Loss carryforward into 2027 w"))
    assert before == fmt_usd(r.carryforward_before)
    after = row["Loss carryforward into 2027 after today's trades"]
    assert after == fmt_usd(r.carryforward_before + added)
    # over the year: the plan's own losses and the other accounts' today, never fewer
    run = next(x for x in an.runs if x.path == "expected" and x.plan == client_plan(s))
    over = row["Losses harvested over 1 year (your plan, with today's sales in your other "
               "taxable accounts)"]
    others = float(sum((g for g in run.others.gain_loss if g < 0), Decimal(0)))
    assert over == fmt_usd(-float(run.years.harvested_losses.sum()) - others)
    assert round_usd(-float(run.years.harvested_losses.sum()) - others) >= round_usd(-losses)
    # the household section's row, the same figure
    hs = shelf.household_summary(r).formatted()
    shown = dict(zip(hs["item"], hs["value"], strict=True))
    from pma_lab.report.labels import CARRYFORWARD_CREATED

    assert shown[CARRYFORWARD_CREATED] == fmt_usd(added)
    assert "today's trades are those of all your taxable accounts" in t.caption
    assert "all your taxable accounts" in t._repr_html_()
    # without the household: the plan's account alone (what the table read on main)
    f = report.harvesting(an, trades, s).frame
    alone = dict(zip(f["item"], f["value"], strict=True))
    assert alone["Losses harvested by today's trades"] != row[
        "Losses harvested by today's trades"]


def test_hold_tax_if_sold_nets_the_trusts_loss_and_its_after_tax_value_charges_it(
        loss_analysis):
    """rev1v rh3: Hold's "Tax if sold" was $17,757 lower with a second taxable account's
    loss while its after-tax value barely moved. Both are right and now say so: the
    liquidation is taxed on the return (the trust's loss lowers it), and the after-tax
    value charges what the liquidation uses up of that loss (``carry_left`` below zero),
    so it is not the value less the tax if sold; the note under the plans says it."""
    from pma_lab.plan.montecarlo import wealth_at_horizon
    from pma_lab.plan.simulation import _cash_rate

    s, out, an = loss_analysis
    hold = out["hold"][0]
    y = hold.years
    horizon = hold.steps.date.iloc[-1]
    r = _cash_rate(s, an.settings).rate
    uncredited = wealth_at_horizon(float(y.value_end.iloc[-1]), hold.liquidation_tax,
                                   y.tax.to_numpy(), list(y.year), horizon, r)
    used = hold.after_tax_wealth - uncredited  # the value of the trust's loss used up
    assert used < -5_000
    note = report.carryforward_note(an)
    assert "\u201cTax if sold\u201d is the return's too" in note
    assert "not the value less the tax if sold" in note


def _carry_rows(table) -> list[tuple[str, str]]:
    """The harvesting table's four rows on the carryforward around today's trades."""
    keys = ("Loss carryforward from", "Loss carryforward into", "Used up by", "Added by")
    return [(k, v) for k, v in zip(table.frame["item"], table.frame["value"], strict=True)
            if k.startswith(keys)]


def test_the_dashboards_line_on_todays_trades_reads_the_returns_carryforward(tmp_path):
    """The dashboard's line on today's trades gives the loss carryforward the proposal's
    harvesting table gives (the tax return's, the household solved around the trades on
    screen), with its caption's words. On main it read the plan's account alone, drawn
    before the household was solved: "Added by today's trades' losses: $0" and "Loss
    carryforward into 2027 after today's trades: $0" where the proposal reads $33,338
    (the trust harvests its ADBE loss around the $20,000 budget plan's first step)."""
    from pma_lab.app.dashboard import DashboardSettings, ProposalEngine, ProposalView
    from pma_lab.app.dashboard.render import CARRY_PENDING
    from pma_lab.app.dashboard.widgets import load_profile_client

    profile = _loss_profile(tmp_path)
    view = ProposalView(engine=ProposalEngine(DashboardSettings.from_proposal(
        plans=("hold",), horizon_years=1, mc_paths=0, workers=1, frontier_points=3)),
        debounce=0.0)
    try:
        view.client = load_profile_client(profile)
        assert view.error == "", view.error
        setup, fy, an, line = view.setup, view.first_year, view.analysis, view._summary.value
        hh = view.shelf.results.household
    finally:
        view.close()
    # the proposal's calls: the household around the same trades, the harvesting table
    mine = shelf.household(setup, fy, view.plan)
    assert mine.carryforward_st + mine.carryforward_lt == pytest.approx(
        hh.carryforward_st + hh.carryforward_lt)
    rows = _carry_rows(report.harvesting(an, fy, setup, mine))
    assert len(rows) == 4, rows
    added = dict(rows)["Added by today's trades' losses"]
    assert added == fmt_usd(mine.carryforward_st + mine.carryforward_lt) != "$0"
    shown = re.search(r'class="pma-carryforward">(.*?)</div>', line)
    assert shown is not None, line
    assert shown.group(1) == "; ".join(f"{html.escape(k)}: {html.escape(v)}"
                                       for k, v in rows)
    assert html.escape("oday's trades are those of all your taxable accounts") in line
    assert html.escape(CARRY_PENDING) not in line
    # the plan's account alone reads otherwise: what the line showed on main
    alone = _carry_rows(report.harvesting(an, fy, setup))
    assert dict(alone)["Added by today's trades' losses"] == "$0" != added


def test_the_frontiers_plan_row_is_the_accounts_and_its_note_the_returns(harvest, capsys):
    """The frontier's "Your plan today" row is read against the points above it, each
    this account's trades alone, so its figures are the account's own; when another taxable
    account sold today its note gives the tax return's tax this year and loss carryforward
    added (every account's trades, as the harvesting table's "Added by today's trades'
    losses"), in the proposal's table and ``pma-lab frontier``'s. Earlier this session the
    row's column was the return's beside the account's tax (reviewer: $5,819 of tax with
    $33,311 added, read as harvesting twice the most tax-averse point); on f49b823 the
    return's figure was nowhere in the frontier."""
    from pma_lab.app.cli import main
    from pma_lab.report.labels import CARRYFORWARD_CREATED, FRONTIER_TAX

    s, an, trades, r = harvest
    front = report.frontier(s, 3)
    added = r.carryforward_st + r.carryforward_lt
    assert added > 0
    t = report.frontier_table(front, s, trades, household=r)
    row = t.formatted().iloc[-1]
    assert row["Point"].startswith("Your plan today")
    own = report.frontier_table(front, s, trades).formatted().iloc[-1]
    assert row[CARRYFORWARD_CREATED] == own[CARRYFORWARD_CREATED] == "$0"
    assert row[FRONTIER_TAX] == own[FRONTIER_TAX]
    note = report.PLAN_TODAY_CARRY.format(
        tax=f"tax this year {fmt_usd(r.tax_this_year)}, ", added=fmt_usd(added))
    assert row["Note"] == note
    harvesting = dict(_carry_rows(report.harvesting(an, trades, s, r)))
    assert note.endswith(harvesting["Added by today's trades' losses"])
    # the command line solves the household around its plan row, as the proposal
    profile = s.client.profile.path
    assert main(["frontier", "--profile", str(profile), "--points", "3"]) == 0
    out = capsys.readouterr().out
    assert note in " ".join(out.split()), out


def test_a_numbered_account_name_is_kept_on_one_line(two):
    """"taxable account 2" (two taxable accounts with neither name nor number) is kept on
    one line wherever the proposal's HTML (and so its PDF) and the dashboard show it, as an
    account number is: the PDF broke it as "taxable account" / "2" in the household
    section's intro and tax rows and the target's account sizes. Its words stay plain
    (no non-breaking space: the command line, the files and these tests read them)."""
    from pma_lab.app.dashboard.render import STYLE, comparison_table, first_year_summary

    s, an, run, trades, r = two
    v = shelf.household_view(r, shelf.household_year_tax(s, an, r))
    page = v._repr_html_()
    nowrap = '<span style="white-space: nowrap">{}</span>'
    for name in (TRUST, FIRST, TRUST.capitalize()):
        assert page.count(nowrap.format(name)) == page.count(name), name  # every one
    assert page.count(nowrap.format(TRUST)) >= 3  # the intro and the tax rows
    assert "\u00a0" not in v.intro and f"the {TRUST} are on the same tax return" in v.intro
    # the target's sizes, a key-value cell
    t = report.target_summary(s)
    assert TRUST in repr(t) and nowrap.format(TRUST) in t._repr_html_()
    # the dashboard: the trades' line names the account on one line; its tables escape
    # their cells as the proposal's
    line = first_year_summary(trades.summary, "hold", 1, account=FIRST)
    assert f'<b class="pma-account">{FIRST}</b>' in line
    assert ".pma-account{white-space:nowrap}" in STYLE
    note = report.ReportTable(pd.DataFrame({"Plan": ["x"], "note": [f"in the {TRUST}"]}),
                              wrap=("Plan", "note"))
    assert nowrap.format(TRUST) in comparison_table(note, "x")


def test_the_returns_carryforward_before_today_keeps_its_character(two):
    """Review s18 (r2): ``report.todays_carryforward`` put the household's whole loss
    carryforward before today's trades into short-term (``carryforward_lt_before`` 0). With
    a $40,000 long-term carry-in ([tax] carryforward_lt), the return's carryforward into
    next year without today's trades is long-term (less the year's offset and gains); it
    is now split by character as the household's ledger nets it (Schedule D), the two
    adding to :attr:`HouseholdResult.carryforward_before`."""
    s, _, _, trades, _ = two
    prof = replace(s.client.profile, carryforward_st=0.0, carryforward_lt=40_000.0)
    s2 = replace(s, client=replace(s.client, profile=prof))
    r = shelf.household(s2, trades)
    assert r.carryforward_lt_before > 30_000 and r.carryforward_st_before >= 0
    assert r.carryforward_st_before + r.carryforward_lt_before == pytest.approx(
        r.carryforward_before, abs=1e-9)
    carry, _ = report.todays_carryforward(trades.summary, r)
    assert carry["carryforward_lt_before"] == r.carryforward_lt_before
    assert carry["carryforward_st_before"] == r.carryforward_st_before
    assert (carry["carryforward_st"], carry["carryforward_lt"]) == (r.carryforward_st,
                                                                    r.carryforward_lt)


@pytest.mark.slow
def test_the_cli_frontiers_plan_row_is_the_proposals_one_computation(tmp_path, capsys,
                                                                     monkeypatch):
    """``pma-lab frontier``'s "Your plan today" row and its note read the proposal's
    figures: the first step the plan run solved (``report.plan_today``, as ``pma-lab
    household``), the household around it. On main the command solved the first step
    again without the run (``first_trades`` without ``run``), so its row could read
    otherwise than the proposal's (s18: $33,311 against $33,338 on this client); it now
    never solves the step apart from the run (fails on main: a call without the run)."""
    import pma_lab.plan.transition as transition
    from pma_lab.app.cli import main

    profile = _loss_profile(tmp_path)
    calls = []
    real = transition.first_trades

    def spy(*args, **kw):
        calls.append(kw.get("run"))
        return real(*args, **kw)

    monkeypatch.setattr(transition, "first_trades", spy)
    assert main(["frontier", "--profile", str(profile), "--points", "3"]) == 0
    out = capsys.readouterr().out
    assert calls and all(r is not None for r in calls), calls
    monkeypatch.undo()
    # the proposal's: its comparison (the proposal's steps and horizon, no Monte Carlo
    # paths: they change neither the first step nor its year), today's trades and the
    # household around them, as the notebook computes them
    s = prepare(load_client(profile))
    mine = client_plan(s)
    an = run_transition(s, [mine], report.transition_settings(mc_paths=0, workers=1))
    trades = report.todays_trades(s, an)
    hh = shelf.household(s, trades)
    table = report.frontier_table(report.frontier(s, 3), s, trades, household=hh)
    assert repr(table) in out  # every row, the plan's note with the return's figures
    row = table.formatted().iloc[-1]
    assert row["Point"].startswith("Your plan today")
    added = fmt_usd(hh.carryforward_st + hh.carryforward_lt)
    assert row["Note"].endswith(f"loss carryforward added {added}") and added != "$0"
    # ... and the harvesting table's "Added by today's trades' losses", the same figure
    assert dict(_carry_rows(report.harvesting(an, trades, s, hh)))[
        "Added by today's trades' losses"] == added


@pytest.mark.slow
def test_the_cli_rebalance_prints_the_returns_carryforward(tmp_path, capsys):
    """``pma-lab rebalance`` of a household's taxable account prints the tax return's loss
    carryforward around its trades, as the proposal's harvesting table and the dashboard's
    line read it (``report.todays_carryforward`` of the household solved around the
    trades), with the table's words; on main it printed the account's own rows ("Added by
    today's trades' losses: $14,420" here, where the trust harvests its $55,934 ADBE loss
    around the same trades)."""
    from pma_lab.app.cli import main
    from pma_lab.optimize.engine import default_settings, problem_for_client
    from pma_lab.plan.household import around_trades
    from pma_lab.report.labels import carryforward_rows, loss_limit

    profile = _loss_profile(tmp_path)
    assert main(["rebalance", "--profile", str(profile)]) == 0
    out = capsys.readouterr().out
    s = prepare(load_client(profile))
    r = problem_for_client(s, None, default_settings(s)).solve("two_step")
    hh = around_trades(s, r)
    assert hh is not None and hh.fixed_account == "taxable"
    carry, words = report.todays_carryforward(r.summary, hh)
    assert words == report.RETURN_TRADES
    rows = carryforward_rows(carry, s.as_of.year, loss_limit(s), 0.0)
    for label, usd in rows:
        assert f"  {label}: {fmt_usd(usd)}\n" in out, (label, out)
    assert f"({words[0].upper()}{words[1:]}.)" in out
    # the account's own rows read otherwise: what the command printed on main
    key = "Added by today's trades' losses"
    own = dict(carryforward_rows(r.summary, s.as_of.year, loss_limit(s), 0.0))[key]
    assert dict(rows)[key] > own > 0
    assert f"{key}: {fmt_usd(own)}" not in out
