"""Every sample client loads cleanly and shows what its persona is meant to demonstrate."""

from __future__ import annotations

import pytest

from pma_lab.io.client import find_clients, load_client
from pma_lab.io.holdings import summarize_lots
from pma_lab.io.profile import load_profile
from pma_lab.paths import clients_dir

PROFILES = find_clients(clients_dir())


def test_load_client_says_a_profile_path_is_expected():
    # a bare TypeError of pathlib before (reviewer 1, session 25, #14)
    with pytest.raises(TypeError, match=r"load_client: 123 \(a int\) is not a path; pass the "
                                        r"path to a client's profile.toml"):
        load_client(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"load_profile: None \(a NoneType\) is not a path"):
        load_profile(None)  # type: ignore[arg-type]


def test_five_personas_exist():
    assert {p.parent.name for p in PROFILES} >= {
        "tech-exec", "retiree", "young-pro", "philanthropist", "household"}


@pytest.fixture(scope="module")
def summaries():
    out = {}
    for p in PROFILES:
        c = load_client(p)
        out[c.client_id] = (c, summarize_lots(c))
    return out


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.parent.name)
def test_client_loads_without_errors(profile, summaries):
    c, s = summaries[load_client(profile).client_id]
    assert len(c.lots) > 0
    assert s.lots.price.notna().all() and (s.lots.market_value > 0).all()
    # some lots short-term, some at a loss, some bought within 30 days of as-of
    assert (s.lots.term == "ST").any() and (s.lots.unrealized < 0).any()
    assert ((c.as_of - s.lots.acquired).apply(lambda d: d.days) <= 30).any()


def test_tech_exec_concentrated_low_basis(summaries):
    c, s = summaries["tech-exec"]
    nvda = s.lots[s.lots.ticker == "NVDA"]
    share = nvda.market_value.sum() / s.lots.market_value.sum()
    assert 0.35 <= share <= 0.45
    assert (nvda.basis / nvda.market_value).max() < 0.1  # low basis
    assert set(c.profile.restrictions.no_buy) >= {"AMD", "INTC"}
    assert c.profile.concentrated.ticker == "NVDA"


def test_retiree_xlsx_custodian_layout(summaries):
    c, s = summaries["retiree"]
    assert c.lots.sources[0].endswith(".xlsx")
    assert s.lots.ticker.nunique() >= 55
    assert s.totals.lt_gain > 0.5 * s.totals.market_value  # large embedded gains
    assert {"fossil_fuels", "tobacco"} <= set(c.profile.restrictions.categories)
    assert {w.code for w in c.warnings} == {"ignored_column", "ticker_normalized"}


def test_young_pro_mostly_cash_and_an_sp500_etf(summaries):
    c, s = summaries["young-pro"]
    assert s.totals.cash > 0.6 * s.totals.total_value
    assert {"SPY", "IVV", "VOO"} & set(s.lots.ticker)


def test_philanthropist_gives_and_has_inherited_lots(summaries):
    c, s = summaries["philanthropist"]
    assert c.profile.charity.annual_gift > 0 and c.profile.tax.agi
    assert s.lots.inherited.any()


def test_household_ira_and_wash_sale_locks(summaries):
    c, s = summaries["household"]
    assert set(s.lots.account_type) == {"taxable", "ira"}
    both = set(s.lots[s.lots.account_type == "ira"].ticker) & set(
        s.lots[s.lots.account_type == "taxable"].ticker)
    assert len(both) >= 5
    locks = s.locks
    assert (locks.lock == "no_buy").any() and (locks.lock == "no_loss_sale").any()
    assert len(s.realized) == 1 and s.realized.st_net.iloc[0] < 0  # the recent loss sale


# ----------------------------------------------------------------- the shelf (issue 14)
def test_shelf_personas_exist_and_use_their_features(summaries):
    c, s = summaries["roth-household"]
    assert set(s.lots.account) == {"taxable", "ira", "roth"}
    assert [a.ira_kind for a in c.profile.accounts if a.account_id == "roth"] == ["roth"]
    c, _ = summaries["balanced-6040"]
    assert c.profile.core.allocation == "60/40" and c.profile.fixed_income.kind == "treasury"
    c, _ = summaries["core-active"]
    assert c.profile.core.equity_sleeve == "active_index"
    assert c.profile.core.active_model.name == "active_model.csv"
    c, _ = summaries["muni-ca"]
    assert c.profile.fixed_income.kind == "muni" and c.profile.tax.state_rate == 0.133


