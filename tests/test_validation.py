"""Settings are checked when they are built (issue 15): every bad value raises a
SettingsError naming the type, the field and the fix; string modes become enums."""

from __future__ import annotations

import pytest

from pma_lab.errors import DataError, PmaLabError, SettingsError
from pma_lab.modes import BudgetUnit, Method, TaxCredit, WashSaleMode
from pma_lab.optimize.rebalance import Budgets, RebalanceSettings
from pma_lab.plan.transition import TransitionSettings
from pma_lab.portfolio.risk import RiskModelSettings
from pma_lab.portfolio.target import TargetSettings
from pma_lab.tax.liability import TaxProfile
from pma_lab.tax.rules import FilingStatus


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"spread": -0.01}, r"RebalanceSettings\(spread=-0.01\): spread must be >= 0"),
    ({"spread": 5.0}, r"spread must be >= 0 and < 0.1"),
    ({"gamma_tax": float("nan")}, r"gamma_tax must be finite"),
    ({"gamma_tc": -1}, r"gamma_tc must be >= 0"),
    ({"cash_target": 1.0}, r"cash_target must be >= 0 and < 1"),
    ({"cash_target": "2%"}, r"cash_target must be a number"),
    ({"te_cap": 0.0}, r"te_cap must be > 0"),
    ({"te_cap": 2.0}, r"te_cap must be > 0 and <= 1"),
    ({"max_names": 0}, r"max_names must be >= 1"),
    ({"max_names": 50.5}, r"max_names must be a whole number"),
    ({"min_trade": -250}, r"min_trade must be >= 0"),
    ({"lt_soon_days": -3}, r"lt_soon_days must be >= 0"),
    ({"whole_shares": "yes"}, r"whole_shares must be True or False"),
    ({"wash_sale_mode": "allow"}, r"wash_sale_mode=.*must be one of 'forbid', 'disallow'"),
    ({"wash_sale_mode": "disalow"}, r"did you mean 'disallow'"),
    ({"tax_credit": "cap"}, r"tax_credit=.*'linear', 'capped'"),
    ({"budgets": {"total": 0}}, r"budgets must be a Budgets"),
    ({"solver": "CLARBEL"}, r"unknown solver; use one of .*CLARABEL"),
    ({"solver": "OSQP"}, r"OSQP solves quadratic programs only.*qp_solver"),
    ({"qp_solver": "GUROBI_X"}, r"qp_solver='GUROBI_X'.*unknown solver"),
])
def test_bad_rebalance_settings_fail_when_built(kwargs, match):
    with pytest.raises(SettingsError, match=match):
        RebalanceSettings(**kwargs)


def test_settings_errors_belong_to_the_error_tree():
    assert issubclass(SettingsError, DataError)
    assert issubclass(SettingsError, PmaLabError)
    assert issubclass(SettingsError, ValueError)


def test_string_modes_become_enums_and_still_compare_as_strings():
    s = RebalanceSettings(wash_sale_mode="disallow", tax_credit="capped", qp_solver="osqp")
    assert s.wash_sale_mode is WashSaleMode.DISALLOW and s.wash_sale_mode == "disallow"
    assert s.tax_credit is TaxCredit.CAPPED
    assert s.qp_solver == "OSQP"  # normalised to cvxpy's name
    b = Budgets(total=1000, unit="tax")
    assert b.unit is BudgetUnit.TAX and b.unit == "tax"
    assert Method("two_step") is Method.TWO_STEP


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"total": -1.0}, r"Budgets\(total=-1.0\): total must be >= 0"),
    ({"short_term": float("inf")}, r"short_term must be finite"),
    ({"unit": "usd"}, r"unit=.*'gain', 'tax', 'embedded_pct'"),
    ({"total": 10.0, "unit": "embedded_pct"}, r"total must be <= 1 .*fraction"),
])
def test_bad_budgets_fail(kwargs, match):
    with pytest.raises(SettingsError, match=match):
        Budgets(**kwargs)


@pytest.mark.parametrize(("args", "match"), [
    ((1.5, -0.2), r"federal_st_rate must be >= 0 and < 1"),
    ((0.37, -0.2), r"federal_lt_rate=-0.2"),
    ((37.0, 20.0), r"a marginal rate as a fraction"),
])
def test_tax_rates_out_of_range_fail(args, match):
    with pytest.raises(SettingsError, match=match):
        TaxProfile.from_rates(*args)


def test_all_in_rate_of_100_percent_fails():
    with pytest.raises(SettingsError, match=r"all-in st_rate .* 100 % or more"):
        TaxProfile(FilingStatus.SINGLE, 2026, 0.6, 0.2, niit_rate=0.038, state_rate=0.4)


