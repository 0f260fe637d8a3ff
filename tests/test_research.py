"""pma_lab.portfolio.research: screen costs that cannot be negative, a plugged-in risk model."""

from __future__ import annotations

import pandas as pd
import pytest

from pma_lab.io.client import load_client
from pma_lab.paths import client_profile
from pma_lab.portfolio.research import bias_test, names_curve, screen_costs
from pma_lab.portfolio.risk import RiskModelSettings, estimate_risk_model
from pma_lab.report import proposal as report

AS_OF = "2026-07-31"


class _Doubled:
    """A researcher's own model: the packaged one with every tracking error doubled."""

    def __init__(self, day) -> None:
        self._rm = estimate_risk_model(day)

    def __getattr__(self, name):
        return getattr(self._rm, name)

    def tracking_error(self, w, b) -> float:
        return 2 * self._rm.tracking_error(w, b)


def test_screen_costs_are_never_negative_and_the_noise_is_shown():
    """The retiree's tobacco and weapons screens read -0.85 and -1.68 bp (the heuristic
    name selection found a better 80-name target under the screen): the unscreened
    reference is the better of the two targets, so no cost is negative, and the gap is
    reported as selection noise, in the table and the findings."""
    client = load_client(client_profile("retiree"), as_of=AS_OF)
    costs = screen_costs(AS_OF, client.profile.restrictions, names=80)
    ok = costs[costs.error == ""]
    assert (ok.extra_te >= 0).all()
    base = float(costs.te.iloc[0])
    below = ok[ok.te < base]
    assert len(below) >= 1  # the case the reviewer met, still there at this date
    assert (below.extra_te == 0).all()
    assert below.selection_noise.to_numpy() == pytest.approx(base - below.te.to_numpy())
    above = ok[ok.te >= base]
    assert above.extra_te.to_numpy() == pytest.approx(above.te.to_numpy() - base)
    assert (above.selection_noise == 0).all()
    t = report.screen_costs_table(costs)
    assert "Selection noise (bp)" in t.frame.columns
    bias = pd.DataFrame({"mean_ratio": [1.0]})
    curve = pd.DataFrame(columns=["names", "te_target", "te_top"])
    front = type("F", (), {"table": pd.DataFrame(columns=["status"]),
                           "dropped_budgets": None})()
    text = report.strategy_findings(bias, curve, costs, front).text
    assert "nothing measurable" in text and "noise of the heuristic name selection" in text


def test_bias_test_and_names_curve_take_a_researchers_model():
    """bias_test and names_curve calibrate a plugged-in model (a callable date -> model)
    or the packaged estimator with other settings; not both."""
    own = bias_test(years=[2014], n_random=2, risk_model=_Doubled)
    ref = bias_test(years=[2014], n_random=2)
    assert own.mean_predicted_te.iloc[0] == pytest.approx(2 * ref.mean_predicted_te.iloc[0])
    assert own.mean_ratio.iloc[0] == pytest.approx(ref.mean_ratio.iloc[0] / 2)
    short = bias_test(years=[2014], n_random=2,
                      risk_settings=RiskModelSettings(window_days=252))
    assert short.mean_predicted_te.iloc[0] != pytest.approx(ref.mean_predicted_te.iloc[0])
    mine = names_curve(AS_OF, names=[30], risk_model=_Doubled)
    base = names_curve(AS_OF, names=[30])
    assert mine.te_top.iloc[0] == pytest.approx(2 * base.te_top.iloc[0])
    with pytest.raises(ValueError, match="give one"):
        bias_test(years=[2014], risk_model=_Doubled, risk_settings=RiskModelSettings())
    with pytest.raises(ValueError, match="returned a model as of"):
        names_curve(AS_OF, names=[30], risk_model=lambda d: estimate_risk_model("2025-07-31"))


def test_a_sector_cap_and_a_tilt_each_have_their_own_row():
    """Reviewer 1, session 25: an Information Technology cap of 25% cost 64 bp and a
    Health Care tilt of +5% 15 bp on their own, but screen_costs listed only the screens
    and "all combined" (+102 bp with them), so the largest cost was on no row. Each cap and
    tilt now has its own row, built with that cap or tilt alone and every name eligible."""
    from pma_lab.portfolio.restrictions import Restrictions

    r = Restrictions(categories=("tobacco",),
                     sector_max_weight=(("Information Technology", 0.25),),
                     sector_tilts=(("Health Care", 0.05),))
    costs = screen_costs(AS_OF, r, names=30).set_index("restriction")
    cap = costs.loc["sector cap: Information Technology at most 25%"]
    tilt = costs.loc["sector tilt: Health Care +5% against the index"]
    assert list(costs.index) == ["none (unscreened target)", "screen: tobacco",
                                 cap.name, tilt.name, "all combined"]
    assert cap.excluded_names == tilt.excluded_names == 0
    assert cap.error == tilt.error == ""
    assert cap.extra_te > 0.002 and tilt.extra_te > 0.0005  # tens of basis points
    assert costs.loc["all combined"].extra_te >= max(cap.extra_te, tilt.extra_te)
    words = report.screen_costs_table(costs.reset_index()).frame["Screen"].tolist()
    assert "Sector cap: Information Technology at most 25%" in words


def test_the_findings_quote_doing_nothing_and_no_screen_that_costs_nothing():
    """Reviewer 1, session 25: notebook 02's findings said "going from doing nothing (8.15%
    tracking error ...)" where doing nothing was 9.76%: the first row of the efficient table
    was read as doing nothing, but where harvesting beats doing nothing on both counts the
    table leaves that point out. And with no screen costing anything, "None (unscreened
    target) costs the most: 0.0 bp" named the reference row as a screen."""
    bias = pd.DataFrame({"mean_ratio": [1.0]})
    curve = pd.DataFrame(columns=["names", "te_target", "te_top"])
    costs = pd.DataFrame({"restriction": ["none (unscreened target)", "never hold: TSLA"],
                          "excluded_names": [0, 1], "excluded_weight": [0.0, 0.021],
                          "te": [0.02, 0.02], "extra_te": [0.0, 0.0],
                          "selection_noise": [0.0, 0.0], "error": ["", ""]})
    row = {"status": "optimal", "tax_economic": 5000.0, "tax_this_year": 4000.0,
           "carryforward_created": 0.0}
    table = pd.DataFrame([{**row, "te": 0.0815}, {**row, "te": 0.001}])
    points = pd.DataFrame({"kind": ["current", "sweep", "target"],
                           "te": [0.0976, 0.0815, 0.001]})
    front = type("F", (), {"table": table, "all_points": points, "dropped_budgets": None})()
    text = report.strategy_findings(bias, curve, costs, front).text
    assert "doing nothing (9.76% tracking error" in text
    assert "costs the most" not in text and "None (unscreened" not in text
    assert "None of the client's screens costs measurable tracking error" in text
    costs.loc[1, "extra_te"] = 0.0012
    text = report.strategy_findings(bias, curve, costs, front).text
    assert "Never hold: TSLA costs the most: 12.0 bp" in text