def test_muni_client_ladder_beats_treasuries_after_tax(summaries):
    from pma_lab.portfolio.ladder import ladder_for_profile

    c, _ = summaries["muni-ca"]
    lad = ladder_for_profile(c.profile)
    assert lad.invested == 1_500_000.0 and lad.years == 10
    assert any("MODELLED" in n for n in lad.notes)
    # 80 % of the Treasury yield, untaxed, beats the Treasury after 37 % + 3.8 % federal
    assert (lad.rungs.after_tax_yield > lad.rungs.treasury_yield * (1 - 0.37 - 0.038)).all()


def test_sixty_forty_client_sleeves(summaries):
    from pma_lab.portfolio.allocation import CORE_ALLOCATIONS, plan_sleeves

    c, s = summaries["balanced-6040"]
    equity = float(s.lots.market_value.sum())
    plan = plan_sleeves(CORE_ALLOCATIONS[c.profile.core.allocation], equity,
                        c.profile.fixed_income.amount, cash=c.profile.cash)
    assert 0.55 <= plan.after.equity_share <= 0.65


def test_household_and_completion_for_the_sample_clients():
    from pma_lab.optimize.engine import prepare
    from pma_lab.optimize.household import household_for_client
    from pma_lab.portfolio.completion import completion_for_client

    setup = prepare(load_client(clients_dir() / "roth-household" / "profile.toml"))
    r = household_for_client(setup).solve()
    assert set(r.accounts.account) == {"taxable", "ira", "roth"}
    assert r.te_after < r.te_before
    assert "TSLA" not in set(r.account_trades("roth").ticker)
    loss = set(r.lot_sales.ticker[r.lot_sales.taxable & (r.lot_sales.gain < 0)])
    assert not loss & set(r.trades.ticker[r.trades.side == "buy"])
    setup = prepare(load_client(clients_dir() / "core-active" / "profile.toml"))
    comp = completion_for_client(setup)
    assert comp.alpha == 0.4
    assert comp.te_factor_total < comp.te_factor_active_only


def test_a_min_cash_above_the_accounts_value_is_refused_with_the_inputs(tmp_path, capsys):
    """roth-household with min_cash = 300000 on its Roth, worth $252,124.64 at 2026-07-31
    ($249,624.64 of lots + $2,500 cash): ``lots validate`` used to say OK (exit 0) and only
    ``pma-lab household`` failed later. Refused when the client is loaded, naming the file
    and the account's key."""
    import shutil

    from pma_lab.app.cli import main
    from pma_lab.errors import ProfileError

    src = clients_dir() / "roth-household"
    for f in ("profile.toml", "lots.csv"):
        shutil.copy(src / f, tmp_path / f)
    prof = tmp_path / "profile.toml"
    text = prof.read_text(encoding="utf-8")
    prof.write_text(text.replace("cash = 2500.0\n", "cash = 2500.0\nmin_cash = 300000.0\n"),
                    encoding="utf-8")
    with pytest.raises(ProfileError) as e:
        load_client(prof)
    (issue,) = e.value.issues
    assert issue.file == str(prof) and issue.column == "[[accounts]] roth: min_cash"
    assert issue.code == "min_cash_above_value"
    assert issue.message.startswith("account roth: min_cash $300,000.00, but the account is "
                                    "worth $252,124.64 (its lots at the 2026-07-31 prices "
                                    "and its cash $2,500.00)")
    assert "lower min_cash below the account's value" in issue.fix
    assert main(["lots", "validate", "--profile", str(prof)]) == 2
    assert "[[accounts]] roth: min_cash" in capsys.readouterr().err
    # a floor the account can keep still loads: $252,124 is the most the Roth may keep
    prof.write_text(text.replace("cash = 2500.0\n", "cash = 2500.0\nmin_cash = 252124.0\n"),
                    encoding="utf-8")
    assert load_client(prof).profile.accounts[2].min_cash == 252_124.0


