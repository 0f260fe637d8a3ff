"""The decision text lives in :mod:`pma_lab.optimize.decisions` (split out of
``rebalance.py``, issue 15): the result's ``decisions`` table is exactly
:func:`lot_decisions` of the problem and the trades."""

from __future__ import annotations

import pandas as pd
import pytest
from sample_copy import copy_sample_client  # tests/ is on sys.path

from pma_lab.formatting import fmt_rate
from pma_lab.io.client import load_client
from pma_lab.optimize.decisions import lot_decisions
from pma_lab.optimize.engine import default_settings, prepare, problem_for_client
from pma_lab.paths import samples_dir


@pytest.fixture(scope="module")
def problem():
    c = load_client(samples_dir() / "clients" / "muni-ca" / "profile.toml")
    setup = prepare(c)
    return problem_for_client(setup, None, default_settings(
        setup, whole_shares=False, min_trade=0.0))


def test_the_result_explains_every_lot_with_lot_decisions(problem):
    res = problem.solve()
    x, _ = problem._arrays(res)
    w = res.weights.reindex(list(problem.state.assets)).to_numpy()
    again = lot_decisions(problem, x, set(), w, problem.settings)
    pd.testing.assert_frame_equal(again, res.decisions, check_exact=False, rtol=1e-9)
    assert len(res.decisions) == len(problem.state.lots)
    assert res.decisions.reason.str.len().gt(0).all()
    sold = res.decisions.sold_fraction > 0
    assert res.decisions.action[sold].str.match(r"^(sell|harvest)").all()
    assert res.decisions.action[~sold].isin(["hold", "defer"]).all()
    harvest = res.decisions.action.str.startswith("harvest")
    assert (res.decisions.gain[harvest] < 0).all()
    assert (res.decisions.gain[res.decisions.action.str.startswith("sell")] >= 0).all()


def _decisions_lot_by_lot(p, x, dropped, w_after, s):
    """The decisions table as lot_decisions wrote it before session 11 (a loop per lot)."""
    import numpy as np

    st, lots = p.state, p.state.lots
    used = p.brows @ x if p.nl else np.zeros(3)
    budget_binding = bool(np.any(used >= p._budget_values(s.budgets) - 1e-7))
    te_binding = s.te_cap is not None and p._te(p.M @ w_after) >= s.te_cap - 1e-6
    tick, gains = lots.ticker.tolist(), lots.gain.to_numpy(dtype=float)
    terms, ltos = lots.term.tolist(), lots.long_term_on.tolist()
    frac = np.divide(x, p.v, out=np.zeros_like(x), where=p.v > 0)
    actions, reasons = [], []
    for j in range(p.nl):
        t, gain, f = tick[j], gains[j], frac[j]
        if f > 0:
            action = ("harvest" if gain < 0 else "sell") + (" (part)" if f < 1 - 1e-9 else "")
            if t in st.must_sell:
                reason = "restriction: must not hold (sold now, whatever the tax)"
            elif t in st.max_weight:
                reason = "restriction: sold along its glide (sell_within)"
            elif t in dropped:
                reason = "name-count cap"
            elif gain < 0:
                reason = f"harvest {terms[j]} loss" + (
                    " (disallowed: bought within 30 days)" if p.locked_loss[j] else "")
            else:
                reason = "rebalance toward the target (tracking error)"
            if gain < 0 and p.locked_loss[j] and not reason.startswith("harvest"):
                # session 25: a forced loss sale carries a harvest's wash-sale words
                reason += "; a loss sale (disallowed: bought within 30 days)"
        elif t in st.max_weight:
            action = "hold"
            reason = "restriction glide (sell_within): kept for now, sold by its deadline"
        elif p.locked_loss[j] and s.wash_sale_mode == "forbid":
            action, reason = "defer", f"wash-sale lock until {st.wash_no_loss_sale[t]}"
        elif p.soon[j] > 0:
            action, reason = "defer", f"turns long-term on {ltos[j]}"
        elif gain > 0 and budget_binding:
            action, reason = "hold", "capital-gains budget"
        elif te_binding:
            action, reason = "hold", "tracking-error cap"
        elif gain > 0:
            action, reason = "hold", "tax cost exceeds the tracking-error benefit"
        else:
            action, reason = "hold", ("kept: a sale would raise tracking error more than "
                                      "the tax saving")
        actions.append(action)
        reasons.append(reason)
    return pd.DataFrame({"lot_id": lots.lot_id.tolist(), "ticker": tick,
                         "shares": lots.shares.to_numpy(dtype=float), "gain": gains,
                         "term": terms, "long_term_on": ltos, "sold_fraction": frac,
                         "action": actions, "reason": reasons})


