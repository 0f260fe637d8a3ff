"""An active + index core's model updates inside a plan's horizon (pma_lab.plan.coremodel)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.analysis import _assumptions
from pma_lab.plan.coremodel import core_updates
from pma_lab.plan.plans import parse_plan
from pma_lab.plan.scenarios import expected_path, step_dates
from pma_lab.plan.simulation import TransitionSettings, _cash_rate, simulate

SETTINGS = TransitionSettings(horizon_years=2, mc_paths=0, workers=1)
# the version in force at the client's date (2026-07-01), as in the sample's file
MODEL = {"NVDA": 0.15, "MSFT": 0.12, "AMZN": 0.09, "AVGO": 0.09, "LLY": 0.07, "JPM": 0.08,
         "V": 0.06, "COST": 0.06, "ISRG": 0.06, "NFLX": 0.05, "GS": 0.06, "SPGI": 0.05,
         "CAT": 0.06}
# a later version: NFLX's 5 % moved to MU
UPDATE = {**{t: w for t, w in MODEL.items() if t != "NFLX"}, "MU": 0.05}


def _client(tmp: Path, versions: dict[str, dict[str, float]]) -> Path:
    """core-active with its model file replaced by ``versions`` (date -> weights)."""
    src = clients_dir() / "core-active"
    tmp.mkdir(parents=True, exist_ok=True)
    for f in ("profile.toml", "lots.csv"):
        shutil.copy(src / f, tmp / f)
    rows = ["date,ticker,weight"] + [f"{d},{t},{w:.2f}" for d, ws in versions.items()
                                     for t, w in ws.items()]
    (tmp / "active_model.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp / "profile.toml"


def _run(profile: Path, plan: str = "immediate"):
    setup = prepare(load_client(profile))
    dates = step_dates(setup.as_of, SETTINGS.horizon_years, SETTINGS.steps_per_year)
    path = expected_path(setup.prices, dates, SETTINGS.expected_return)
    return setup, dates, simulate(setup, parse_plan(plan), path, SETTINGS)


def _figures(run) -> pd.DataFrame:
    return run.steps.drop(columns=["seconds", "build_seconds", "solver_seconds"])


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    """The plan with the core held fixed (only the version in force today)."""
    return _run(_client(tmp_path_factory.mktemp("fixed"), {"2026-07-01": MODEL}))


def test_a_dated_update_retargets_the_core_from_its_step_on_and_not_before(
        fixed, tmp_path):
    setup0, dates, run0 = fixed
    profile = _client(tmp_path, {"2026-07-01": MODEL, "2027-01-04": UPDATE})
    setup, _, run = _run(profile)
    assert setup.target.weights.equals(setup0.target.weights)  # today's core: unchanged
    (u,) = core_updates(setup, dates)
    # 2027-01-04 falls between the steps of 2026-10-31 and 2027-01-31: from step 2 on
    assert (u.model_date, u.step_date) == (dt.date(2027, 1, 4), dt.date(2027, 1, 31))
    assert dates.index(u.step_date) == 2
    new = u.setup.target.weights
    old = setup.target.weights
    assert "NFLX" in old.index and "NFLX" not in new.index
    # the manager's new pick is held at its model weight (40 % of 5 %) plus what the
    # re-optimised completion sleeve holds (MU was only a completion name before)
    comp = u.setup.completion
    assert new["MU"] == pytest.approx(0.4 * 0.05 + 0.6 * comp.completion["MU"])
    assert new["MU"] > old["MU"] + 0.005
    # before the update's step: the same trades, to the cent, and the same figures
    f, f0 = _figures(run), _figures(fixed[2])
    pd.testing.assert_frame_equal(f.iloc[:2], f0.iloc[:2])
    before = [e for e in run.events if e[1][0] < u.step_date]
    assert before == [e for e in run0.events if e[1][0] < u.step_date]
    # from it on: a new target, traded toward (NFLX, out of the model, is sold; MU bought)
    assert f.note.iloc[2].startswith(
        "the manager's model changed on 2027-01-04: from 2027-01-31 the plan moves to the "
        f"new core ({int(u.setup.target.names)} stocks)")
    at = [e for e in run.events if e[1][0] == u.step_date]
    at0 = [e for e in run0.events if e[1][0] == u.step_date]

    def shares(events: list, side: str, ticker: str) -> float:
        return sum(float(a[3]) for k, a, _ in events if k == side and a[2] == ticker)

    # the fixed core only trims NFLX back to its weight (12 shares); the new one sells it
    assert shares(at, "sell", "NFLX") > 10 * shares(at0, "sell", "NFLX")
    assert shares(at, "buy", "MU") > 0 == shares(at0, "buy", "MU")
    assert not f.iloc[2:].te_target.equals(f0.iloc[2:].te_target)
    # the step ends near the new core, not the old one
    assert f.te_target.iloc[2] < f0.te_target.iloc[2] + 0.01
    # the comparison's assumptions say when the target changes (and only then)
    rate = _cash_rate(setup, SETTINGS)
    said = [a for a in _assumptions(setup, SETTINGS, (), rate, None, (u,))
            if "updates the model" in a]
    assert said == ["The active manager updates the model inside the horizon: from "
                    "2027-01-31, the model of 2027-01-04 (completion sleeve: "
                    f"{u.completion_change}). At each update the target core is "
                    "re-optimised, the completion sleeve against the new model, keeping the "
                    "stocks it holds unless changing one tracks the benchmark materially "
                    "better, and the plans trade toward it tax-aware from that step on."]
    assert not any("updates the model" in a
                   for a in _assumptions(setup, SETTINGS, (), rate, None))


def test_a_version_outside_the_horizon_changes_nothing(fixed, tmp_path):
    setup0, dates, run0 = fixed
    # one dated after the 2-year horizon (2028-07-31), one before the client's date
    profile = _client(tmp_path, {"2026-01-02": UPDATE, "2026-07-01": MODEL,
                                 "2028-08-01": UPDATE})
    setup, _, run = _run(profile)
    assert core_updates(setup, dates) == ()
    pd.testing.assert_frame_equal(_figures(run), _figures(run0))
    pd.testing.assert_frame_equal(run.years, run0.years)
    assert run.events == run0.events
    assert run.after_tax_wealth == run0.after_tax_wealth


def test_no_updates_without_an_active_index_core():
    setup = prepare(load_client(clients_dir() / "young-pro" / "profile.toml"))
    assert core_updates(setup, step_dates(setup.as_of, 5, 4)) == ()


def test_the_sample_models_update_is_derived_from_the_packaged_prices():
    """core-active's 2027-01-04 version follows the rule its persona states, recomputed."""
    from pma_lab.market.benchmark import read_benchmark_weights, sp500_proxy
    from pma_lab.market.data import load_market

    df = read_benchmark_weights(clients_dir() / "core-active" / "active_model.csv")
    by = {d.date(): g.set_index("ticker").weight for d, g in df.groupby("date")}
    assert sorted(by) == [dt.date(2026, 1, 2), dt.date(2026, 7, 1), dt.date(2027, 1, 4)]
    before, after = by[dt.date(2026, 7, 1)], by[dt.date(2027, 1, 4)]
    assert before.to_dict() == MODEL and after.to_dict() == UPDATE
    m = load_market()
    top = sp500_proxy(dt.date(2026, 7, 31), m).weights.nlargest(50).index
    names = sorted(set(before.index) | set(top))
    ret = m.prices.at("2026-07-31", names) / m.prices.at("2025-07-31", names) - 1
    out = ret[before.index].idxmin()
    new = ret[[t for t in top if t not in before.index]].idxmax()
    assert (out, new) == ("NFLX", "MU")
    assert ret["NFLX"] == pytest.approx(-0.381, abs=5e-4)
    assert ret["MU"] == pytest.approx(6.55, abs=5e-3)
    expected = before.drop(out)
    expected[new] = before[out]
    assert after.sort_index().to_dict() == expected.sort_index().to_dict()
    # the sample's plans see it: one update, at the first step after it
    setup = prepare(load_client(clients_dir() / "core-active" / "profile.toml"))
    (u,) = core_updates(setup, step_dates(setup.as_of, 5, 4))
    assert (u.model_date, u.step_date) == (dt.date(2027, 1, 4), dt.date(2027, 1, 31))