def test_tax_profile_filing_status_from_string_and_bad_one():
    assert TaxProfile.from_rates(0.4, 0.2, filing_status="single").filing_status \
        is FilingStatus.SINGLE
    with pytest.raises(SettingsError, match="filing_status"):
        TaxProfile.from_rates(0.4, 0.2, filing_status="married")


@pytest.mark.parametrize(("cls", "kwargs", "match"), [
    (TransitionSettings, {"horizon_years": 0}, r"horizon_years must be >= 1"),
    (TransitionSettings, {"mc_paths": -5}, r"mc_paths must be >= 0"),
    (TransitionSettings, {"workers": 0}, r"workers must be >= 1"),
    (TransitionSettings, {"te_band": -0.01}, r"te_band must be >= 0"),
    (TransitionSettings, {"expected_return": 7.0}, r"expected_return must be > -1 and <= 1"),
    (TargetSettings, {"drop_fraction": 1.0}, r"drop_fraction must be > 0 and < 1"),
    (TargetSettings, {"max_weight": 0.0}, r"max_weight must be > 0"),
    (TargetSettings, {"min_weight": 0.1, "max_weight": 0.05},
     r"TargetSettings\(min_weight=0.1, max_weight=0.05\): the cap per name must be above"),
    (TargetSettings, {"solver": "NOPE"}, r"unknown solver"),
    (RiskModelSettings, {"halflife_factor": 0}, r"halflife_factor must be > 0"),
    (RiskModelSettings, {"shrink_specific": 1.5}, r"shrink_specific must be >= 0 and <= 1"),
    (RiskModelSettings, {"min_history_days": 600}, r"cannot exceed the window"),
])
def test_other_settings_fail_when_built(cls, kwargs, match):
    with pytest.raises(SettingsError, match=match):
        cls(**kwargs)


def test_defaults_are_valid():
    for cls in (RebalanceSettings, Budgets, TransitionSettings, TargetSettings,
                RiskModelSettings):
        cls()


def _location(**kw):
    import pandas as pd

    from pma_lab.optimize.household import LocationInputs

    t = ["AAA", "BBB"]
    base = dict(income_yield=pd.Series([0.02, 0.0], index=t),
                income_rate=pd.Series(0.238, index=t),
                expected_return=pd.Series(0.07, index=t), withdrawal_rate=0.37)
    return LocationInputs(**{**base, **kw})


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"withdrawal_rate": 37.0}, r"LocationInputs\(withdrawal_rate=37.0\): withdrawal_rate "
                                r"must be >= 0 and <= 1"),
    ({"withdrawal_rate": None}, r"withdrawal_rate must be a number"),
    ({"income_yield": {"AAA": 0.02}}, r"LocationInputs.income_yield must be a pandas Series"),
    ({"income_yield": "nan"}, r"must be a pandas Series"),
    ({"income_rate": [0.2, 0.2]}, r"income_rate must be a pandas Series"),
    ({"expected_return": -1.0}, r"must be a pandas Series"),
    ({"source": None}, r"source must be text"),
])
def test_bad_location_inputs_fail_when_built(kwargs, match):
    with pytest.raises(SettingsError, match=match):
        _location(**kwargs)


def test_location_series_values_are_checked_by_ticker():
    import pandas as pd

    t = ["AAA", "BBB"]
    with pytest.raises(SettingsError, match=r"income_yield: 1 value\(s\) are not finite "
                                            r"numbers >= 0 and <= 1 .*\(BBB=2.5\)"):
        _location(income_yield=pd.Series([0.02, 2.5], index=t))
    with pytest.raises(SettingsError, match=r"income_rate: .*\(AAA=nan\)"):
        _location(income_rate=pd.Series([float("nan"), 0.2], index=t))
    with pytest.raises(SettingsError, match=r"expected_return: .*> -1 .*\(AAA=-1.0\)"):
        _location(expected_return=pd.Series([-1.0, 0.05], index=t))
    with pytest.raises(SettingsError, match=r"duplicate labels AAA"):
        _location(income_rate=pd.Series([0.2, 0.2], index=["AAA", "AAA"]))
    assert _location().withdrawal_rate == 0.37


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"brand": "blue"}, r"FirmSettings\(brand='blue'\): brand is not in the expected form.*"
                        r"'#0b3d91'"),
    ({"accent": "#e3a21"}, r"accent is not in the expected form"),
    ({"name": ""}, r"name must not be empty"),
    ({"logo": "https://example.com/logo.png"}, r"logo is not in the expected form.*data:image"),
    ({"disclaimer": None}, r"disclaimer must be text"),
])
def test_bad_firm_settings_fail_when_built(kwargs, match):
    from pma_lab.report.proposal import FirmSettings

    with pytest.raises(SettingsError, match=match):
        FirmSettings(**kwargs)
    assert FirmSettings(logo="").name == "pma_lab"