@pytest.mark.parametrize("te_cap", [None, 1e-4])
def test_the_vectorised_decisions_are_the_lot_by_lot_ones(problem, te_cap):
    """Session 11 reads each lot's case with array masks (the lots' columns read once per
    state): the same table as the loop per lot, on random sales (none, part, whole), a
    dropped name and a binding TE cap (and, session 22, the shares a restriction forces)."""
    import dataclasses

    import numpy as np

    rng = np.random.default_rng(3)
    s = dataclasses.replace(problem.settings, te_cap=te_cap)
    for k in range(4):
        x = problem.v * rng.choice([0.0, 0.0, 0.5, 1.0], problem.nl)
        dropped = set(rng.choice(list(problem.state.assets), 2, replace=False)) if k else set()
        w = problem.h - problem.A @ x
        d = lot_decisions(problem, x, dropped, w, s)
        pd.testing.assert_frame_equal(d.drop(columns="forced_shares"),
                                      _decisions_lot_by_lot(problem, x, dropped, w, s))
        # muni-ca has no glide: a restriction forces a must-sell lot's whole sale only
        must = d.ticker.isin(problem.state.must_sell).to_numpy()
        assert np.allclose(d.forced_shares[must], (d.sold_fraction * d.shares)[must])
        assert (d.forced_shares[~must] == 0).all()


def test_a_glide_lot_sold_beyond_its_glide_says_which_part_is_the_optimisers():
    """Reviewer 1 (session 20): retiree's SLB lot (316 shares, a long-term loss) is sold
    whole on the first step of a 3-year glide that needs 54 of SLB's 645 shares; it read
    "sold along its glide" alone. The reason now gives the glide's shares and the rest as
    the optimiser's harvest; a lot sold within its glide's step keeps the glide's words."""
    from pma_lab.plan.transition import TransitionSettings, first_trades

    c = load_client(samples_dir() / "clients" / "retiree" / "profile.toml")
    d = first_trades(prepare(c), settings=TransitionSettings(mc_paths=0)).decisions
    d = d.set_index("lot_id")
    slb = d.loc["positions_2026-07-31:83"]
    assert slb.sold_fraction == 1.0 and slb.action == "harvest"
    assert slb.reason == (
        "restriction: sold along its glide (sell_within): the glide needs 54 of the 316 SLB "
        "shares sold; the other 262 are the optimiser's choice (harvest LT loss)")
    xom = d.loc["positions_2026-07-31:98"]
    assert 0 < xom.sold_fraction < 1
    assert xom.reason == "restriction: sold along its glide (sell_within)"
    # the shares the restriction forces (labels.forced_sales_note counts their gain): the
    # glide's 54 of SLB's 316, all of XOM's part sale (within its glide's step)
    assert slb.forced_shares == 54
    assert xom.forced_shares == pytest.approx(xom.sold_fraction * xom.shares)


def test_a_glide_sold_from_several_lots_is_explained_once_for_the_name():
    """Session 22: the glide's split was worded per lot (each lot's own term and sign as
    "the rest"), though its numbers are the name's; it now says the name's split once,
    from how many lots, and what the shares beyond the glide are. The glide's shares are
    the least gain per share first (as limits.forced_sales counts the forced gain)."""
    from types import SimpleNamespace

    import numpy as np

    from pma_lab.optimize import decisions as dec

    V, price = 100_000.0, 100.0
    shares = np.array([100.0, 50.0, 50.0])
    gains = np.array([1_000.0, -500.0, 2_000.0])  # 10, -10, 40 a share
    p = SimpleNamespace(v=shares * price / V, asset_index={"XOM": 0},
                        state=SimpleNamespace(max_weight={"XOM": 0.2 - 60 * price / V}))
    cols = SimpleNamespace(ticker=np.array(["XOM"] * 3), shares=shares, gain=gains,
                           term=np.array(["LT", "LT", "LT"]))
    frac = np.array([1.0, 1.0, 0.0])
    x = frac * p.v
    w_after = np.array([0.2 - x.sum()])
    case = np.array([dec._GLIDE, dec._GLIDE, 5])
    reasons = np.array(["", "", "kept"], dtype=object)
    forced = np.zeros(3)
    dec._glide_parts(p, x, frac, w_after, cols, case, reasons, forced)
    words = ("restriction: sold along its glide (sell_within): the glide needs 60 of the "
             "150 XOM shares sold from 2 lots; the other 90 are the optimiser's choice "
             "(rebalance toward the target (tracking error))")
    assert reasons.tolist() == [words, words, "kept"]
    assert forced.tolist() == [10.0, 50.0, 0.0]  # the loss lot's 50, then 10 of the next


