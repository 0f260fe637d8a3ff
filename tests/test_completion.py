"""Active + index completion: the sleeve offsets the active sleeve's factor exposures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pma_lab.errors import DataError, InfeasibleError
from pma_lab.portfolio.completion import (
    CompletionProblem,
    ExcludedName,
    active_model_weights,
    completion_names,
)
from pma_lab.portfolio.risk import RiskModel

TICKERS = ["A1", "A2", "B1", "B2"]


def two_sector_model() -> RiskModel:
    """Sectors A and B (dummy exposures), factor variance 0.04 each, specific 0.04 each."""
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    return RiskModel(dt.date(2026, 7, 31), tuple(TICKERS), ("A", "B"), x,
                     np.diag([0.04, 0.04]), np.full(4, 0.04), pd.DataFrame(index=TICKERS))


BENCH = pd.Series(0.25, index=TICKERS)


def test_completion_offsets_a_sector_tilt_by_hand():
    # The manager holds only A1 in half the account. With c_A = c_A1 + c_A2 in sector A
    # (split evenly by symmetry), the total's active exposures are +c_A/2 to A and -c_A/2
    # to B, so the objective is 0.04 (c_A/2)^2 x 2 + 0.25 x 0.04 x (c_A - 1/2)^2
    # = 0.02 c_A^2 + 0.01 (c_A - 1/2)^2, least at c_A = 0.01 / 0.06 = 1/6.
    r = CompletionProblem(two_sector_model(), BENCH).solve(pd.Series({"A1": 1.0}), 0.5)
    assert r.completion["A1"] == pytest.approx(1 / 12, abs=1e-6)
    assert r.completion["A2"] == pytest.approx(1 / 12, abs=1e-6)
    assert r.completion["B1"] == pytest.approx(5 / 12, abs=1e-6)
    e = r.exposures
    assert e.active_only["A"] == pytest.approx(0.5)  # the sleeve alone: +50 % in A
    assert e.total_active["A"] == pytest.approx(1 / 12, abs=1e-6)  # offset to +8.3 %
    assert e.total_active["B"] == pytest.approx(-1 / 12, abs=1e-6)
    # the manager's pick stays: A1 is 0.5 + 0.5 / 12 of the account against 0.25
    assert r.total["A1"] == pytest.approx(0.5 + 1 / 24, abs=1e-6)
    assert r.te_factor_total < r.te_factor_active_only


def test_completion_keeps_the_managers_bets_that_naive_tracking_would_undo():
    active = pd.Series({"A1": 0.5, "B1": 0.5})  # sector-neutral stock picks
    keep = CompletionProblem(two_sector_model(), BENCH).solve(active, 0.5)
    assert keep.completion.to_numpy() == pytest.approx([0.25] * 4, abs=1e-6)
    assert keep.total["A1"] == pytest.approx(0.375, abs=1e-6)  # the bet stays
    naive = CompletionProblem(two_sector_model(), BENCH, preserve_bets=False).solve(
        active, 0.5)
    # minimising total TE buys the names the manager left out: the bets are undone
    assert naive.completion.to_numpy() == pytest.approx([0, 0.5, 0, 0.5], abs=1e-3)
    assert naive.te_total == pytest.approx(0.0, abs=1e-3)
    assert keep.te_total > naive.te_total


def test_restrictions_and_bad_inputs():
    p = CompletionProblem(two_sector_model(), BENCH)
    r = p.solve(pd.Series({"A1": 1.0}), 0.5, no_buy=["A2"])
    assert r.completion["A2"] == 0.0
    with pytest.raises(InfeasibleError, match="every name is restricted"):
        p.solve(pd.Series({"A1": 1.0}), 0.5, no_buy=TICKERS)
    with pytest.raises(DataError, match="sum to 0.900000"):
        p.solve(pd.Series({"A1": 0.9}), 0.5)
    with pytest.raises(DataError, match="below 1"):
        p.solve(pd.Series({"A1": 1.0}), 1.0)


def test_a_restricted_name_of_the_managers_model_leaves_the_active_sleeve_by_hand():
    # The manager holds A1 and B1 at 1/2 each in half the account; the client may not buy
    # B1 (a screen). B1 leaves the active sleeve: A1 keeps its 1/4 of the account (not
    # scaled up to 1/2), and B1's 1/4 goes to the completion sleeve, now 3/4 of the
    # account and barred from B1. With c_A = c_A1 + c_A2 (split evenly by symmetry) and
    # c_B2 = 1 - c_A, the total's active exposures are +-(3/4 c_A - 1/4), so the objective
    # is 0.08 (3/4 c_A - 1/4)^2 + 0.0225 [2 (c_A/2 - 1/4)^2 + 1/16 + (3/4 - c_A)^2], whose
    # slope 0.1575 c_A - 0.075 is zero at c_A = 10/21: c = (5/21, 5/21, 0, 11/21) and the
    # account (1/4 + 3/4 x 5/21, 3/4 x 5/21, 0, 3/4 x 11/21) = (3/7, 5/28, 0, 11/28).
    why = {"B1": "tobacco screen: GICS sub-industry Tobacco (30203010)"}
    r = CompletionProblem(two_sector_model(), BENCH).solve(
        pd.Series({"A1": 0.5, "B1": 0.5}), 0.5, no_buy=["B1"], reasons=why)
    assert r.completion.to_numpy() == pytest.approx([5 / 21, 5 / 21, 0, 11 / 21], abs=1e-6)
    assert r.total.to_numpy() == pytest.approx([3 / 7, 5 / 28, 0, 11 / 28], abs=1e-6)
    assert r.total.sum() == pytest.approx(1.0, abs=1e-12)
    assert r.excluded == (ExcludedName("B1", 0.5, 0.25, why["B1"]),)
    assert (r.alpha, r.active_held, r.completion_share) == (0.5, 0.25, 0.75)
    s = r.summary()
    assert (s.alpha, s.active_held) == (0.5, 0.25)
    # without the restriction nothing is excluded and the sleeve is the model's 1/2
    free = CompletionProblem(two_sector_model(), BENCH).solve(
        pd.Series({"A1": 0.5, "B1": 0.5}), 0.5)
    assert free.excluded == () and free.active_held == 0.5
    assert free.total["B1"] == pytest.approx(0.375, abs=1e-6)
    # every name of the model restricted: the completion sleeve is the whole account
    both = CompletionProblem(two_sector_model(), BENCH).solve(
        pd.Series({"A1": 0.5, "B1": 0.5}), 0.5, no_buy=["A1", "B1"])
    assert both.active_held == 0.0 and both.completion_share == 1.0
    assert [e.reason for e in both.excluded] == ["restricted by the client"] * 2
    assert both.total.to_numpy() == pytest.approx([0, 0.5, 0, 0.5], abs=1e-6)


def test_active_model_file_is_read_by_date(tmp_path):
    f = tmp_path / "manager.csv"
    f.write_text("date,ticker,weight\n2026-01-02,AAPL,1.0\n2026-07-01,MSFT,0.6\n"
                 "2026-07-01,NVDA,0.4\n", encoding="utf-8")
    assert active_model_weights(str(f), "2026-07-31").to_dict() == {"MSFT": 0.6,
                                                                     "NVDA": 0.4}


def test_a_two_name_completion_sleeve_by_hand():
    # The manager holds A1 in half the account; the completion sleeve may hold 2 names.
    # Unlimited it holds (1/12, 1/12, 5/12, 5/12) (above). Elimination drops A2 (the
    # smaller of the tie), then with A1, B1, B2 the optimum is c_A1 = 1/7 (the objective
    # 0.02 c^2 + 0.01 [(c - 1/4)^2 + 1/16 + (1/2 - c)^2 / 2] has slope 0.07 c - 0.01), so
    # A1 goes: the sleeve is B1, B2 at 1/2. That offsets sector A exactly (0.5 + 0 held
    # against 0.5) and keeps the pick: A1 is 0.5 of the account against 0.25. Swapping
    # B1 for A1 or A2 gives 0.005 > 0.0025, so no swap is kept.
    r = CompletionProblem(two_sector_model(), BENCH).solve(pd.Series({"A1": 1.0}), 0.5,
                                                           max_names=2)
    assert r.completion.to_numpy() == pytest.approx([0, 0, 0.5, 0.5], abs=1e-6)
    assert (r.completion > 0).sum() == 2 and r.max_names == 2
    assert r.total.to_numpy() == pytest.approx([0.5, 0, 0.25, 0.25], abs=1e-6)
    assert r.exposures.active_only["A"] == pytest.approx(0.5)
    assert r.exposures.total_active.abs().max() == pytest.approx(0.0, abs=1e-6)
    # TE: the sleeve alone 0.04 x (0.5^2 + 0.5^2) + 0.04 x (0.75^2 + 3 x 0.25^2) = 0.05;
    # the account 0.04 x (0.25^2 + 0.25^2) = 0.005 (A1's bet and A2 left out)
    assert r.te_active_only == pytest.approx(np.sqrt(0.05), abs=1e-6)
    assert r.te_total == pytest.approx(np.sqrt(0.005), abs=1e-6)
    assert r.te_factor_total == pytest.approx(0.0, abs=1e-5)
    assert r.diagnostics["elimination_path"] == [4, 3, 2]
    assert r.diagnostics["swaps_kept"] == 0
    assert r.summary()[["completion_names", "total_names"]].tolist() == [2, 3]
    # a name count of zero is refused, with what to do
    with pytest.raises(DataError, match="at least 1"):
        CompletionProblem(two_sector_model(), BENCH).solve(pd.Series({"A1": 1.0}), 0.5,
                                                           max_names=0)


def test_a_retargeted_sleeve_keeps_its_names_unless_a_change_gains_enough_by_hand():
    # The manager holds A1 in half the account; the sleeve holds A2 and B1 (2 names).
    # Over A2, B1 with c_A2 = x: the factor term is 0.04 x 2 x (x/2)^2 = 0.02 x^2 and the
    # sleeve's own specific term 0.01 [1/16 + (x - 1/4)^2 + (3/4 - x)^2 + 1/16], whose sum
    # has slope 0.08 x - 0.02: x = 1/4, objective 0.005 (root 0.0707). The fresh choice
    # B1, B2 (above) has 0.0025 (root 0.05): swapping A2 for B2 gains 0.0207.
    p = CompletionProblem(two_sector_model(), BENCH)
    a = pd.Series({"A1": 1.0})
    kept = p.solve(a, 0.5, max_names=2, held=["A2", "B1"], held_gain=0.03)
    assert kept.completion.to_numpy() == pytest.approx([0, 0.25, 0.75, 0], abs=1e-6)
    assert kept.diagnostics["method"] == "held names kept + swaps"
    assert kept.diagnostics["swaps_kept"] == 0
    # the job stays: sector A is still offset (0.5 + 0.125 - 0.5 = +12.5 %, not +50 %)
    assert kept.exposures.total_active["A"] == pytest.approx(0.125, abs=1e-6)
    assert kept.exposures.active_only["A"] == pytest.approx(0.5)
    swapped = p.solve(a, 0.5, max_names=2, held=["A2", "B1"], held_gain=0.01)
    assert swapped.completion.to_numpy() == pytest.approx([0, 0, 0.5, 0.5], abs=1e-6)
    assert swapped.diagnostics["swaps_kept"] == 1
    # the default gain (0.0001) changes a name for the 0.0207 gain too; nothing held: fresh
    assert p.solve(a, 0.5, max_names=2, held=["A2", "B1"]).completion.to_numpy() == \
        pytest.approx([0, 0, 0.5, 0.5], abs=1e-6)
    fresh = p.solve(a, 0.5, max_names=2)
    assert fresh.diagnostics["method"] == "backward elimination + swaps"
    # a held name the client may no longer buy frees its slot, filled by the best name
    freed = p.solve(a, 0.5, max_names=2, held=["A2", "B1"], no_buy=["A2"], held_gain=0.03)
    assert freed.completion.to_numpy() == pytest.approx([0, 0, 0.5, 0.5], abs=1e-6)


def test_completion_name_count_follows_the_sleeves_dollars():
    # the completion sleeve of a $1.63M account with 40 % active holds $978k: 40 names
    # (30 at $500k, 40 at $1M, log-linear: 30 + 10 x log2(978089 / 500000) = 39.7)
    assert completion_names(1_630_149.21, 0.4) == 40
    assert completion_names(1_630_149.21, 0.4, names=25) == 25
    assert completion_names(10_000_000, 0.4) is None  # $6M: the whole index


def test_sector_limits_on_an_active_index_core_are_refused_not_dropped(tmp_path):
    # the core's target is the manager's model plus the completion sleeve; a sector limit
    # or tilt would not be applied to it, so the profile says so at load
    from pma_lab.errors import ProfileError
    from pma_lab.io.profile import load_profile
    from pma_lab.paths import clients_dir

    src = clients_dir() / "core-active"
    for f in ("lots.csv", "active_model.csv"):
        (tmp_path / f).write_bytes((src / f).read_bytes())
    text = (src / "profile.toml").read_text(encoding="utf-8")
    (tmp_path / "profile.toml").write_text(
        text + '\n[restrictions]\nsector_max_weight = { "Information Technology" = 0.3 }\n',
        encoding="utf-8")
    with pytest.raises(ProfileError) as e:
        load_profile(tmp_path / "profile.toml")
    (issue,) = [i for i in e.value.issues if i.code == "contradictory"]
    assert issue.column == "restrictions.sector_max_weight"
    assert 'equity_sleeve = "direct_index"' in issue.fix
    (tmp_path / "profile.toml").write_text(text, encoding="utf-8")
    assert load_profile(tmp_path / "profile.toml").core.equity_sleeve == "active_index"
    # a profile built in code (not through the loader) is refused by the core's solve too
    import dataclasses

    from pma_lab.portfolio.completion import completion_for_profile

    prof = load_profile(tmp_path / "profile.toml")
    tilted = dataclasses.replace(prof, restrictions=dataclasses.replace(
        prof.restrictions, sector_tilts=(("Energy", -0.01),)))
    with pytest.raises(DataError, match=r"sector_tilts cannot apply.*direct_index"):
        completion_for_profile(tilted, prof.as_of, pd.Series({"AAPL": 1.0}), None, [], 1e6)


def test_core_active_with_a_restricted_manager_name_says_so_the_same_way(tmp_path,
                                                                         capsys):
    """core-active with NFLX (5 % of the manager's model) on its no-buy list: NFLX leaves
    the core, its 2 % of the account goes to the completion sleeve, and the proposal, the
    dashboard's section and ``target build`` say so in the same words (labels)."""
    from pma_lab.app.cli import main
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare
    from pma_lab.paths import clients_dir
    from pma_lab.report import labels
    from pma_lab.report.proposal import target_summary
    from pma_lab.report.shelf import completion_summary, completion_view

    src = clients_dir() / "core-active"
    for f in ("lots.csv", "active_model.csv"):
        (tmp_path / f).write_bytes((src / f).read_bytes())
    text = (src / "profile.toml").read_text(encoding="utf-8")
    (tmp_path / "profile.toml").write_text(text + '\n[restrictions]\nno_buy = ["NFLX"]\n',
                                           encoding="utf-8")
    setup = prepare(load_client(tmp_path / "profile.toml"))
    comp = setup.completion
    assert comp.excluded == (ExcludedName(
        "NFLX", 0.05, 0.4 * 0.05, "no_buy: restricted by client (do not buy; may keep if "
        "held)"),)
    assert comp.active_held == pytest.approx(0.38) and comp.completion_share == \
        pytest.approx(0.62)
    assert "NFLX" not in setup.target.weights.index
    assert setup.target.weights.sum() == pytest.approx(1.0, abs=1e-9)
    # the manager's other names keep their 40 % x model weight (not scaled up)
    model = active_model_weights(str(tmp_path / "active_model.csv"), "2026-07-31")
    kept = comp.total[model.drop("NFLX").index] - comp.completion_share * \
        comp.completion[model.drop("NFLX").index]
    assert kept.to_numpy() == pytest.approx(0.4 * model.drop("NFLX").to_numpy(), abs=1e-12)
    words = labels.excluded_from_model(comp)
    # client words (no raw key, no nested brackets); the sleeve's planned 60 % (its name
    # count) and the 62 % it holds reconciled, in dollars
    sizing = ("the name count uses the completion sleeve's planned 60% of the account, "
              "$978,090; the sleeve holds 62%, $1,010,693, after NFLX is left out")
    assert labels.completion_sizing(comp) == sizing
    assert words == ("Left out of the manager's model because of your restrictions: NFLX, "
                     "5.0% of the model, on your do-not-buy list. Its 2.0% of your account "
                     "goes to the completion sleeve (62.0% of your account), optimised "
                     "around the rest of the model; the manager's other stocks keep their "
                     "weights, not scaled up, so the active sleeve holds 38.0% of your "
                     "account instead of 40.0%. T" + sizing[1:] + ".")
    from pma_lab.report.shelf import _core_note

    note = _core_note(setup).text  # page one: "in the other 62%" and then the reconciling
    assert "in the other 62%" in note and words in note
    view = completion_view(comp, setup.benchmark.weights)  # the proposal's section
    assert words in view.intro and view.intro.startswith("38% of your account follows")
    from pma_lab.app.dashboard.shelf import shelf_results

    (dash,) = shelf_results(setup).views()  # the dashboard's shelf panel
    assert dash.intro == view.intro
    import html
    import re

    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html.unescape(dash._repr_html_())))
    assert words in page
    rows = dict(completion_summary(comp).frame.itertuples(index=False, name=None))
    assert rows["Left out of the manager's model (your restrictions)"] == "NFLX"
    assert rows["Active sleeve (the manager's model)"] == "38%"
    assert rows["Completion sleeve (direct-indexed)"] == "62%"
    summary = dict(target_summary(setup).frame.itertuples(index=False, name=None))
    assert summary["Active + index core"].startswith("the manager's model at 38% + a "
                                                     "completion sleeve of 40 stocks at 62%")
    # its name count is that of its planned 60 % ($978k: 40 names), said so
    assert summary["Account size used for the name count"].endswith(f"({sizing})")
    assert main(["target", "build", "--profile", str(tmp_path / "profile.toml")]) == 0
    out = capsys.readouterr().out
    assert f"  {words}\n" in out and "the active model at 38% and a completion" in out
    assert f"asked 40; {sizing})" in out


