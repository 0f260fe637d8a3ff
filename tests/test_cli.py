"""The pma-lab command line: help everywhere, real runs, clear errors and exit codes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pma_lab.app.cli import cli, main
from pma_lab.paths import bad_inputs_dir, clients_dir

HH = clients_dir() / "household" / "profile.toml"


def _commands(group, prefix=()):
    import click

    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", list(_commands(cli)), ids=" ".join)
def test_every_subcommand_has_help(path, capsys):
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage: pma-lab " + " ".join(path) in out


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("pma-lab")
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    assert r.returncode == 0 and "pma-lab" in r.stdout


def test_lots_summarize_writes_tables(tmp_path, capsys):
    assert main(["lots", "summarize", "--profile", str(HH), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Client household as of 2026-07-31" in out and "do not buy KLAC" in out
    # reviewer (session 21): the IRA's purchases lose a washed loss for good, and META is
    # named as held (the proposal's calendar's rule), not "META (was FB)"
    assert ("do not sell at a loss META through 2026-08-07: the loss would be lost for good "
            "(IRA purchase on 2026-07-08)") in out
    locks = pd.read_csv(tmp_path / "locks.csv")
    assert set(locks.lock) == {"no_buy", "no_loss_sale"}
    # reviewer 1 (session 24): the purchases in words, not Python's datetime.date(...) text
    meta = locks[(locks.lock == "no_loss_sale") & (locks.group == "META")].purchases
    assert list(meta) == ["2026-07-08: 63 shares (IRA)"], list(meta)
    assert not locks.purchases.astype(str).str.contains("datetime").any()
    # dollars to the cent (reviewer 2, session 24: -215.400000000001)
    for name in ("lots.csv", "holdings.csv"):
        table = pd.read_csv(tmp_path / name)
        money = table[[c for c in ("market_value", "basis", "unrealized", "unrealized_st",
                                   "unrealized_lt") if c in table]]
        assert ((money * 100).round(6) % 1 == 0).all().all(), name
    # the year's netting reads as `ledger replay`'s .netting.csv: the same column names,
    # losses negative, to the cent (reviewer 1, session 21: carryin_st / deduction were
    # positive here and negative there, under other names; 0 beside -5000.00)
    realized = (tmp_path / "realized.csv").read_text().splitlines()
    assert realized[0] == ("year,st_gains,st_losses,lt_gains,lt_losses,st_loss_carried_in,"
                           "lt_loss_carried_in,st_net,lt_net,combined,loss_deducted,"
                           "st_loss_carried_out,lt_loss_carried_out,taxable_st,taxable_lt,tax")
    row = dict(zip(realized[0].split(","), realized[1].split(","), strict=True))
    assert row["year"] == "2026" and row["st_losses"] == "-3493.05"  # the KLAC loss sale
    assert all(re.fullmatch(r"-?\d+\.\d\d", v) for k, v in row.items() if k != "year"), row


def test_bad_lots_exit_2_and_name_row_and_column(capsys):
    code = main(["lots", "validate", str(bad_inputs_dir() / "bad_negative_shares.csv"),
                 "--profile", str(bad_inputs_dir() / "base_profile.toml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "bad_negative_shares.csv, row 3, column 'shares'" in err and "Fix:" in err


def test_lots_validate_checks_the_file_given_when_the_profiles_own_is_missing(tmp_path,
                                                                              capsys):
    """Reviewer 1 (session 24): ``lots validate NEW.csv --profile P`` stopped at "lots.csv
    does not exist next to the profile", though the files given replace the profile's."""
    folder = tmp_path / "yp"
    shutil.copytree(clients_dir() / "young-pro", folder)
    lots = tmp_path / "new_lots.csv"
    (folder / "brokerage_export.csv").rename(lots)
    assert main(["lots", "validate", str(lots), "--profile", str(folder / "profile.toml")]) == 0
    assert capsys.readouterr().out.startswith("OK: ")
    assert main(["lots", "validate", "--profile", str(folder / "profile.toml")]) == 2
    assert "does not exist next to the profile" in capsys.readouterr().err