def test_a_short_term_gain_sold_days_before_it_turns_long_term_says_so(tmp_path):
    """Reviewer 1 (session 21): a short-term gain sold shortly before it would have turned
    long-term read only its sale's reason. young-pro with a gambling stock bought 2025-08-20
    (long-term from 2026-08-21, 21 days after the 2026-07-31 as-of date) that its screens
    sell now: the reason adds the date, the days and the two all-in rates."""
    profile = copy_sample_client("young-pro", tmp_path, append={
        "brokerage_export.csv": "LVS,100,08/20/2025,10.00\nLVS,50,06/02/2026,10.00\n"})
    setup = prepare(load_client(profile))
    res = problem_for_client(setup, None, default_settings(setup)).solve()
    d = res.decisions[res.decisions.ticker == "LVS"].set_index("long_term_on")
    tax = setup.client.profile.tax
    soon = d.reason[pd.Timestamp("2026-08-21").date()]
    assert d.sold_fraction.eq(1).all() and d.gain.gt(0).all()
    assert soon == ("restriction: must not hold (sold now, whatever the tax); a short-term "
                    "gain: the lot turns long-term on 2026-08-21 (21 days), so the gain sold "
                    f"now is taxed at the short-term rate ({fmt_rate(tax.st_rate)}, not the "
                    f"long-term {fmt_rate(tax.lt_rate)}) unless the year's losses offset it")
    # a lot that turns long-term in 10 months is not flagged
    assert d.reason[pd.Timestamp("2027-06-03").date()] == (
        "restriction: must not hold (sold now, whatever the tax)")


def test_the_keep_list_is_never_sold_in_any_account_and_says_why(monkeypatch):
    """Reviewer 1 (session 22): "keep-but-do-not-add" (hold_no_add) read "kept, not added"
    but the optimisers sold it: the sample household's "one spouse's employer: keep, do
    not add" AAPL was sold in the IRA (97 shares in the demo). It is now never sold, by
    the single-account rebalance (its lots say why) and by the household."""
    from pma_lab.optimize import engine
    from pma_lab.optimize.household import household_for_client
    from pma_lab.paths import clients_dir
    from pma_lab.report.proposal import restrictions_table, target_summary

    setup = prepare(load_client(clients_dir() / "household" / "profile.toml"))
    assert setup.client.profile.restrictions.hold_no_add == ("AAPL",)
    # on by default since session 23 (engine.KEEP_LIST_NEVER_SOLD): the target is built
    # around the kept AAPL at today's weight of the household (both accounts and cash), the
    # proposal's target summary says so, and the restrictions table says the rule
    assert engine.keep_names(setup) == {"AAPL"}
    aapl = sum(float(lt.shares) for lt in setup.ledger.lots() if lt.ticker == "AAPL")
    weight = aapl * float(setup.prices["AAPL"]) / sum(v for _, v in setup.size_accounts)
    assert setup.target.weights["AAPL"] == pytest.approx(weight, rel=1e-12)
    assert setup.target.diagnostics["fixed"] == {"AAPL": pytest.approx(weight, rel=1e-12)}
    summary = dict(target_summary(setup).frame.itertuples(index=False, name=None))
    assert summary["Kept as they are (your keep list)"].startswith(
        f"AAPL {weight:.2%} of your accounts together, today's weight: never sold or "
        "added to")
    effect = restrictions_table(setup).frame.set_index("Restriction").Effect["hold_no_add"]
    assert effect == "kept: never sold, never added to"
    # the rule's words with the flag off
    monkeypatch.setattr(engine, "KEEP_LIST_NEVER_SOLD", False)
    assert not engine.keep_names(setup)
    effect = restrictions_table(setup).frame.set_index("Restriction").Effect["hold_no_add"]
    assert effect == ("never added to; not force-sold (may be trimmed to rebalance or "
                      "harvest a loss)")
    monkeypatch.setattr(engine, "KEEP_LIST_NEVER_SOLD", True)
    res = problem_for_client(setup, "taxable", default_settings(setup)).solve()
    assert "AAPL" not in set(res.trades.ticker)
    d = res.decisions[res.decisions.ticker == "AAPL"]
    assert len(d) == 1 and d.action.tolist() == ["hold"]
    assert d.reason.tolist() == ["on your keep-but-do-not-add list: kept, never sold or "
                                 "added to"]
    hh = household_for_client(setup).solve()
    assert "AAPL" not in set(hh.trades.ticker), hh.trades[hh.trades.ticker == "AAPL"]