def test_an_accounts_own_no_buy_keeps_the_name_out_of_a_one_account_core(tmp_path):
    """core-active with ``no_buy = ["NFLX"]`` under its only ``[[accounts]]``: the same
    target as ``[restrictions] no_buy`` (NFLX out of the core, its 2 % to the completion
    sleeve), not NFLX kept at 2 %."""
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare
    from pma_lab.paths import clients_dir

    src = clients_dir() / "core-active"
    for f in ("lots.csv", "active_model.csv"):
        (tmp_path / f).write_bytes((src / f).read_bytes())
    text = (src / "profile.toml").read_text(encoding="utf-8")
    text = text.replace('cash = 30000.0\n', 'cash = 30000.0\nno_buy = ["NFLX"]\n')
    assert 'no_buy = ["NFLX"]' in text
    (tmp_path / "profile.toml").write_text(text, encoding="utf-8")
    client = load_client(tmp_path / "profile.toml")
    assert client.profile.restrictions.no_buy == ()
    assert client.profile.target_restrictions().no_buy == ("NFLX",)
    setup = prepare(client)
    assert [x.ticker for x in setup.completion.excluded] == ["NFLX"]
    assert setup.completion.completion_share == pytest.approx(0.62)
    assert "NFLX" not in setup.target.weights.index
    assert "NFLX" not in setup.eligibility.buyable()