def test_bad_as_of_is_a_usage_error(capsys):
    assert main(["lots", "validate", "--profile", str(HH), "--as-of", "31/07/2026"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_ledger_replay_form_8949(tmp_path, capsys):
    trades = tmp_path / "t.csv"
    trades.write_text(
        "date,account,account_type,ticker,side,shares,price\n"
        "2012-01-03,T,taxable,AAPL,buy,100,10\n"
        "2013-01-02,T,taxable,AAPL,sell,100,7.50\n"
        "2013-01-31,T,taxable,AAPL,buy,100,8\n"
        "2013-06-03,T,taxable,AAPL,sell,100,12\n")
    out = tmp_path / "8949.csv"
    assert main(["ledger", "replay", str(trades), "--out", str(out)]) == 0
    rows = pd.read_csv(out)
    first, second = rows.iloc[0], rows.iloc[1]
    assert first.adjustment_code == "W" and first.adjustment_amount == 250.0
    assert first.gain_loss == 0.0
    # the replacement carries basis 1,050 and the tacked holding period (long-term)
    assert second.cost_basis == 1050.0 and second.term == "LT"
    assert second.date_acquired == "2012-02-01"  # 2013-01-31 minus the 365 days held
    net = pd.read_csv(out.with_suffix(".netting.csv"))
    assert list(net.year) == [2013] and net.lt_net.iloc[0] == 150.0
    assert "Form 8949 rows (2 dispositions, 1 wash sales)" in capsys.readouterr().out


def test_ledger_replay_reads_slash_dates_in_the_profiles_order(tmp_path, capsys):
    """Reviewer 2 (session 24): with the profile's lots.date_order = "MDY", `ledger replay
    FILE --profile P` refused 07/08/2026 as ambiguous (only the flag was read), where
    `lots summarize` read the same file."""
    folder = tmp_path / "household"
    shutil.copytree(clients_dir() / "household", folder)
    text = (folder / "profile.toml").read_text()
    (folder / "profile.toml").write_text(
        text.replace("[lots]\n", '[lots]\ndate_order = "MDY"\n', 1))
    trades = tmp_path / "t.csv"
    trades.write_text("date,account,account_type,ticker,side,shares,price\n"
                      "07/01/2026,taxable,taxable,AAPL,buy,10,200\n"
                      "07/08/2026,taxable,taxable,AAPL,sell,10,190\n")
    assert main(["ledger", "replay", str(trades), "--profile",
                 str(folder / "profile.toml")]) == 0
    assert "2026-07-08" in capsys.readouterr().out


def test_ledger_replay_bad_blotter(capsys):
    code = main(["ledger", "replay", str(bad_inputs_dir() / "bad_blotter_side.csv")])
    assert code == 2 and "column 'side'" in capsys.readouterr().err


# `pma-lab demo` without --out (its default folder, ./pma_lab_demo) is checked by
# tests/test_demo.py's demo run (one demo render for both checks).


def test_demo_help_states_defaults_true_for_an_installed_package(capsys):
    assert main(["demo", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "data/samples" not in text  # a source-tree path, absent from an installed package
    assert "./pma_lab_demo in the current folder" in text
    assert "sample clients shipped with pma_lab" in text


TECH = clients_dir() / "tech-exec" / "profile.toml"


def test_target_build_prints_and_writes(tmp_path, capsys):
    out = tmp_path / "target.csv"
    assert main(["target", "build", "--profile", str(TECH), "--names", "40",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "40 names" in text and "ex-ante tracking error" in text
    t = pd.read_csv(out)
    assert len(t) == 40 and abs(t.weight.sum() - 1) < 1e-9
    assert not set(t.ticker) & {"AMD", "AVGO", "INTC", "MU", "QCOM"}  # the no-buy list


def test_target_build_of_an_active_index_core_is_the_core(tmp_path, capsys):
    # --names sets the completion sleeve's count; the target is the model plus the sleeve
    out = tmp_path / "core.csv"
    core = clients_dir() / "core-active" / "profile.toml"
    assert main(["target", "build", "--profile", str(core), "--names", "25",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    t = pd.read_csv(out)
    model = pd.read_csv(core.parent / "active_model.csv")
    # the version in force on the client's date (the file also holds a later update)
    model = model[model.date == model.date[model.date <= "2026-07-31"].max()]
    model = model.set_index("ticker").weight
    assert set(model.index) <= set(t.ticker) and len(t) <= len(model) + 25
    assert (f"{len(t)} names (the active model at 40% and a completion sleeve of 25 names, "
            "asked 25 for its 60%)") in text
    for ticker, w in model.items():  # the model's weight is kept, the sleeve adds to it
        assert t.set_index("ticker").weight[ticker] >= 0.4 * w - 1e-9


def test_rebalance_writes_trades_and_decisions(tmp_path, capsys):
    assert main(["rebalance", "--profile", str(TECH), "--gamma-tax", "0.1",
                 "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "ledger-checked: True" in text
    # the account as the proposal names it ("Taxable account"), not its profile id
    assert "Rebalance of the taxable account for tech-exec as of " in text
    # reviewer 1, session 19: its trades differ from the proposal's, which is not said
    # reviewer 1, session 22: said plainly, first
    assert "  NOT the proposal's trades: one rebalance toward the target" in text
    assert "The proposal's trades today are the first step of the client's plan" in text
    dec = pd.read_csv(tmp_path / "decisions.csv")
    trades = pd.read_csv(tmp_path / "trades.csv")
    assert set(dec.action) <= {"hold", "sell", "sell (part)", "harvest", "harvest (part)",
                               "defer"}
    assert dec.reason.str.len().gt(0).all()
    assert not set(trades[trades.side == "buy"].ticker) & {"AMD", "AVGO", "INTC", "MU", "QCOM"}


ALL_CASH_PROFILE = """schema_version = 1

[client]
id = "new-cash"
name = "New Cash"
as_of = 2026-07-31

[tax]
filing_status = "single"
taxable_income = 300000.0
state_rate = 0.05

[[accounts]]
id = "taxable"
type = "taxable"
relief = "min_tax"
cash = 500000.0

[target]
model = "sp500"
names = 30
"""


def test_rebalance_invests_an_all_cash_account(tmp_path, capsys):
    """Reviewer 1 (session 25, #12): a new account funded with cash, the commonest case,
    could not be set up ([lots] was required; the workaround was a 1-share dummy lot). A
    profile without lots and $500,000 of cash buys the 30-name target in whole shares."""
    (tmp_path / "profile.toml").write_text(ALL_CASH_PROFILE)
    out = tmp_path / "out"
    assert main(["rebalance", "--profile", str(tmp_path / "profile.toml"),
                 "--out", str(out)]) == 0, capsys.readouterr().err
    trades = pd.read_csv(out / "trades.csv")
    assert set(trades.side) == {"buy"} and 28 <= len(trades) <= 30
    assert (trades.shares > 0).all() and (trades.shares % 1 == 0).all()  # whole shares
    assert 495_000 < trades.value.sum() <= 500_000  # the cash, invested
    # files = [] reads the same; a header-only export is the empty account, with a warning
    (tmp_path / "profile.toml").write_text(ALL_CASH_PROFILE.replace(
        "[target]", '[lots]\nfiles = ["lots.csv"]\n\n[target]'))
    (tmp_path / "lots.csv").write_text("ticker,acquired,shares,cost_total\n")
    capsys.readouterr()
    assert main(["lots", "validate", "--profile", str(tmp_path / "profile.toml")]) == 0
    got = capsys.readouterr()
    text = " ".join((got.out + got.err).split())
    assert "OK: 0 lots in 1 file(s)" in text
    assert (f"{tmp_path / 'lots.csv'}, row 1: warning: the file has a header but no lots: "
            "read as an account with no positions") in text


def test_rebalance_infeasible_names_the_conflict(tmp_path, capsys):
    # a zero budget cannot bring tech-exec's 40 % of NVDA (all gain) under a 5 % cap on IT
    # (a restriction's sale no longer conflicts: it is made whatever the tax)
    text = TECH.read_text().replace("short_term = 0.0\nlong_term = 150000.0", "total = 0.0")
    text = text.replace('no_buy = ["AMD"', 'sector_max_weight = { "Information Technology" '
                        '= 0.05 }\nno_buy = ["AMD"')
    (tmp_path / "profile.toml").write_text(text)
    shutil.copy(TECH.parent / "lots.csv", tmp_path / "lots.csv")
    code = main(["rebalance", "--profile", str(tmp_path / "profile.toml")])
    err = capsys.readouterr().err
    assert code == 1 and "infeasible" in err and "budgets" in err and "sector_limits" in err


def test_frontier_table(tmp_path, capsys):
    out = tmp_path / "f.csv"
    assert main(["frontier", "--profile", str(TECH), "--points", "5", "--out", str(out)]) == 0
    f = pd.read_csv(out)
    # efficient points only (the harvest point dominates doing nothing for tech-exec)
    assert 2 <= len(f) <= 5 and f.kind.iloc[-1] == "target" and f.te.is_monotonic_decreasing
    assert {"tax_this_year", "carryforward_created", "tax_economic"} <= set(f.columns)


# ------------------------------------------------------------------ settings and models (issue 15)
def _own_models(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """young-pro (holds PYPL and SPY) and a researcher's 6-name covariance, benchmark and
    3-name target, written as cov.csv, bench.csv and target.csv in ``tmp_path``."""
    import numpy as np

    names = ["AAPL", "MSFT", "JNJ", "PG", "KO", "PYPL"]
    cov = pd.DataFrame(np.diag([0.09, 0.06, 0.03, 0.03, 0.03, 0.04]) + 0.01, index=names,
                       columns=names)
    cov.to_csv(tmp_path / "cov.csv")
    pd.DataFrame({"ticker": names, "weight": [0.3, 0.3, 0.1, 0.1, 0.1, 0.1]}).to_csv(
        tmp_path / "bench.csv", index=False)
    pd.DataFrame({"ticker": ["AAPL", "MSFT", "JNJ"], "weight": [0.4, 0.4, 0.2]}).to_csv(
        tmp_path / "target.csv", index=False)
    return clients_dir() / "young-pro" / "profile.toml", cov


def test_rebalance_options_reach_the_settings_and_models_come_from_files(tmp_path, capsys):
    young, _ = _own_models(tmp_path)
    out = tmp_path / "out"
    code = main(["rebalance", "--profile", str(young), "--risk-model",
                 str(tmp_path / "cov.csv"), "--benchmark", str(tmp_path / "bench.csv"),
                 "--target", str(tmp_path / "target.csv"), "--cash-target", "1%",
                 "--spread", "5bp", "--wash-sale-mode", "disallow", "--min-trade", "500",
                 "--fractional-shares", "--gamma-tax", "0", "--out", str(out)])
    text = capsys.readouterr()
    assert code == 0, text.err
    assert "fractional shares" in text.out
    assert ("Risk model: Your covariance matrix, cov.csv (6 stocks)\n"
            "Benchmark: Your benchmark weights, bench.csv (6 stocks)\n"
            "Target: Your target weights, target.csv (3 stocks)\n") in text.out
    summary = pd.read_csv(out / "summary.csv", index_col=0)["value"]
    checks = pd.read_csv(out / "checks.csv").set_index("constraint")
    value = float(summary["value"])
    assert float(checks.loc["cash >= target", "limit"]) == pytest.approx(0.01 * value)
    assert float(checks.loc["min_trade (smallest order, USD)", "limit"]) == 500
    trades = pd.read_csv(out / "trades.csv")
    assert set(trades[trades.side == "buy"].ticker) <= {"AAPL", "MSFT", "JNJ"}


@pytest.mark.parametrize(("args", "match"), [
    (["--spread", "-1bp"], "spread must be >= 0"),
    (["--te-cap", "0%"], "--te-cap 0% is not a tracking-error cap: write a share above 0"),
    (["--te-cap", "5"], "--te-cap 5 is 500 %; write 0.05 (or 5%) for 5 %"),
    (["--te-cap", "nan"], "--te-cap nan is not a tracking-error cap"),
    (["--cash-target", "2 percent"], "is not a share: write 0.02, 2% or 200bp"),
])
def test_bad_settings_on_the_command_line_are_explained(args, match, capsys):
    code = main(["rebalance", "--profile", str(TECH), *args])
    assert code == 2
    err = capsys.readouterr().err
    assert match in err and "te_cap" not in err and "None" not in err


def test_transition_prints_the_proposals_labelled_tables(tmp_path, capsys):
    """``pma-lab transition`` prints the proposal's plan tables: plans in words (the
    client's marked), the proposal's headings and cells, no plan codes (issue 10)."""
    import dataclasses

    import pma_lab.plan.transition as transition
    from pma_lab.optimize.engine import prepare
    from pma_lab.report import labels
    from pma_lab.report import proposal as report

    code = main(["transition", "--profile", str(TECH), "--plans", "immediate,2y", "--years",
                 "1", "--annual", "--mc-paths", "8", "--workers", "1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    text = out.out
    # the proposal's tables from the same run, printed as the CLI prints them
    setup = prepare(report.load(TECH, [], ""))
    mp = pytest.MonkeyPatch()
    real = transition.run_transition
    mp.setattr(transition, "run_transition", lambda setup, plans, settings, *a: real(
        setup, plans, dataclasses.replace(settings, mc_paths=8, workers=1), *a))
    try:
        an = report.transition(setup, "immediate,2y", 1, True)
    finally:
        mp.undo()
    for t in (report.comparison_table(an), report.te_years_table(an, setup.benchmark),
              report.outcomes_table(an)):
        assert repr(t) in text, t.caption
    # "Move now" against itself is no figure (reviewer 2, session 22: it read 0 %)
    chance = report.outcomes_table(an).frame.prob_below_diversified
    assert np.isnan(chance["immediate"]) and not chance.drop("immediate").isna().all()
    mine = transition.client_plan(setup)
    assert "\u2605 Your plan: " + labels.plan_name(mine) in text
    for words in ("Move now", "Move over 2 years", "Hold (no change)", "Tax over 1 year",
                  "Range (1 in 10 below / above)",
                  # --annual: a year's figure is its step's (reviewer 1, session 25)
                  "Tracking error to the S&P 500 at each step (annual steps on the as-of "
                  "anniversary, 31 July; expected path)"):
        assert words in text, words
    tables = text.split("Assumptions:")[0]
    for raw in ("budget:", "immediate", " 2y ", "hold ", "tax_total", "te_year1", "nan",
                "NaN", "vs_immediate", "1 years"):
        assert raw not in tables, raw
    assert "not within 1 year " in tables
    assert "immediate" not in text  # the assumptions in the proposal's words too


def test_transition_takes_the_researchers_models_from_files(tmp_path, capsys):
    """--risk-model, --benchmark and --target reach the transition as they reach rebalance."""
    young, cov = _own_models(tmp_path)
    code = main(["transition", "--profile", str(young), "--risk-model",
                 str(tmp_path / "cov.csv"), "--benchmark", str(tmp_path / "bench.csv"),
                 "--target", str(tmp_path / "target.csv"), "--plans", "immediate",
                 "--years", "1", "--annual", "--mc-paths", "0", "--workers", "1",
                 "--out", str(tmp_path / "out")])
    text = capsys.readouterr()
    assert code == 0, text.err
    yearly = pd.read_csv(tmp_path / "out" / "yearly.csv")
    # moving now onto the 3-name target, under the 6-name model: TE to the target ~0
    now = yearly[yearly.plan == "immediate"]
    assert now.te_target.iloc[-1] < 0.001 < yearly[yearly.plan == "hold"].te_target.iloc[-1]
    cov.iloc[0, 1] = 0.5  # not symmetric: refused, with the fix
    cov.to_csv(tmp_path / "cov.csv")
    code = main(["transition", "--profile", str(young), "--risk-model",
                 str(tmp_path / "cov.csv"), "--plans", "immediate"])
    assert code == 2 and "symmetric" in capsys.readouterr().err


def test_target_build_takes_the_researchers_risk_model(tmp_path, capsys):
    young, cov = _own_models(tmp_path)
    out = tmp_path / "t.csv"
    code = main(["target", "build", "--profile", str(young), "--risk-model",
                 str(tmp_path / "cov.csv"), "--benchmark-file", str(tmp_path / "bench.csv"),
                 "--names", "3", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    t = pd.read_csv(out)
    assert len(t) == 3 and set(t.ticker) <= set(cov.index)  # only the model's names


def test_target_build_spells_benchmark_as_rebalance_does(tmp_path, capsys):
    """Issue 15: ``--benchmark`` as in rebalance/frontier/transition; the old name still works."""
    assert main(["target", "build", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "--benchmark, --benchmark-file" in help_text and "Your own benchmark" in help_text
    young, cov = _own_models(tmp_path)
    for opt in ("--benchmark", "--benchmark-file"):
        out = tmp_path / f"t{opt}.csv"
        code = main(["target", "build", "--profile", str(young), "--risk-model",
                     str(tmp_path / "cov.csv"), opt, str(tmp_path / "bench.csv"),
                     "--names", "3", "--out", str(out)])
        text = capsys.readouterr()
        assert code == 0, text.err
        assert "vs the unrestricted bench:" in text.out  # the file's benchmark, not the proxy
        assert len(pd.read_csv(out)) == 3
    code = main(["target", "build", "--profile", str(young), "--benchmark",
                 str(tmp_path / "nowhere.csv")])
    assert code == 2 and "nowhere.csv" in capsys.readouterr().err


# ------------------------------------------------------------ model files (issue 15, io.models)
MODEL_COMMANDS = [("rebalance",), ("frontier",), ("transition",), ("propose",),
                  ("batch",), ("target", "build")]


@pytest.mark.parametrize("path", MODEL_COMMANDS, ids=" ".join)
def test_every_command_that_prepares_a_client_takes_the_model_files(path, capsys):
    """One shared set of options (_model_opts), each with its --help text."""
    assert main([*path, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--risk-model FILE|FOLDER Your own risk model" in text
    assert "positive semidefinite" in text and "factor_cov" in text
    assert "--benchmark, --benchmark-file FILE Your own benchmark" in text
    assert "never rescaled" in text
    if path != ("target", "build"):  # target build builds the target
        assert "--target FILE Your own target portfolio" in text


@pytest.mark.parametrize(("what", "write", "parts"), [
    ("--risk-model", lambda d, cov: cov.assign(KO=cov.KO * 2).to_csv(d / "bad.csv"),
     ["risk model file; nothing was loaded", "row 2, column 'KO'",
      "not symmetric: AAPL/KO is 0.02 but KO/AAPL is 0.01",
      "Fix: a covariance matrix is symmetric"]),
    ("--risk-model", lambda d, cov: pd.concat([cov, cov.iloc[[0]]]).to_csv(d / "bad.csv"),
     ["row 8", "AAPL has two rows (2 and 8)"]),
    ("--target", lambda d, cov: pd.DataFrame({"ticker": ["AAPL", "MSFT"],
                                               "weight": [0.5, 0.4]}).to_csv(
        d / "bad.csv", index=False),
     ["target weights file", "column 'weight'", "sum to 0.9, not 1",
      "does not rescale target weights"]),
    ("--target", lambda d, cov: pd.DataFrame({"ticker": ["AAPL", "XOM"],
                                               "weight": [0.5, 0.5]}).to_csv(
        d / "bad.csv", index=False),
     ["row 3, column 'ticker'", "XOM is not in the risk model given with --risk-model"]),
    ("--benchmark", lambda d, cov: pd.DataFrame({"ticker": ["AAPL", "NOTATICKER"],
                                                  "weight": [0.5, 0.5]}).to_csv(
        d / "bad.csv", index=False),
     ["benchmark weights file", "row 3, column 'ticker'", "'NOTATICKER' is not a ticker"]),
])
@pytest.mark.parametrize("command", ["rebalance", "frontier", "transition"])
def test_a_bad_model_file_stops_the_command_with_its_row_column_and_fix(
        tmp_path, capsys, command, what, write, parts):
    young, cov = _own_models(tmp_path)
    write(tmp_path, cov)
    files = {"--risk-model": tmp_path / "cov.csv", "--benchmark": tmp_path / "bench.csv",
             "--target": tmp_path / "target.csv", what: tmp_path / "bad.csv"}
    code = main([command, "--profile", str(young),
                 *[x for k, v in files.items() for x in (k, str(v))]])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert f"{tmp_path / 'bad.csv'}" in err
    for p in parts:
        assert p in err, (p, err)


def test_a_factor_model_folder_reaches_the_rebalance(tmp_path, capsys):
    young, cov = _own_models(tmp_path)
    fm = tmp_path / "fm"
    fm.mkdir()
    names = list(cov.index)
    pd.DataFrame({"market": [1.2, 1.1, 0.6, 0.5, 0.6, 1.3]},
                 index=pd.Index(names, name="ticker")).to_csv(fm / "loadings.csv")
    pd.DataFrame([[0.03]], index=["market"], columns=["market"]).to_csv(fm / "factor_cov.csv")
    pd.DataFrame({"ticker": names, "specific_var": [0.04, 0.03, 0.02, 0.02, 0.02, 0.05]}
                 ).to_csv(fm / "specific_var.csv", index=False)
    out = tmp_path / "out"
    code = main(["rebalance", "--profile", str(young), "--risk-model", str(fm),
                 "--benchmark", str(tmp_path / "bench.csv"), "--gamma-tax", "0",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    trades = pd.read_csv(out / "trades.csv")
    assert set(trades[trades.side == "buy"].ticker) <= set(names)
    (fm / "factor_cov.csv").unlink()
    code = main(["rebalance", "--profile", str(young), "--risk-model", str(fm)])
    err = capsys.readouterr().err
    assert code == 2 and "the factor model folder has no factor_cov file" in err


@pytest.mark.slow
def test_propose_passes_the_model_files_to_the_notebook_and_names_them(tmp_path, capsys):
    """End to end: pma-lab propose --risk-model/--benchmark/--target -> papermill parameters
    risk_model_file, benchmark_file, target_file -> a proposal that says which models it
    used; a model file that does not exist stops the run before a kernel starts."""
    import html
    import re

    import nbformat

    young, _ = _own_models(tmp_path)
    out = tmp_path / "prop"
    fast = ["--plans", "immediate,budget:0", "--years", "2",  # as pma-lab transition
            "--param", "annual_steps=true", "--param", "frontier_points=3"]
    code = main(["propose", "--profile", str(young), "--out", str(out),
                 "--risk-model", str(tmp_path / "cov.csv"), "--benchmark",
                 str(tmp_path / "bench.csv"), "--target", str(tmp_path / "target.csv"),
                 *fast])
    assert code == 0, capsys.readouterr().err
    nb = nbformat.read(out / "young-pro_proposal.ipynb", as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    for name, f in (("risk_model_file", "cov.csv"), ("benchmark_file", "bench.csv"),
                    ("target_file", "target.csv")):
        assert f'{name} = "{tmp_path / f}"' in injected.source
    assert 'plans = "immediate,budget:0"' in injected.source  # --plans
    assert "horizon_years = 2" in injected.source  # --years
    page = (out / "young-pro_proposal.html").read_text(encoding="utf-8")
    text = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))
    assert ("Models used in this proposal Risk model Your covariance matrix, cov.csv "
            "(6 stocks) Benchmark Your benchmark weights, bench.csv (6 stocks) Target Your "
            "target weights, target.csv (3 stocks)") in text
    assert "Target portfolio Benchmark bench (" in text  # target_summary names it too
    trades = pd.read_csv(out / "young-pro_trades.csv")
    bought = set(trades[trades.Action == "BUY"].Symbol)
    assert bought and bought <= {"AAPL", "MSFT", "JNJ"}  # the 3-name target's names only
    # a relative path is resolved before papermill runs in the notebook's folder
    code = main(["propose", "--profile", str(young), "--out", str(tmp_path / "p2"),
                 "--param", f"target_file={tmp_path / 'nowhere.csv'}"])
    assert code == 2 and "target_file=" in capsys.readouterr().err


def test_no_output_replaces_a_file_of_a_factor_model_folder(tmp_path, capsys):
    young, cov = _own_models(tmp_path)
    fm = tmp_path / "fm"
    fm.mkdir()
    pd.DataFrame({"market": [1.0] * 6}, index=pd.Index(cov.index, name="ticker")).to_csv(
        fm / "loadings.csv")
    pd.DataFrame([[0.03]], index=["market"], columns=["market"]).to_csv(fm / "factor_cov.csv")
    pd.DataFrame({"ticker": cov.index, "specific_var": 0.04}).to_csv(fm / "specific_var.csv",
                                                                       index=False)
    before = (fm / "loadings.csv").read_bytes()
    code = main(["frontier", "--profile", str(young), "--risk-model", str(fm), "--points", "3",
                 "--out", str(fm / "loadings.csv")])
    assert code == 2 and "loadings.csv" in capsys.readouterr().err
    assert (fm / "loadings.csv").read_bytes() == before


def test_propose_refuses_a_bad_model_file_before_a_kernel_starts(tmp_path, capsys):
    young, cov = _own_models(tmp_path)
    cov.iloc[0, 1] = 0.5  # not symmetric
    cov.to_csv(tmp_path / "cov.csv")
    out = tmp_path / "prop"
    code = main(["propose", "--profile", str(young), "--out", str(out),
                 "--risk-model", str(tmp_path / "cov.csv")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert f"{tmp_path / 'cov.csv'}, row 2, column 'MSFT'" in err and "not symmetric" in err
    assert not out.exists()  # no notebook ran, nothing was written
    pd.DataFrame({"ticker": ["AAPL", "MSFT"], "weight": [0.5, 0.4]}).to_csv(
        tmp_path / "t.csv", index=False)
    code = main(["propose", "--profile", str(young), "--out", str(out),
                 "--param", f"target_file={tmp_path / 't.csv'}"])  # as a batch passes it
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "sum to 0.9, not 1" in err and not out.exists()


@pytest.mark.parametrize("command", ["propose", "transition"])
@pytest.mark.parametrize(("args", "message"), [
    (["--plans", "budget:-5"], "plan 'budget:-5': the budget '-5' must be a non-negative "
                               "dollar amount in digits, cents allowed (25000 or 25000.50, "
                               "no $ or commas), e.g. budget:25000"),
    (["--plans", "3y,budget:$25,000"], "plans '3y,budget:$25,000': the commas separate "
                                       "plans, so '$25,000' reads as two ($25 and 000); "
                                       "write the amount in digits, without a thousands "
                                       "separator or $: 25000"),
    (["--plans", "budget:$25"], "plan 'budget:$25': the budget '$25' must be a "
                                "non-negative dollar amount"),
    (["--plans", "hold,budget:10000:flow=-20,000:te=0.02"],
     "so 'flow=-20,000' reads as two (flow=-20 and 000); write the amount in digits, without "
     "a thousands separator or $: flow=-20000"),
    (["--plans", "immediate,5y:gift=-1"], "gift=-1 must be zero or positive (a dollar "
                                          "amount a year, e.g. gift=10000)"),
    (["--plans", "2y:tax=5"], "unknown option 'tax'; a plan's options are st=<USD>, "
                              "lt=<USD>, te=<cap>, gift=<USD>, flow=<USD>, "
                              "concentrated=keep|build|sell"),
    (["--plans", "soon"], "plan 'soon' is not understood; write one of immediate - move to "
                          "the target now"),
    (["--years", "0"], "Invalid value for '--years': 0 is not in the range 1<=x<=30"),
    (["--plans", "immediate:flow=abc"], "flow='abc' is not a number; write a dollar amount "
                                        "a year in digits, negative to withdraw"),
    (["--plans", "immediate:flow=-1e13"], "flow=-1e13 is outside the plausible range"),
])
def test_bad_plans_or_years_stop_before_any_work(tmp_path, capsys, command, args, message):
    """--plans is parsed plan by plan (the parser's message, exit 2) before the client is
    read or a kernel starts; propose takes --plans and --years as transition does."""
    out = tmp_path / "out"
    code = main([command, "--profile", str(tmp_path / "no-such-profile.toml"),
                 "--out", str(out), *args])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert message in err, err
    assert "Invalid value for '--" in err and not out.exists()


def test_propose_refuses_a_plan_given_both_as_option_and_param(tmp_path, capsys):
    for args, option in ((["--plans", "3y", "--param", "plans=5y"], "--plans"),
                         (["--years", "3", "--param", "horizon_years=4"], "--years")):
        code = main(["propose", "--profile", str(HH), "--out", str(tmp_path / "p"), *args])
        err = " ".join(capsys.readouterr().err.split())
        assert code == 2 and f"and {option} both give the notebook's" in err, err
        assert "give it once" in err and not (tmp_path / "p").exists()


def test_batch_checks_the_model_files_once_before_any_client_runs(tmp_path, capsys):
    _, cov = _own_models(tmp_path)
    pd.concat([cov, cov.iloc[[2]]]).to_csv(tmp_path / "cov.csv")  # JNJ twice
    out = tmp_path / "batch"
    code = main(["batch", str(clients_dir()), "--out", str(out), "--workers", "1",
                 "--risk-model", str(tmp_path / "cov.csv")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "JNJ has two rows (4 and 8)" in err and "row 8" in err
    assert not out.exists()


@pytest.mark.slow
def test_batch_passes_the_model_files_to_every_clients_proposal(tmp_path, capsys):
    young, _ = _own_models(tmp_path)
    clients = tmp_path / "clients"
    shutil.copytree(young.parent, clients / "young-pro")
    out = tmp_path / "batch"
    code = main(["batch", str(clients), "--out", str(out), "--workers", "1",
                 "--risk-model", str(tmp_path / "cov.csv"), "--target",
                 str(tmp_path / "target.csv"), "--param", "plans=immediate",
                 "--param", "horizon_years=1", "--param", "annual_steps=true",
                 "--param", "frontier_points=3"])
    assert code == 0, capsys.readouterr().err
    page = (out / "young-pro" / "young-pro_proposal.html").read_text(encoding="utf-8")
    assert "Your covariance matrix, cov.csv (6 stocks)" in page
    assert "Your target weights, target.csv (3 stocks)" in page


def test_a_target_name_the_clients_screens_exclude_is_named_with_its_row(tmp_path, capsys):
    """young-pro screens out gambling: LVS in --target is refused with its row and screen."""
    young, _ = _own_models(tmp_path)
    pd.DataFrame({"ticker": ["AAPL", "LVS"], "weight": [0.9, 0.1]}).to_csv(
        tmp_path / "t.csv", index=False)
    code = main(["rebalance", "--profile", str(young), "--target", str(tmp_path / "t.csv")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2, err
    assert f"{tmp_path / 't.csv'}, row 3, column 'ticker'" in err
    assert "LVS is excluded by the client's screens (gambling screen" in err
    assert "change the profile's [restrictions]" in err


def test_rebalance_states_the_loss_carryforward_in_the_proposals_words(tmp_path, capsys):
    """retiree carries $18,500 in; the rebalance prints the carryforward rows of the
    proposal's harvesting table (labels.carryforward_rows), which add up."""
    from pma_lab.formatting import fmt_usd
    from pma_lab.report.labels import carryforward_rows

    retiree = clients_dir() / "retiree" / "profile.toml"
    assert main(["rebalance", "--profile", str(retiree), "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    s = pd.read_csv(tmp_path / "summary.csv", index_col=0)["value"]
    # summary.csv gives levels before and after and the change, each under its own name
    # (reviewer 1, session 19: "carryforward_st" was the change beside the "_before" level)
    assert "carryforward_st" not in s.index and "carryforward_lt" not in s.index
    for term in ("st", "lt"):
        assert float(s[f"carryforward_{term}_after"]) == pytest.approx(
            float(s[f"carryforward_{term}_before"]) + float(s[f"carryforward_{term}_change"]))
        assert float(s[f"carryforward_{term}_after"]) >= 0
    # the carry-in from earlier years has its own figures, ahead of next year's without
    # today's trades (reviewer 1, session 25: carryforward_lt_before 15,500 read as the
    # carry-in, 18,500)
    assert float(s["carryforward_st_in"]) + float(s["carryforward_lt_in"]) == 18_500.0
    names = s.index.tolist()
    assert names.index("carryforward_lt_in") < names.index("carryforward_st_before")
    summary = {k: float(s[k]) for k in ("carryforward_st_before", "carryforward_lt_before")}
    summary |= {f"carryforward_{t}": float(s[f"carryforward_{t}_change"]) for t in ("st", "lt")}
    rows = carryforward_rows(summary, 2026, "$3,000", 18_500.0)
    assert rows[0] == ("Loss carryforward from earlier years into 2026", 18_500.0)
    for label, usd in rows:
        assert f"  {label}: {fmt_usd(usd)}\n" in text
    assert rows[3][1] == pytest.approx(rows[1][1] + (rows[2][1] if rows[2][0].startswith(
        "Added") else -rows[2][1]))
    # dollars as everywhere else: "-$2,649.73", never "$-2,649.73" (reviewer 1, session 21)
    assert "$-" not in text
    st, lt = float(s["realized_st"]), float(s["realized_lt"])
    assert min(st, lt) < 0
    assert f"  realised: ST {fmt_usd(st, 2)}, LT {fmt_usd(lt, 2)}; tax " in text


def test_rebalance_files_write_dollars_to_the_cent(tmp_path):
    """Reviewer 1, session 25: `pma-lab rebalance --out` wrote a gain of -60.1500000000005 in
    lot_trades.csv and decisions.csv and cash_after 4.34000000000916 in summary.csv (binary
    sums). Every dollar column and figure is now written to the cent; the API keeps them
    exact (RebalanceSummary.to_series() unrounded)."""
    import re

    from pma_lab.optimize.result import USD_FIGURES

    retiree = clients_dir() / "retiree" / "profile.toml"
    assert main(["rebalance", "--profile", str(retiree), "--out", str(tmp_path)]) == 0
    cents = re.compile(r"^-?\d+(\.\d{1,2})?$")
    for name, cols in (("lot_trades.csv", ("proceeds", "basis", "gain",
                                           "wash_loss_disallowed", "wash_loss_lost")),
                       ("decisions.csv", ("gain",)), ("trades.csv", ("value",))):
        f = pd.read_csv(tmp_path / name, dtype=str)
        for c in cols:
            bad = [v for v in f[c].dropna() if not cents.match(v)]
            assert not bad, f"{name} {c}: {bad[:3]}"
    s = pd.read_csv(tmp_path / "summary.csv", index_col=0, dtype=str)["value"]
    for k in USD_FIGURES:
        assert k in s.index
        assert pd.isna(s[k]) or cents.match(s[k]), (k, s[k])


def test_rebalance_says_why_a_forced_sale_goes_past_the_gains_budget(tmp_path, capsys):
    """balanced-6040 with the fossil-fuel screen: XOM (must not hold) is sold whatever the
    tax, its $36,958 gain above the $15,000 budget; the rebalance printed net $22,426 and
    "constraints: 8 of 8 hold" with no reason (the reason was only in decisions.csv). It
    now prints the proposal's sentence (labels.forced_sales_note) with the sale's gain."""
    src = tmp_path / "b6040"
    shutil.copytree(clients_dir() / "balanced-6040", src)
    prof = src / "profile.toml"
    prof.write_text(prof.read_text() + '\n[restrictions]\ncategories = ["fossil_fuels"]\n')
    assert main(["rebalance", "--profile", str(prof), "--out", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    lots = pd.read_csv(tmp_path / "out" / "lot_trades.csv")
    gain = lots[lots.ticker == "XOM"].gain.sum()
    assert gain > 15_000
    summary = pd.read_csv(tmp_path / "out" / "summary.csv", index_col=0)["value"]
    raised = float(summary["budget_raised_by_restrictions"])
    assert (f"  ${gain:,.0f} of the realised gains come from the sales your restrictions "
            f"force: XOM sold now whatever the tax (${gain:,.0f}). That is more than the "
            "gains budget allows, so the restrictions' sales raise its total $15,000 by "
            f"${raised:,.0f}, and the other trades realise no net gain beyond it.\n") in text
    # the unscreened client's budget is not raised: no such sentence
    assert main(["rebalance", "--profile", str(clients_dir() / "balanced-6040" /
                                               "profile.toml")]) == 0
    assert "the sales your restrictions force" not in capsys.readouterr().out


def test_rebalance_counts_a_glides_part_sales_among_the_forced_gains(tmp_path, capsys):
    """Review rev1 (rv-alex): MO must not be held (``sell``) and the fossil names are sold
    within 2 years (``sell_within:2``, half of XOM's and CVX's shares in a year's
    rebalance, ``sell (part)``). The note said "$12,316 of the realised gains come from
    selling MO" while summary.csv had restriction_gain_min $28,546 (MO, CVX and XOM) and
    a raise of $3,546, and did not say which cap was raised. Its amount, names and caps
    now agree with summary.csv, the glide names apart from those sold now."""
    fx = Path(__file__).parent / "fixtures" / "rv-alex" / "profile.toml"
    assert main(["rebalance", "--profile", str(fx), "--out", str(tmp_path / "out")]) == 0
    text = capsys.readouterr().out
    summary = pd.read_csv(tmp_path / "out" / "summary.csv", index_col=0)["value"]
    lots = pd.read_csv(tmp_path / "out" / "lot_trades.csv").set_index("ticker")
    forced = float(summary["restriction_gain_min"])
    assert forced == pytest.approx(lots.gain[["MO", "CVX", "XOM"]].sum(), abs=0.5)
    glide = lots.gain[["CVX", "XOM"]].sum()
    assert summary["budget_raised_caps"] == (
        f"total $25,000 by ${float(summary['budget_raised_by_restrictions']):,.0f}; "
        f"short-term $0 by ${lots.gain['CVX']:,.0f}")
    assert (f"  ${forced:,.0f} of the realised gains come from the sales your restrictions "
            f"force: MO sold now whatever the tax (${lots.gain['MO']:,.0f}) and CVX and XOM "
            f"sold along their glide (sell within the years you set; ${glide:,.0f}). That "
            "is more than the gains budget allows, so the restrictions' sales raise its "
            f"{summary['budget_raised_caps'].replace('; ', ' and its ')}, and the other "
            "trades realise no net gain beyond it.\n") in text


def _cash_alone_first(tmp_path):
    """The household sample with a first taxable account of cash alone (no lots)."""
    src = tmp_path / "hh"
    shutil.copytree(HH.parent, src)
    p = src / "profile.toml"
    text = p.read_text()
    text = text.replace('[[accounts]]\nid = "taxable"', '[[accounts]]\nid = "trust"\n'
                        'type = "taxable"\nrelief = "fifo"\ncash = 50000.0\n\n'
                        '[[accounts]]\nid = "taxable"', 1)
    text = text.replace('recent_trades = "recent_trades.csv"\n', "")
    assert 'id = "trust"' in text and "recent_trades" not in text
    p.write_text(text)
    return p


def test_rebalance_of_a_taxable_account_of_cash_alone(tmp_path, capsys):
    """A household whose first taxable account holds only cash (no lots): ``rebalance``
    buys the target with it (review, session 12: an IndexError from the lot classes)."""
    p = _cash_alone_first(tmp_path)
    assert main(["rebalance", "--profile", str(p), "--out", str(tmp_path / "out")]) == 0
    assert "  lots: none (the account holds cash only)" in capsys.readouterr().out
    trades = pd.read_csv(tmp_path / "out" / "trades.csv")
    assert len(trades) and (trades.side == "buy").all()
    assert float(trades.value.sum()) <= 50000.0


def test_rebalance_of_a_profile_without_a_taxable_account_says_how_to_fix(tmp_path, capsys):
    """The error names the profile file, its accounts and the fix (review, session 12)."""
    src = tmp_path / "ira"
    shutil.copytree(TECH.parent, src)
    p = src / "profile.toml"
    text = p.read_text()
    assert text.count('type = "taxable"') == 1
    p.write_text(text.replace('type = "taxable"', 'type = "ira"\nira_kind = "roth"'))
    assert main(["rebalance", "--profile", str(p)]) != 0
    err = capsys.readouterr().err
    assert str(p) in err and "no taxable account" in err
    assert "(roth)" in err and 'type = "taxable"' in err


def test_frontier_of_a_taxable_account_of_cash_alone(tmp_path, capsys):
    """The frontier's warm sweep on an account without lots (review 2, session 12: an
    IndexError in the sale minima): every point buys only."""
    p = _cash_alone_first(tmp_path)
    assert main(["frontier", "--profile", str(p), "--points", "3",
                 "--out", str(tmp_path / "fr")]) == 0
    assert "wrote" in capsys.readouterr().out


def _young_pro_budget0(folder: Path) -> Path:
    """young-pro with a $0 gains budget as its own plan (no [transition], [budgets] total
    0): withdrawing $120,000 a year, its plan stops in its third year (the withdrawal's
    sales break the $0 budget beyond the loss carried in; since session 16 it pays year
    2's from the cash it kept),
    the other plans run to the end (test_report's scenario)."""
    src = clients_dir() / "young-pro" / "profile.toml"
    shutil.copytree(src.parent, folder, dirs_exist_ok=True)
    text = src.read_text()
    assert '[transition]\nmode = "immediate"\n' in text and "total = 10000.0" in text
    (folder / src.name).write_text(text.replace('[transition]\nmode = "immediate"\n', "")
                                   .replace("total = 10000.0", "total = 0.0"))
    return folder / src.name


def test_transition_outputs_carry_no_figures_of_a_failed_plan(tmp_path, capsys):
    """H1 (session 13 review): on main comparison.csv and analysis.json gave a failed
    plan's partial-run tax_total, after_tax_wealth, vs_hold, te_year1..., yearly.csv its
    years, and analysis.json bare NaN (invalid JSON). Now its figure cells are empty /
    null, the reason is kept, its yearly rows are left out and the JSON parses strictly."""
    import json

    from pma_lab.plan.analysis import FAILED_KEEPS

    profile = _young_pro_budget0(tmp_path / "client")
    out = tmp_path / "out"
    # three years: since session 16 the $0 budget plan keeps the next withdrawal's cash
    # (review 16 M1), so it pays year 2's from it and stops in year 3
    code = main(["transition", "--profile", str(profile), "--plans", "2y:flow=-120000",
                 "--years", "3", "--annual", "--mc-paths", "0", "--workers", "1",
                 "--out", str(out)])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    c = pd.read_csv(out / "comparison.csv")
    bad = c.failed.notna() & (c.failed.astype(str) != "")
    assert c.plan[bad].tolist() == ["budget:0"]  # the scenario still fails
    assert c.plan[~bad].tolist()  # ... and other plans complete
    figures = [k for k in c.columns if k not in FAILED_KEEPS]
    assert {"tax_total", "after_tax_wealth", "vs_hold", "te_year1"} <= set(figures)
    assert c.loc[bad, figures].isna().all().all()
    assert c.loc[~bad, ["tax_total", "after_tax_wealth", "te_year1"]].notna().all().all()
    assert c.loc[bad, "te_start"].notna().all()  # today's tracking error is real
    y = pd.read_csv(out / "yearly.csv")
    assert "budget:0" not in set(y.plan) and set(y.plan) == set(c.plan[~bad])

    def refuse(name):
        raise AssertionError(f"analysis.json holds {name}: not JSON")

    doc = json.loads((out / "analysis.json").read_text(), parse_constant=refuse)
    row = next(r for r in doc["comparison"] if r["plan"] == "budget:0")
    assert row["failed"] and all(row[k] is None for k in figures)
    assert row["te_start"] is not None
    assert {r["plan"] for r in doc["yearly"]} == set(y.plan)
    # standard error says why in the client's words, then the engine's groups
    # (review 14, L7: it gave the groups alone)
    line = next(t for t in cap.err.splitlines() if "path stopped:" in t)
    assert "To fix:" in line and "withdraws" in line and "(details: " in line
    # review rev1: the client's own plan's stop is said last, as a warning of its own
    # (the output is complete, as a proposal's with a failed plan: exit status 0)
    last = cap.err.rstrip().splitlines()[-1]
    assert last.startswith("WARNING: your plan, Gains budget $0 a year, could not be "
                           "completed, so its figures are not shown: On "), last
    assert "To fix:" in last and "(details: " not in last
    # the plans' withdrawal is stated under the tables, in page one's words (review 17:
    # the command line showed 'with this withdrawal' but never the amount)
    assert ("Every plan withdraws $120,000 a year (3 withdrawals over 3 years); the "
            "after-tax values are after them.") in cap.out
    # the failed plan's note reads whole down the comparison's Note column, on lines of
    # at most TEXT_WIDTH characters (it was one ~600-character line a terminal broke
    # across the other rows)
    from pma_lab.report.proposal import TEXT_WIDTH

    lines = cap.out.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.rstrip().endswith(" Note"))
    at = lines[head].rindex("Note")
    rows = lines[head + 1:lines.index("", head)]
    assert all(len(ln[at:]) <= TEXT_WIDTH for ln in rows)
    first = next(i for i, ln in enumerate(rows) if "Gains budget $0 a year" in ln)
    end = next(i for i in range(first + 1, len(rows)) if rows[i][:at].strip())
    note = " ".join(ln[at:] for ln in rows[first:end])
    assert note.startswith("Could not be completed, so no figures are shown: ")
    assert "To fix: a smaller withdrawal" in note


@pytest.mark.parametrize("command", ["propose", "transition"])
def test_plans_with_different_flows_or_gifts_stop_before_the_setup(tmp_path, capsys,
                                                                   monkeypatch, command):
    """--plans with different cash flows (or gifts) are refused before the client is
    prepared (a reviewer's run waited 47 s for the message); a gift= equal to the profile's
    own gift is the same gift."""
    import pma_lab.optimize.engine
    import pma_lab.report.proposal

    def never(*a, **k):
        raise AssertionError("set up or rendered before --plans was checked")

    monkeypatch.setattr(pma_lab.optimize.engine, "prepare", never)
    monkeypatch.setattr(pma_lab.report.proposal, "render_proposal", never)
    young = clients_dir() / "young-pro" / "profile.toml"
    out = tmp_path / "out"
    for plans in ("budget:0:flow=-50000,3y", "immediate:gift=1000,3y"):
        code = main([command, "--profile", str(young), "--out", str(out), "--plans", plans])
        err = " ".join(capsys.readouterr().err.split())
        assert code == 2, err
        assert "Invalid value for '--plans'" in err and "different gifts or cash flows" in err
        assert not out.exists()
    # the philanthropist gives 150,000 a year: gift=150000 is its gift, so the check passes
    # and the run reaches the setup (stopped here by the patched prepare)
    rich = clients_dir() / "philanthropist" / "profile.toml"
    with pytest.raises(AssertionError, match="before --plans was checked"):
        main([command, "--profile", str(rich), "--out", str(out),
              "--plans", "immediate:gift=150000,3y"])


@pytest.mark.parametrize("command", ["propose", "transition"])
def test_plans_with_different_flows_are_refused_before_the_optimizer_is_imported(
        tmp_path, command):
    """Reviewer 1 (session 25, #16): the refusal took 17 s (a loaded machine's wall time)
    as the command imported cvxpy and scipy (2.3-2.5 s of CPU) before checking --plans;
    it imports neither now (0.84 s of CPU, as --help). A fresh process: this one has them."""
    young = clients_dir() / "young-pro" / "profile.toml"
    code = (
        "import sys\n"
        "from pma_lab.app.cli import main\n"
        f"code = main([{command!r}, '--profile', {str(young)!r}, '--out', "
        f"{str(tmp_path / 'out')!r}, '--plans', 'budget:0:flow=-50000,3y'])\n"
        "print(code, sorted(m for m in ('cvxpy', 'scipy.stats') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=False, cwd=Path(__file__).resolve().parents[1])
    assert "different gifts or cash flows" in " ".join(r.stderr.split()), r.stderr
    assert r.stdout.split("\n")[-2] == "2 []", r.stdout + r.stderr


def test_rebalance_infeasible_says_what_the_user_changes_with_todays_values(capsys):
    """philanthropist under --te-cap 0.02: the budget and the cap conflict. On main the fix
    named the engine's fields (RebalanceSettings.budgets / .te_cap); now it names the
    profile's [budgets] and --te-cap with their values, and the lowest tracking error the
    budget reaches (the cap at or above which the rebalance is feasible)."""
    prof = clients_dir() / "philanthropist" / "profile.toml"
    code = main(["rebalance", "--profile", str(prof), "--te-cap", "0.02"])
    err = capsys.readouterr().err
    assert code == 1 and "RebalanceSettings" not in err
    assert "[budgets] in the profile (now total $25,000 a year)" in err
    low = re.search(r"--te-cap \(now 2\.00%; within the budget the lowest tracking error "
                    r"is (\d+\.\d\d)%\)", err)
    assert low is not None and float(low.group(1)) > 2.0


def test_lots_validate_counts_each_declared_accounts_lots(capsys):
    """Reviewer 1 (session 22): an IRA whose lots went to the taxable account showed only
    in the total; `lots validate` now lists every declared account's lots."""
    assert main(["lots", "validate", "--profile",
                 str(clients_dir() / "roth-household" / "profile.toml")]) == 0
    out = capsys.readouterr().out
    assert "Lots per account: taxable (taxable) 26, ira (ira) 14, roth (ira) 12" in out
