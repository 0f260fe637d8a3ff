"""pma_lab.report.labels: one source for every plan and comparison label a client reads.

The proposal, the dashboard and the command line word plans, mark the client's own and head
the plan comparison from :mod:`pma_lab.report.labels`; a label spelled anywhere else would
drift (issue 10: a label that differs between the proposal and the dashboard is a bug).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pma_lab
import pma_lab.plan.transition as transition
from pma_lab.formatting import FORMATTERS, fmt_years
from pma_lab.market.benchmark import Benchmark, sp500_proxy
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.transition import parse_plan
from pma_lab.report import labels
from pma_lab.report import proposal as report

PACKAGE = Path(pma_lab.__file__).parent

def _with_mc_paths(n: int):
    """``run_transition`` with ``n`` Monte Carlo paths (report.transition builds its
    settings with the engine's default; only the number of paths changes)."""
    real = transition.run_transition

    def run(setup, plans, settings=None, *args, **kwargs):
        return real(setup, plans, dataclasses.replace(settings, mc_paths=n), *args, **kwargs)

    return run



# ------------------------------------------------------------------------------ the words
@pytest.mark.parametrize("code,words", [
    ("immediate", "Move now"),
    ("3y", "Move over 3 years"),
    ("1y", "Move over 1 year"),
    ("budget:150000", "Gains budget $150,000 a year"),
    ("budget:60000:st=0", "Gains budget $60,000 a year (short-term $0)"),
    # one term capped, no total: the other term is said to be unlimited
    ("budget:st=0", "Gains budget: short-term $0 a year, long-term unlimited"),
    ("budget:lt=50000", "Gains budget: long-term $50,000 a year, short-term unlimited"),
    ("budget:st=0:lt=50000", "Gains budget: short-term $0 and long-term $50,000 a year"),
    ("hold", "Hold (no change)"),
    ("5y:te=0.02", "Move over 5 years, tracking error to the target at most 2.00%"),
])
def test_plan_names_in_client_words(code, words):
    plan = parse_plan(code)
    assert labels.plan_name(plan) == words
    assert labels.plan_cell(plan, False) == words
    assert labels.plan_cell(plan, True) == "\u2605 Your plan: " + words
    assert labels.YOUR_PLAN == "\u2605 Your plan: "


def test_plan_name_refuses_a_code():
    with pytest.raises(TypeError, match="parse_plan"):
        labels.plan_name("3y")


def test_comparison_headings_fill_in_the_horizon_in_order():
    h = labels.comparison_headings(5)
    assert list(h) == ["Plan", *[m.key for m in labels.COMPARISON],
                       *[m.key for m in labels.COMPARISON_EXTRA], "note"]
    assert h["tax_total"] == "Tax over 5 years"
    assert h["te_end"] == "Tracking error in 5 years"
    assert h["after_tax_wealth"] == "After-tax value in 5 years"
    assert h["after_tax_range"] == "Range (1 in 10 below / above)"
    assert h["liquidation_tax"] == "Tax if sold in 5 years"
    assert "vs_immediate" not in h  # one reference (holding), as on page one
    assert labels.heading("tax_total", 3) == "Tax over 3 years"
    assert labels.heading("tax_total", 1) == "Tax over 1 year"
    assert "liquidation_tax" not in labels.comparison_headings(3, extra=False)
    with pytest.raises(KeyError):
        labels.heading("vs_immediate", 5)
    # every figure's format is one the report tables know
    for m in (*labels.COMPARISON, *labels.COMPARISON_EXTRA):
        assert m.format in FORMATTERS, m


def test_range_cell_and_year_heading():
    assert labels.after_tax_range(1_234_567.4, 2_000_000.5) == "$1,234,567 to $2,000,001"  # half up
    assert labels.after_tax_range(float("nan"), 1.0) == "\u2013 to $1"
    assert labels.te_year_heading(2027.0) == "2027"


def test_benchmark_label():
    proxy = sp500_proxy("2026-01-02")
    assert proxy.name == "S&P 500 proxy" and proxy.label == "S&P 500"
    assert labels.benchmark_label(proxy) == "S&P 500"
    own = Benchmark.from_weights(pd.Series({"AAPL": 0.6, "MSFT": 0.4}), name="Tech two")
    assert own.label == "Tech two" == labels.benchmark_label(own)
    assert proxy.restricted_to(proxy.tickers[:300]).label == "S&P 500"


# ------------------------------------------------------------- nobody else spells them
def _literals(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
    return out


FRONT_ENDS = [PACKAGE / "report" / "proposal.py", PACKAGE / "report" / "shelf.py",
              PACKAGE / "app" / "cli.py", *sorted((PACKAGE / "app" / "dashboard").glob("*.py"))]


@pytest.mark.parametrize("path", FRONT_ENDS, ids=lambda p: p.name)
def test_front_ends_do_not_spell_plan_labels(path):
    """The marker and the plan words come from labels (formatting.fmt_plan), never typed."""
    bad = [(n, s) for n, s in _literals(path)
           if "\u2605" in s or "Your plan:" in s or "Client plan" in s
           or re.match(r"Move over \d|Gains budget:? \$?\d|Gains budget: (short|long)", s)
           or s.endswith("-term unlimited")]
    assert not bad, f"{path.name} spells plan labels itself: {bad}"
    # and names plans through labels (plan_name, plan_cell), not the formatter below it
    src = path.read_text(encoding="utf-8")
    assert "fmt_plan(" not in src, f"{path.name}: use pma_lab.report.labels.plan_name"


# ------------------------------------------------------------ the tables use the labels
@pytest.fixture(scope="module")
def analysis():
    """young-pro, its own plan, moving now and holding: one annual step, a few MC paths."""
    setup = prepare(report.load(clients_dir() / "young-pro" / "profile.toml", [], ""))
    mp = pytest.MonkeyPatch()
    mp.setattr(transition, "run_transition", _with_mc_paths(8))
    try:
        return setup, report.transition(setup, "immediate", 1, True)
    finally:
        mp.undo()


def test_comparison_table_is_headed_and_worded_by_labels(analysis):
    setup, an = analysis
    t = report.comparison_table(an)
    h = report._horizon(an)
    heads = labels.comparison_headings(h)
    assert [t.headers[c] for c in t.frame.columns] == [heads[c] for c in t.frame.columns]
    assert list(t.frame.columns[:len(labels.COMPARISON) + 1]) == \
        ["Plan", *[m.key for m in labels.COMPARISON]]
    c = an.comparison.set_index("plan")
    mine = transition.client_plan(setup)
    # the client's plan first and marked, its row highlighted; plan codes are the index
    assert t.frame.index[0] == mine.name and t.highlight == (0,)
    assert t.frame["Plan"].iloc[0] == labels.plan_cell(mine, True)
    for code, row in t.frame.iterrows():
        r = c.loc[code]
        assert row["after_tax_range"] == labels.after_tax_range(r.after_tax_wealth_p10,
                                                                r.after_tax_wealth_p90)
        assert row["years_to_target"] == fmt_years(r.years_to_target, h)
        assert row["tax_total"] == r.tax_total  # numbers stay numbers, unchanged
    html = t._repr_html_()
    for c in t.frame.columns:
        assert f">{heads[c]}</th>" in html.replace("&amp;", "&"), c
    text = repr(t)
    assert "Range (1 in 10 below / above)" in text and "tax_total" not in text


def test_alternatives_and_comparison_show_the_same_figures(analysis):
    """Page one's side-by-side table and the comparison: same headings, same cells."""
    _, an = analysis
    alt = report.alternatives_table(an).formatted()
    cmp_ = report.comparison_table(an)
    txt = cmp_.formatted()
    h = report._horizon(an)
    assert list(alt[""]) == [m.label(h) for m in labels.COMPARISON]
    for j, (code, row) in enumerate(txt.iterrows()):
        assert alt.columns[j + 1] == row["Plan"]
        assert list(alt.iloc[:, j + 1]) == [row[m.key] for m in labels.COMPARISON], code


def test_te_years_table(analysis):
    setup, an = analysis
    t = report.te_years_table(an, setup.benchmark)
    run = next(r for r in an.runs if r.path == "expected")
    years = [str(int(y)) for y in run.years.year]
    assert [t.headers[c] for c in t.frame.columns] == ["Plan", *years]
    # annual steps (the fixture's): a year's figure is its one step's, on the as-of
    # anniversary, not the end of the year (reviewer 1, session 25)
    d = run.steps.date.iloc[0]
    assert t.caption == ("Tracking error to the S&P 500 at each step (annual steps on the "
                         f"as-of anniversary, {d.day} {d:%B}; expected path)")
    assert run.years.end_step.iloc[0] == setup.as_of  # the first year's figures: today's
    quarterly = dataclasses.replace(an, settings=dataclasses.replace(an.settings,
                                                                     steps_per_year=4))
    assert report.te_years_table(quarterly, setup.benchmark).caption == (
        "Tracking error to the S&P 500 at the end of each year (expected path)")
    c = an.comparison.set_index("plan")
    for code, row in t.frame.iterrows():
        assert row["te_year1"] == c.loc[code, "te_year1"]
    assert list(t.frame.index) == list(report.comparison_table(an).frame.index)


def test_engine_text_in_client_words():
    text = ("probability below the diversified plan compares with 'immediate' on the same "
            "path. Tax per year: Schedule D netting (pma_lab.tax.liability)")
    assert report.client_words(text) == ("probability below moving now compares with moving "
                                         "now on the same path. Tax per year: Schedule D "
                                         "netting")


def test_transition_findings_are_written_from_the_numbers(analysis):
    """The research notebook ends with findings worded from the analysis it computed."""
    _, an = analysis
    text = report.transition_findings(an).text
    c = report.comparison_table(an).frame
    best = c.loc[c.after_tax_wealth.astype(float).idxmax()]
    assert best["Plan"].removeprefix(labels.YOUR_PLAN) in text
    assert report.fmt_usd(best.after_tax_wealth) in text
    mine = c.iloc[0]
    assert labels.after_tax_range(*an.comparison.set_index("plan").loc[
        c.index[0], ["after_tax_wealth_p10", "after_tax_wealth_p90"]]) in text
    assert report.fmt_usd(mine.tax_total) in text
    assert "immediate" not in text and "budget:" not in text


def _noisy(an, offsets: dict, below: dict):
    """``an`` (moving now, hold) plus a 3-year timeline (a copy of moving now's run), each
    with 200 Monte Carlo paths: a common market path, independent noise ($20,000 a path) and
    the plan kind's offset; expected-path wealth and the chance below moving now set per kind
    (the reviewer's notebook 03: plans $6 apart, 42-45 % below moving now)."""
    replace = dataclasses.replace
    rng = np.random.default_rng(0)
    market = 2.4e6 + rng.normal(0, 3e5, 200)
    imm = next(r for r in an.runs if r.path == "expected" and r.plan.kind == "immediate")
    three = replace(imm, plan=parse_plan("3y"))
    runs = []
    for r in (*an.runs, three):
        if r.path == "expected" and r.mc is not None:
            w = market + offsets[r.plan.kind] + rng.normal(0, 2e4, 200)
            r = replace(r, mc=replace(r.mc, wealth=w))
        runs.append(r)
    c = an.comparison.copy()
    row = c[c.plan == imm.plan.name].assign(plan=three.plan.name, is_client_plan=False)
    c = pd.concat([c, row], ignore_index=True)
    kinds = {r.plan.name: r.plan.kind for r in runs}
    c["after_tax_wealth"] = [2_415_948.0 + offsets[kinds[p]] for p in c.plan]
    c["prob_below_diversified"] = [below[kinds[p]] for p in c.plan]
    return replace(an, runs=tuple(runs), comparison=c), three.plan


def test_transition_findings_do_not_rank_plans_within_the_noise(analysis):
    """Notebook 03 named a "highest after-tax value" plan on a $6 difference and the plan
    "most often below moving now" at 45 % against 42 % on 200 paths: within the noise
    (paired per-path differences, binomial standard error) the findings say "about the
    same"."""
    _, an = analysis
    noisy, three = _noisy(an, {"timeline": 6.0, "hold": 0.0, "immediate": -50_000.0},
                          {"timeline": 0.45, "hold": 0.42, "immediate": 0.0})
    text = report.transition_findings(noisy).text
    assert "ends with the highest" not in text
    assert "end about the same after tax" in text
    assert "most often" not in text
    assert "about the same for every other plan: 42% to 45% of the 200 paths" in text
    pv = noisy.paired("hold").set_index("plan")
    assert bool(pv.at[three.name, "within_noise"])
    imm = next(r.plan.name for r in an.runs if r.plan.kind == "immediate")
    assert not pv.at[imm, "within_noise"] and pv.at[imm, "diff_mean"] < 0
    assert f"{labels.plan_name(three)} {report.fmt_usd(pv.at[three.name, 'diff_mean'])} " \
        f"(standard error {report.fmt_usd(pv.at[three.name, 'diff_se'])}; about the same)" \
        in text


def test_transition_findings_rank_plans_beyond_the_noise(analysis):
    """A difference well beyond the noise is still ranked, with its standard error."""
    _, an = analysis
    noisy, three = _noisy(an, {"timeline": 40_000.0, "hold": 0.0, "immediate": -50_000.0},
                          {"timeline": 0.05, "hold": 0.45, "immediate": 0.0})
    text = report.transition_findings(noisy).text
    assert f"{labels.plan_name(three)} ends with the highest after-tax value" in text
    assert "ends below moving now most often (45% of the 200 paths, standard error 3.5%)" \
        in text


# ------------------------------------------------------------ a plan's notes, in words
@pytest.fixture(scope="module")
def young_problem():
    """young-pro's rebalance: its lowest reachable tracking error within the gains budget is
    between 0.16 % and 0.20 % (its SPY, a quarter of the account, holds the S&P 500, not the
    target, and selling it realises gains; it read about 0.06 % with SPY as the target)."""
    from pma_lab.optimize.engine import default_settings, problem_for_client

    setup = prepare(report.load(clients_dir() / "young-pro" / "profile.toml", [], ""))
    settings = default_settings(setup)
    return problem_for_client(setup, None, settings), settings


@pytest.mark.parametrize(("cap", "fallback", "note"), [
    (5e-4, False, "tracking-error limit of 0.05% widened to 0.20% so the plan could be "
                  "completed"),
    (1e-9, False, "tracking-error limit of 0.00% removed so the plan could be completed"),
    (1e-4, True, "tracking-error limit of 0.01% not reachable within the gains budget, so "
                 "tracking error was kept as low as the budget allows"),
])
def test_a_plans_notes_are_in_client_words(young_problem, cap, fallback, note):
    """A step whose tracking-error limit cannot be met says so in words (it read 'TE cap
    loosened to 0.08%'), and the proposal, the dashboard and the CLI (the comparison
    table's note, through client_words) print it unchanged."""
    from pma_lab.plan.simulation import _solve_step

    prob, settings = young_problem
    _, said = _solve_step(prob, parse_plan("3y"), dataclasses.replace(settings, te_cap=cap),
                          settings if fallback else None)
    assert said == note
    assert report.client_words(said) == note
    assert not re.search(r"\bTE\b|\bcap\b|loosened", said)


def test_a_later_steps_widened_limit_is_not_read_as_todays(young_problem):
    """Move now's notes read "tracking error to the target 1.51% after moving to it ...;
    tracking-error limit widened to 1.00% so the plan could be completed": the limit was a
    later step's (the band kept around the target, 0.50% doubled), not today's. A later
    step's note now says so and names the limit it widened."""
    from pma_lab.plan.simulation import _solve_step

    prob, settings = young_problem
    _, said = _solve_step(prob, parse_plan("immediate"),
                          dataclasses.replace(settings, te_cap=5e-4), later="maintain")
    assert said == ("at a later step (keeping close to the target), the tracking-error "
                    "limit of 0.05% was widened to 0.20% so the plan could be completed")
    _, said = _solve_step(prob, parse_plan("3y"), dataclasses.replace(settings, te_cap=1e-4),
                          settings, later="approach")
    assert said.startswith("at a later step (approaching the target), the tracking-error "
                           "limit of 0.01% was not reachable within the gains budget")


def test_the_yearly_loss_limit_is_the_clients_own():
    """Married filing separately offsets $1,500 of net loss a year, not $3,000 (the engine
    used $1,500; the proposal's words said $3,000): glossary, harvesting caption, frontier
    note and the carryforward's assumptions name the client's limit."""
    from dataclasses import replace

    from pma_lab.optimize.engine import prepare
    from pma_lab.report import proposal as report
    from pma_lab.tax.liability import carryforward_value
    from pma_lab.tax.rules import FilingStatus

    setup = prepare(report.load("young-pro", [], ""))
    assert labels.loss_limit(setup) == labels.loss_limit() == "$3,000"
    prof = setup.client.profile
    mfs = replace(prof, tax=replace(prof.tax, filing_status=FilingStatus.MFS))
    setup_mfs = replace(setup, client=replace(setup.client, profile=mfs))
    assert labels.loss_limit(setup_mfs) == "$1,500"
    g = report.glossary(setup_mfs).frame
    entry = g.loc[g["item"] == "Loss carryforward", "value"].iat[0]
    assert "beyond the $1,500 a year" in entry and "$3,000" not in entry
    text = carryforward_value(10_000, 0, mfs.tax, discount_rate=0.04).assumption
    assert "at most $1,500 a year" in text and "$3,000" not in text


def test_carryforward_rows_say_what_comes_in_what_is_used_and_what_goes_on():
    """retiree: $18,500 carried in; without trades $3,000 of it offsets 2026 income and
    $15,500 goes into 2027; today's gains use it all up. On main the proposal read
    "Loss carryforward those trades create into next year: -$15,500"."""
    from pma_lab.report.labels import carryforward_rows

    s = {"carryforward_st_before": 0.0, "carryforward_lt_before": 15_500.0,
         "carryforward_st": 0.0, "carryforward_lt": -15_500.0}
    rows = carryforward_rows(s, 2026, "$3,000", 18_500.0)
    assert rows == [
        ("Loss carryforward from earlier years into 2026", 18_500.0),
        ("Loss carryforward into 2027 without today's trades (after the year's other sales "
         "and the $3,000 offset against income)", 15_500.0),
        ("Used up by today's trades' gains", 15_500.0),
        ("Loss carryforward into 2027 after today's trades", 0.0)]
    # a harvest adds to it (young-pro-like: no carry-in, a net loss beyond $1,500 MFS)
    s = {"carryforward_st_before": 0.0, "carryforward_lt_before": 0.0,
         "carryforward_st": 2_000.0, "carryforward_lt": 17_707.7}
    rows = carryforward_rows(s, 2026, "$1,500", trades="these trades")
    assert [r[0] for r in rows] == [
        "Loss carryforward into 2027 without these trades (after the year's other sales and "
        "the $1,500 offset against income)", "Added by these trades' losses",
        "Loss carryforward into 2027 after these trades"]
    assert [r[1] for r in rows] == [0.0, 19_707.7, 19_707.7]
    assert labels.CARRYFORWARD_CREATED == "Loss carryforward added (negative: used up)"


def test_the_clients_own_plan_with_a_withdrawal_is_marked_with_it():
    """Session 17: the client's own plan that withdraws (a profile declares no withdrawal:
    the plans' flow is one given for the comparison) reads "Your plan, with this
    withdrawal" wherever it is listed, unless told otherwise; another plan or an explicit
    ``withdrawing=False`` reads as before. Session 18: an addition (flow above zero) read
    "Your plan" and reads "Your plan, with this addition" now."""
    out = parse_plan("3y:flow=-50000")
    assert labels.plan_cell(out, True) == \
        "\u2605 Your plan, with this withdrawal: Move over 3 years"
    assert labels.plan_cell(out, True, withdrawing=False) == "\u2605 Your plan: Move over 3 years"
    assert labels.plan_cell(out, False) == "Move over 3 years"
    assert labels.plan_cell(parse_plan("3y:flow=5000"), True) == \
        "\u2605 Your plan, with this addition: Move over 3 years"
    assert labels.plan_cell(parse_plan("3y:flow=5000"), False) == "Move over 3 years"
    assert labels.plan_cell(parse_plan("3y"), True, withdrawing=True) == \
        labels.YOUR_PLAN_WITHDRAWING + "Move over 3 years"
    # the planner's sentence by the same rule (review 17: an addition said "with this
    # withdrawal" in the dashboard)
    assert labels.own_plan_words(out) == labels.OWN_PLAN_WITHDRAWING
    assert labels.own_plan_words(parse_plan("3y:flow=5000")) == labels.OWN_PLAN_ADDING == \
        "This is the client's own plan (from the profile), with this addition."
    assert labels.own_plan_words(parse_plan("3y")) == labels.OWN_PLAN


def test_forced_sales_note_counts_of_a_glide_sale_only_the_shares_its_glide_forces():
    """Session 22: a glide lot's whole gain was counted as forced, though the decision
    ledger splits a sale beyond the glide's step (``forced_shares``): SLB's 316-share lot
    sold whole for a $3,160 gain of which the glide needs 54 shares counts $540, and the
    raised caps are quoted from the summary's fields (``raised_caps``)."""
    from types import SimpleNamespace

    from pma_lab.optimize.result import RaisedCap
    from pma_lab.report.labels import forced_sales_note

    r = SimpleNamespace(
        summary=SimpleNamespace(budget_raised_by_restrictions=540.0, raised_caps=(
            RaisedCap("long-term", 0.0, 540.0, offset=True),)),
        decisions=pd.DataFrame({
            "lot_id": ["L1", "L2"], "ticker": ["SLB", "AAPL"], "action": ["sell", "sell"],
            "reason": ["restriction: sold along its glide (sell_within): the glide needs 54 "
                       "of the 316 SLB shares sold; the other 262 are the optimiser's "
                       "choice (rebalance toward the target (tracking error))", "rebalance"],
            "forced_shares": [54.0, 0.0]}),
        lot_trades=pd.DataFrame({"lot_id": ["L1", "L2"], "ticker": ["SLB", "AAPL"],
                                 "shares": [316.0, 5.0], "gain": [3_160.0, 90.0]}))
    assert forced_sales_note(r) == (
        "$540 of the realised gains come from the sales your restrictions force: SLB sold "
        "along its glide (sell within the years you set; $540). That is more than the "
        "gains budget allows, so the restrictions' sales raise its long-term $0 by $540 "
        "(the forced sales' long-term gain less the long-term losses harvested, which "
        "offset it), and the other trades realise no net gain beyond it")


def test_the_glossary_says_only_the_net_short_term_gain_is_taxed_at_ordinary_rates():
    """"short-term, taxed as ordinary income" left Schedule D's netting out (a short-term
    gain that a loss offsets is not taxed): the glossary's entry is labels.TERM_WORDS,
    which says the gains and losses net first."""
    from pma_lab.report import proposal as report

    g = dict(zip(*(report.glossary().frame[c] for c in ("item", "value")), strict=True))
    words = g["Long-term / short-term"]
    assert words == labels.TERM_WORDS
    assert "taxed as ordinary income" not in words
    assert "only the net short-term gain left is taxed at your ordinary-income rate" in words
    assert "netted" in words and "more than one year is long-term" in words


def test_a_name_bought_well_above_its_target_is_explained():
    """balanced-6040 buys MU to 3.37 % of the account against a 1.57 % target and INTC to
    2.19 % against 0.93 %, and leaves AAPL, NVDA and MSFT at 0 (F15 of session 22: FIS at
    twice its target without a word). Not whole shares: the holdings kept above their
    targets leave the cash short, and at the trades a dollar more in MU or INTC lowers the
    tracking error more than one in AAPL, NVDA or MSFT (the gradient of the tracking
    variance, checked here). The proposal's "Today's trades" and the dashboard's line say
    so in labels.over_target_note's words."""
    import html

    from pma_lab.app.dashboard.render import first_year_summary
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import problem_for_client

    setup = prepare(load_client(clients_dir() / "balanced-6040" / "profile.toml"))
    p = problem_for_client(setup, None, None)
    r = p.solve("two_step")
    note = labels.over_target_note(r, setup.target.weights)
    assert note.startswith("MU and INTC are bought above their target weights (MU 3.37% "
                           "of the account against 1.57%; INTC 2.19% of the account against "
                           "0.93%): with holdings kept above their targets (the most: ")
    assert note.endswith("these weights lower the tracking error to the target more than "
                         "the same dollars in the target's names left below it for now "
                         "(AAPL, NVDA and MSFT)")
    # the words' claim: the tracking variance falls faster per dollar in MU and INTC
    n = p.nm
    active = (p.M @ r.weights.to_numpy()) - p.wt
    names = list(p.state.assets)[:n]
    slope = pd.Series(setup.risk.covariance(names).to_numpy() @ active, index=names)
    assert slope[["MU", "INTC"]].max() < slope[["AAPL", "NVDA", "MSFT"]].min()
    sentence = note[0].upper() + note[1:] + "."
    assert sentence in report.trade_summary(setup, r).caption
    line = first_year_summary(r.summary, "immediate", len(r.trades), over=note)
    assert f'<div class="pma-over-target">{html.escape(sentence)}</div>' in line
    # whole-share rounding is said as such; a purchase at its target says nothing
    t = r.trades.copy()
    t["weight_after"] = np.where(t.ticker == "MU", t.target_weight * 1.6, t.target_weight)
    t["value"] = np.where(t.ticker == "MU", 1e9, t.value)  # one share worth more
    one = dataclasses.replace(r, trades=t)
    assert labels.over_target_note(one, setup.target.weights) == (
        "MU is bought above its target weight by less than one share (orders are in "
        "whole shares)")
    # many names: the four furthest above their targets listed, the others counted
    t = r.trades.copy()
    t["weight_after"] = t.target_weight * 3 + 0.01
    many = labels.over_target_note(dataclasses.replace(r, trades=t))
    assert f"and {int((t.side == 'buy').sum()) - 4} other names are bought above" in many
    assert many.count("of the account against") == 4
    # at the target, or above it by less than 0.25 % of the account: nothing
    t["weight_after"] = t.target_weight
    assert labels.over_target_note(dataclasses.replace(r, trades=t)) == ""
    t = t.assign(target_weight=0.002)
    t["weight_after"] = 0.0045
    assert labels.over_target_note(dataclasses.replace(r, trades=t)) == ""


def test_disallowed_words_say_how_much_stays_deferred():
    """Reviewer 1 (session 25, #10): the loss a wash sale disallows and the part of it
    still deferred; $8,793.80 disallowed with $0 deferred read as deferred."""
    from pma_lab.report.labels import disallowed_words

    got = disallowed_words({"disallowed_loss": 8793.8, "disallowed_loss_deferred": 0.0})
    assert got == ("wash sales: $8,794 of loss disallowed (Form 8949 code W); $0 of it "
                   "stays deferred in the basis of replacement shares still held, the rest "
                   "is recognised today (the replacement shares are sold too) or lost for "
                   "good (a retirement account bought them)")
    assert disallowed_words({"disallowed_loss": 500.0, "disallowed_loss_deferred": 500.0}) \
        == ("wash sales: $500 of loss disallowed (Form 8949 code W), all of it deferred "
            "in the basis of replacement shares still held")
    assert disallowed_words({"disallowed_loss": 0.0, "disallowed_loss_deferred": 0.0}) == ""