def test_the_completion_sleeve_is_built_around_fixed_weights_by_hand():
    """A keep list's name held at a fixed weight (session 24): B2 at 10 % of the account,
    outside both sleeves. The manager holds A1 in half the account, so the completion
    sleeve has the other 40 % and may not hold B2. With c_A in sector A (split evenly), the
    total's active exposures are +0.4 c_A to A and -0.4 c_A to B, and the sleeve's own
    specific term is 0.4^2 x 0.04 x (2 (c_A/2 - 1/4)^2 + (3/4 - c_A)^2 + 1/16), so the
    objective's derivative is 0.0256 c_A + 0.0064 (3 c_A - 2), nil at c_A = 2/7."""
    r = CompletionProblem(two_sector_model(), BENCH).solve(pd.Series({"A1": 1.0}), 0.5,
                                                           fixed={"B2": 0.1})
    assert r.fixed == {"B2": 0.1}
    assert r.completion["B2"] == 0.0
    assert r.completion["A1"] == pytest.approx(1 / 7, abs=1e-6)
    assert r.completion["B1"] == pytest.approx(5 / 7, abs=1e-6)
    assert r.total["B2"] == pytest.approx(0.1)
    assert r.total["A1"] == pytest.approx(0.5 + 0.4 / 7, abs=1e-6)
    assert float(r.total.sum()) == pytest.approx(1.0)
    assert r.completion_share == pytest.approx(0.4)
    with pytest.raises(DataError, match="leave the completion sleeve"):
        CompletionProblem(two_sector_model(), BENCH).solve(pd.Series({"A1": 1.0}), 0.5,
                                                           fixed={"B2": 0.5})