def test_no_gift_or_withdrawal_sells_the_keep_list(tmp_path, monkeypatch):
    """Reviewer 2 (session 22): the keep list (hold_no_add) was kept by the rebalances but
    given to charity (64 AAPL of a most-appreciated lot) and counted as cash a withdrawal
    could raise. A gift now skips it; a withdrawal the rest cannot pay says so."""
    from pma_lab.errors import DataError
    from pma_lab.optimize import engine
    from pma_lab.plan.plans import parse_plan
    from pma_lab.plan.simulation import _check_withdrawal, todays_gift

    monkeypatch.setattr(engine, "KEEP_LIST_NEVER_SOLD", True)
    # the most appreciated lot is AAPL's: a gift of appreciated stock would take it first
    profile = copy_sample_client("household", tmp_path, [
        ("profile.toml", "[tax]\n", "[tax]\nagi = 450000.0\n"),
        ("household_lots.csv", "taxable,HH-0016,AAPL,2020-06-12,81,82.01",
         "taxable,HH-0016,AAPL,2010-06-12,181,3.01")])
    setup = prepare(load_client(profile))
    before = {lt.lot_id: lt.shares for lt in setup.ledger.lots(account="taxable")}
    led, value = todays_gift(setup, parse_plan("budget:20000:gift=20000"))
    after = {lt.lot_id: lt.shares for lt in led.lots(account="taxable")}
    given = {k for k, sh in before.items() if after.get(k) != sh}
    assert value > 0 and given and after["HH-0016"] == before["HH-0016"]
    # a withdrawal larger than what is outside the keep list is refused, naming it
    held = sum(float(lt.shares) * float(setup.prices[lt.ticker])
               for lt in setup.ledger.lots(account="taxable"))
    kept = float(after["HH-0016"]) * float(setup.prices["AAPL"])
    flow = -(held - kept / 2)
    plan = parse_plan(f"budget:20000:flow={flow:.0f}")
    with pytest.raises(DataError, match="keep-but-do-not-add list, AAPL, which is never sold"):
        _check_withdrawal(plan, "taxable", setup.ledger, setup.as_of, setup.prices, flow, 1,
                          keep=frozenset({"AAPL"}))
    _check_withdrawal(plan, "taxable", setup.ledger, setup.as_of, setup.prices, flow, 1)


def test_the_keep_list_words_name_kept_funds_and_names_not_held(tmp_path):
    """Reviewer 2 (session 23): a kept fund (SPY, outside the risk model) and a kept name
    not held (NVDA) were left out of the keep list's words in the target summary and
    ``pma-lab target build``; a single account's kept weight reads "of the account"."""
    from pma_lab.report.labels import keep_list_words
    from pma_lab.report.proposal import models, models_table, target_summary

    profile = copy_sample_client("young-pro", tmp_path, [
        ("profile.toml", "[restrictions]\n",
         '[restrictions]\nhold_no_add = ["PYPL", "SPY", "NVDA"]\n')])
    setup = prepare(load_client(profile))
    words = keep_list_words(setup)
    pypl = setup.target.diagnostics["fixed"]["PYPL"]
    assert words == (f"PYPL {pypl:.2%} of the account, today's weight: never sold or added "
                     "to, so the target's other names are chosen to track the benchmark "
                     "around it; SPY kept as held (never sold or added to), outside the "
                     "target's weights (not a stock the risk model covers); NVDA not held, "
                     "so never bought")
    summary = dict(target_summary(setup).frame.itertuples(index=False, name=None))
    assert summary["Kept as they are (your keep list)"] == words
    rows = dict(models_table(models(setup.client), setup).frame.itertuples(index=False,
                                                                         name=None))
    assert rows["Target"].endswith(f"; your keep list: {words}")
