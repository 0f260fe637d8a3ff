"""One formatter per unit (pma_lab.formatting), shared by proposal, dashboard and CLI."""

import math

import numpy as np
import pandas as pd
import pytest

from pma_lab import formatting as f


@pytest.mark.parametrize("x", [None, float("nan"), np.nan, pd.NA, pd.NaT])
def test_missing_reads_as_dash_everywhere(x):
    for fn in (f.fmt_usd, f.fmt_pct, f.fmt_num, f.fmt_shares, f.fmt_date, f.fmt_bp):
        assert fn(x) == f.MISSING


def test_money_and_percent():
    assert f.fmt_usd(1234.4) == "$1,234"
    assert f.fmt_usd(-1234.6) == "-$1,235"
    assert f.fmt_usd(-0.4) == "$0"  # never -$0
    assert f.fmt_usd(12.345, 2) == "$12.35"
    assert f.fmt_pct(0.03048) == "3.05%"
    assert f.fmt_pct(-0.00001) == "0.00%"
    assert f.fmt_bp(0.0012) == "12 bp"


def test_shares_and_years():
    assert f.fmt_shares(1200.0) == "1,200"
    assert f.fmt_shares(10.5) == "10.5" and f.fmt_shares(3.2965) == "3.2965"
    assert f.fmt_shares(250.25) == "250.25" and f.fmt_shares(1234.5) == "1,234.5"
    assert (f.fmt_rate(0.3275), f.fmt_rate(0.238), f.fmt_rate(0.37)) == (
        "32.75%", "23.8%", "37%")
    assert f.fmt_years(0.0) == "today"
    assert f.fmt_years(1.0) == "1 year"
    assert f.fmt_years(2.5) == "2.5 years"
    assert f.fmt_years(math.nan, horizon=5) == "not within 5 years"


def test_shares_tiny_fraction_is_not_zero():
    """A non-zero holding never reads "0", "-0" or scientific notation (0.00001 read "0")."""
    assert f.fmt_shares(0.00001) == "<0.0001"
    assert f.fmt_shares(-0.00001) == ">-0.0001"
    assert f.fmt_shares(0.00005) == "0.0001"
    assert f.fmt_shares(1e20) == "100,000,000,000,000,000,000"
    assert f.fmt_shares(-1e-12) == "0" and f.fmt_shares(0.0) == "0"  # float noise
    for v in (1e-5, 3e-7, -2e-6, 1e20, 1e-4):
        assert "e" not in f.fmt_shares(v)


def test_report_uses_the_shared_formatters():
    from pma_lab.report import proposal as report
    assert report.fmt_usd is f.fmt_usd and report.fmt_pct is f.fmt_pct


def test_halves_round_away_from_zero_after_float_noise_is_removed():
    """A client reads 43.75 % at one decimal as 43.8 %, and -$1,312.50 of tax as -$1,313
    (the IRS's whole-dollar rule: 50 cents and more go to the next dollar); Python's round
    and format give 43.7 % (0.35 + 0.038 + 0.0495 = 0.43749999999999994) and -$1,312."""
    from pma_lab.formatting import fmt_num, fmt_pct, fmt_usd

    assert fmt_pct(0.35 + 0.038 + 0.0495, 1) == "43.8%"
    assert fmt_pct(0.2375, 1) == "23.8%"
    assert fmt_usd(-3000 * (0.35 + 0.038 + 0.0495)) == "-$1,313"
    assert fmt_usd(2.5) == "$3" and fmt_usd(-0.4) == "$0" and fmt_usd(1234.5, 2) == "$1,234.50"
    assert fmt_num(0.5) == "1" and fmt_pct(0.03048) == "3.05%" and fmt_pct(-0.00001) == "0.00%"


def test_round_parts_add_up_to_the_total_rounded_on_its_own():
    """Issue 14: parts rounded one by one missed their total by $1 (the yearly table's
    38,089 + 0 + 5,351 against a net tax of 43,441); the parts now add up to it."""
    from pma_lab.formatting import round_parts

    assert round_parts([38_088.6, 0.0, 5_351.6], 43_441.2) == [38_089.0, 0.0, 5_352.0]
    assert sum(round_parts([7_185.4, -59_939.4, 0.6, 1_957.4])) == f.round_usd(-50_796.0)
    assert round_parts([0.5, 0.5, 0.5]) == [0.0, 1.0, 1.0]  # 1.5 -> 2 (halves up)
    assert round_parts([10.4, -3.4, 0.0]) == [10.0, -3.0, 0.0]  # already adding up
    assert round_parts([float("nan"), 2.6]) == [0.0, 3.0]
    with pytest.raises(ValueError, match="not the sum of the parts"):
        round_parts([1.0, 2.0], 10.0)
