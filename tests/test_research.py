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