def test_a_one_name_update_changes_one_completion_name_not_eight():
    """core-active's 2027-01-04 update (NFLX out, MU in): the completion sleeve keeps its
    names but MU (now the manager's), swapped for the one name that tracks better; a fresh
    selection changed 8 of its 40. The core still tracks (no worse than a fresh selection
    plus 0.05 points of TE) and the sleeve still offsets the model's factor exposures."""
    from pma_lab.portfolio.completion import completion_for_profile

    setup = prepare(load_client(clients_dir() / "core-active" / "profile.toml"))
    (u,) = core_updates(setup, step_dates(setup.as_of, 2, 4))
    before, after = setup.completion, u.setup.completion
    old = set(before.completion[before.completion > 0].index)
    new = set(after.completion[after.completion > 0].index)
    assert len(old) == len(new) == 40
    assert old - new == {"MU"} and len(new - old) == 1
    assert (u.dropped, u.added) == (("MU",), tuple(new - old))
    assert u.completion_change == f"MU out, {u.added[0]} in"
    assert after.diagnostics["method"] == "held names kept + swaps"
    fresh = completion_for_profile(setup.client.profile, u.step_date,
                                   setup.benchmark.weights, setup.risk,
                                   setup.eligibility.buyable(), setup.account_size,
                                   names=before.max_names,
                                   reasons=setup.eligibility.not_buyable())
    changed = old ^ set(fresh.completion[fresh.completion > 0].index)
    assert len(changed) >= 10  # 8 out, 8 in: what the update did before
    assert after.te_total <= fresh.te_total + 0.0005
    assert after.te_factor_total < 0.2 * after.te_factor_active_only
    assert u.setup.target.weights["MU"] == pytest.approx(0.4 * 0.05, abs=1e-9)


def test_each_update_starts_from_the_names_of_the_one_before(tmp_path):
    """Two updates inside the horizon: the second re-targets the sleeve the first left
    (its names out and in are against the first update's, not today's)."""
    later = {**{t: w for t, w in UPDATE.items() if t != "GS"}, "KO": 0.06}
    profile = _client(tmp_path, {"2026-07-01": MODEL, "2027-01-04": UPDATE,
                                 "2027-07-01": later})
    setup = prepare(load_client(profile))
    u1, u2 = core_updates(setup, step_dates(setup.as_of, 2, 4))
    assert (u1.model_date, u2.model_date) == (dt.date(2027, 1, 4), dt.date(2027, 7, 1))

    def names(u) -> set[str]:
        c = u.setup.completion.completion
        return set(c[c > 0].index)

    one, two = names(u1), names(u2)
    assert set(u2.dropped) == one - two and set(u2.added) == two - one
    assert len(one ^ two) <= 4  # a one-name update: a couple of names, not a re-selection
    assert u2.setup.completion.diagnostics["method"] == "held names kept + swaps"