def test_an_active_core_is_built_around_the_keep_list(tmp_path, capsys):
    """Session 24, item 1: an active + index core with a keep list (XOM held, not in the
    manager's model; COST held and in it) held them at whatever the target gave them (0:
    they are not buyable, so the core left them out) while never selling them. Now each is
    held at today's weight, the completion sleeve is chosen around them, and the proposal,
    the models table and ``pma-lab target build`` say so in the one set of words."""
    from sample_copy import copy_sample_client

    from pma_lab.app.cli import main
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare
    from pma_lab.report.labels import keep_list_words
    from pma_lab.report.proposal import models, models_table, target_summary

    profile = copy_sample_client("core-active", tmp_path, [
        ("profile.toml", "[target]\n",
         '[restrictions]\nhold_no_add = ["XOM", "COST"]\n\n[target]\n')])
    setup = prepare(load_client(profile))
    lots = setup.client.lots.lots
    value = sum(v for _, v in setup.size_accounts)
    today = {t: float(lots.shares[lots.ticker == t].sum()) * float(setup.prices[t]) / value
             for t in ("XOM", "COST")}
    comp = setup.completion
    assert comp.fixed == pytest.approx(today, rel=1e-12)
    assert setup.target.diagnostics["fixed"] == pytest.approx(today, rel=1e-12)
    for t, w in today.items():
        assert setup.target.weights[t] == pytest.approx(w, rel=1e-9)
        assert comp.completion.get(t, 0.0) == 0.0  # held outside the completion sleeve
    assert comp.active_held + comp.completion_share + sum(today.values()) == \
        pytest.approx(1.0)
    assert float(setup.target.weights.sum()) == pytest.approx(1.0)
    words = keep_list_words(setup)
    assert words.startswith(f"XOM {today['XOM']:.2%}, COST {today['COST']:.2%} of the "
                            "account, today's weight: never sold or added to, so the "
                            "completion sleeve (the index part of your core) is chosen to "
                            "track the benchmark around them")
    summary = dict(target_summary(setup).frame.itertuples(index=False, name=None))
    assert summary["Kept as they are (your keep list)"] == words
    rows = dict(models_table(models(setup.client), setup).frame.itertuples(index=False,
                                                                         name=None))
    assert rows["Target"].endswith(f"; your keep list: {words}")
    capsys.readouterr()
    assert main(["target", "build", "--profile", str(profile)]) == 0
    assert f"  kept as they are (your keep list): {words}\n" in capsys.readouterr().out