def test_a_profile_error_does_not_hide_the_lots_files_errors(tmp_path, capsys):
    """Reviewer 1 (session 20): load_client stopped at the profile's errors, so the lots
    file's errors showed only once the profile was fixed. One error now lists both, each
    with its file, row, column and fix; a profile whose accounts or [lots] are wrong
    (the lots cannot be read as it says) still reports its own errors alone."""
    import shutil

    from pma_lab.app.cli import main
    from pma_lab.errors import ClientFilesError, ProfileError

    src = clients_dir() / "balanced-6040"
    for f in ("profile.toml", "lots.csv"):
        shutil.copy(src / f, tmp_path / f)
    prof, lots = tmp_path / "profile.toml", tmp_path / "lots.csv"
    text = prof.read_text(encoding="utf-8")
    prof.write_text(text.replace('filing_status = "single"', 'filing_status = "singel"'),
                    encoding="utf-8")
    rows = lots.read_text(encoding="utf-8").splitlines()
    assert rows[2].startswith("BA-0002,taxable,ABT,")
    rows[2] = rows[2].replace(",305,", ",-305,")
    lots.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(ClientFilesError) as e:
        load_client(prof)
    assert isinstance(e.value, ProfileError)
    where = [(i.file, i.row, i.column) for i in e.value.issues]
    assert where == [(str(prof), None, "tax.filing_status"),
                     (str(lots.resolve()), 3, "shares")]
    assert str(e.value).startswith(f"{prof}, {lots.resolve()}: 2 problems found in the "
                                   "profile and lots files")
    assert main(["lots", "validate", "--profile", str(prof)]) == 2
    err = capsys.readouterr().err
    assert "tax.filing_status" in err and "row 3, column 'shares'" in err
    # the lots file named wrongly: the profile's error alone (the lots cannot be read)
    prof.write_text(text.replace('filing_status = "single"', 'filing_status = "singel"')
                    .replace('files = ["lots.csv"]', 'files = ["nolots.csv"]'),
                    encoding="utf-8")
    with pytest.raises(ProfileError) as e:
        load_client(prof)
    assert not isinstance(e.value, ClientFilesError)
    assert {i.column for i in e.value.issues} == {"tax.filing_status", "lots.files[0]"}


def test_load_client_takes_a_midnight_timestamp_as_its_day_and_refuses_a_time(tmp_path):
    """Review 23 #7: load_client(as_of=pd.Timestamp(...)) kept the Timestamp and crashed
    later (holdings: TypeError comparing it with the lots' dates). The boundary makes it a
    day; a time of day that is not midnight is refused with what to give."""
    import datetime as dt

    import pandas as pd
    import pytest

    from pma_lab.errors import PmaLabError
    from pma_lab.io.client import load_client
    from pma_lab.io.holdings import summarize_lots
    from pma_lab.paths import clients_dir

    prof = clients_dir() / "retiree" / "profile.toml"
    for given in (pd.Timestamp("2026-07-31"), dt.datetime(2026, 7, 31)):
        c = load_client(prof, as_of=given)
        assert type(c.as_of) is dt.date and c.as_of == dt.date(2026, 7, 31)
        assert summarize_lots(c).as_of == dt.date(2026, 7, 31)
    with pytest.raises(PmaLabError, match="as_of 2026-07-31 15:30:00 has a time of day"):
        load_client(prof, as_of=pd.Timestamp("2026-07-31 15:30"))


def test_a_header_only_lots_file_is_an_empty_account_only_with_cash(tmp_path):
    """Reviewer 1 (session 25, #12): a custodian's export of an account with no positions
    (a header only) is the all-cash account, read with a warning naming the file; without
    cash in any account it stays an error (a truncated export: nothing to manage)."""
    from pma_lab.errors import LotDataError

    text = (clients_dir() / "young-pro" / "profile.toml").read_text()
    (tmp_path / "lots.csv").write_text("ticker,acquired,shares,cost_total,account\n")
    p = tmp_path / "profile.toml"
    import re

    text = re.sub(r"files = \[[^]]*\]", 'files = ["lots.csv"]', text)
    text = re.sub(r"\nrecent_trades = [^\n]*", "", text)
    p.write_text(re.sub(r"\ncash = [0-9.]+", "", text))
    with pytest.raises(LotDataError, match="the export stopped after the header"):
        load_client(p)
    p.write_text(re.sub(r"\ncash = [0-9.]+", "\ncash = 250000.0", text))
    c = load_client(p)
    assert len(c.lots) == 0 and c.profile.cash > 0
    assert [(w.code, w.file) for w in c.lots.warnings] == [("header_only",
                                                            str(tmp_path / "lots.csv"))]
