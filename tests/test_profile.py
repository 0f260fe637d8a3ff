"""Profile validation: every wrong type, non-finite number and opt-in key of issue 11.

Each case starts from the corpus' valid ``base_profile.toml`` (copied with
``good_lots.csv`` into a temporary folder) and changes one thing, so the issue reported must
be exactly the one about that key.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pma_lab.errors import ProfileError, Severity
from pma_lab.io.profile import load_profile
from pma_lab.paths import bad_inputs_dir
from pma_lab.schema import ReadPolicy

BASE = (bad_inputs_dir() / "base_profile.toml").read_text()


def profile(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = BASE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    shutil.copy(bad_inputs_dir() / "good_lots.csv", tmp_path / "good_lots.csv")
    p = tmp_path / "profile.toml"
    p.write_text(text)
    return p


def issues(path: Path) -> set[tuple[str, str | None]]:
    with pytest.raises(ProfileError) as e:
        load_profile(path)
    return {(i.code, i.column) for i in e.value.issues if i.severity is Severity.ERROR}


LISTS = 'categories = ["tobacco"]'
LOTS = 'default_account = "taxable"'


def test_the_base_profile_loads_with_no_opt_ins(tmp_path):
    p = load_profile(profile(tmp_path))
    assert p.lots.policy == ReadPolicy() and p.lots.allowed_dirs == ()


@pytest.mark.parametrize("key, value", [
    ("taxable_income", "nan"), ("taxable_income", "inf"), ("taxable_income", "-inf"),
    ("state_lt_rate", "nan"), ("magi", "nan"), ("agi", "inf"), ("carryforward_st", "nan"),
    ("carryforward_lt", "inf"),
])
def test_non_finite_tax_numbers_are_errors_naming_the_key(tmp_path, key, value):
    edit = ("taxable_income = 250000.0", f"{key} = {value}" if key == "taxable_income"
            else f"taxable_income = 250000.0\n{key} = {value}")
    assert issues(profile(tmp_path, edit)) == {("non_finite", f"tax.{key}")}


@pytest.mark.parametrize("section, key", [
    ("budgets", "total"), ("budgets", "short_term"), ("target", "account_size"),
    ("charity", "annual_gift"), ("accounts[0]", "cash"), ("accounts[0]", "min_cash"),
])
@pytest.mark.parametrize("value, code", [("nan", "non_finite"), ("1e308", "out_of_range"),
                                         ("1" + "0" * 400, "out_of_range")])
def test_non_finite_and_absurd_amounts_everywhere(tmp_path, section, key, value, code):
    edits = {
        "budgets": ("total = 10000.0", f"total = 10000.0\n{key} = {value}" if key != "total"
                    else f"total = {value}"),
        "target": ('model = "sp500"', f'model = "sp500"\n{key} = {value}'),
        "charity": ('[target]', f"[charity]\n{key} = {value}\n\n[target]"),
        "accounts[0]": ('type = "taxable"', f'type = "taxable"\n{key} = {value}'),
    }
    extra = [("state_rate = 0.05", "state_rate = 0.05\nagi = 300000.0")] \
        if section == "charity" else []
    got = issues(profile(tmp_path, edits[section], *extra))
    # an account's min_cash is named by the account's id (the sample's is "taxable")
    named = ("[[accounts]] taxable: min_cash" if key == "min_cash"
             else f"{section}.{key}")
    assert got == {(code, named)}


@pytest.mark.parametrize("value, code, says", [
    ("-5000.0", "negative_amount", "the minimum cash cannot be negative"),
    ('"5k"', "wrong_type", "'[[accounts]] taxable: min_cash' must be float, got str"),
])
def test_an_accounts_min_cash_is_checked_naming_file_key_and_fix(tmp_path, value, code,
                                                                   says):
    # named by the account's id, not its position (accounts[0].min_cash)
    p = profile(tmp_path, ('type = "taxable"', f'type = "taxable"\nmin_cash = {value}'))
    assert issues(p) == {(code, "[[accounts]] taxable: min_cash")}
    with pytest.raises(ProfileError) as e:
        load_profile(p)
    text = str(e.value)
    assert str(p) in text and "[[accounts]] taxable: min_cash" in text and says in text
    assert "Fix: write" in text


def test_an_accounts_min_cash_is_read(tmp_path):
    p = load_profile(profile(tmp_path, ('type = "taxable"',
                                        'type = "taxable"\nmin_cash = 5000')))
    assert p.accounts[0].min_cash == 5000.0
    assert load_profile(profile(tmp_path)).accounts[0].min_cash == 0.0


def test_a_nan_income_no_longer_invents_tax_rates(tmp_path):
    p = profile(tmp_path, ("taxable_income = 250000.0", "taxable_income = nan"))
    with pytest.raises(ProfileError, match="tax.taxable_income.*infinite or NaN"):
        load_profile(p)


@pytest.mark.parametrize("key", ["categories", "no_buy", "never_hold", "hold_no_add",
                                 "exclude_sectors", "exclude_industries"])
@pytest.mark.parametrize("item", ["{a = 1}", "7", "[\"Energy\"]", "true", "2024-01-01"])
def test_restriction_lists_name_the_wrong_item(tmp_path, key, item):
    p = profile(tmp_path, (LISTS, f"{LISTS}\n{key} = [{item}]" if key != "categories"
                           else f"categories = [{item}]"))
    assert issues(p) == {("wrong_type", f"restrictions.{key}[0]")}


@pytest.mark.parametrize("edit, expected", [
    (('files = ["good_lots.csv"]', "files = []"), {("missing_value", "lots.files")}),
    (('files = ["good_lots.csv"]', "files = [1]"), {("wrong_type", "lots.files[0]")}),
    (('files = ["good_lots.csv"]', 'files = "good_lots.csv"'), {("wrong_type", "lots.files")}),
    (('files = ["good_lots.csv"]', 'files = ["good_lots.csv", "./good_lots.csv"]'),
     {("duplicate_file", "lots.files[1]")}),
    (("[target]", "[concentrated]\nticker = 123\n\n[target]"),
     {("wrong_type", "concentrated.ticker")}),
    (("[target]", '[concentrated]\nticker = ["NVDA"]\n\n[target]'),
     {("wrong_type", "concentrated.ticker")}),
    (("[target]", "[concentrated]\nstrategy = \"keep\"\n\n[target]"),
     {("missing_key", "concentrated.ticker")}),
    (('id = "bad-base"', 'id = "bad-base\\n"'), {("invalid_value", "client.id")}),
    (('id = "bad-base"', 'id = "bad\\u0000base"'), {("invalid_value", "client.id")}),
    (('name = "Malformed-input corpus"', 'name = "Jane\\nDoe"'),
     {("invalid_value", "client.name")}),
    (('name = "Malformed-input corpus"', 'name = "Jane\\u001b[31mDoe"'),
     {("invalid_value", "client.name")}),
    (("as_of = 2026-07-31", "as_of = 1899-12-31"), {("out_of_range", "client.as_of")}),
    (("as_of = 2026-07-31", "as_of = 2101-01-01"), {("out_of_range", "client.as_of")}),
    (('id = "taxable"\ntype = "taxable"\n', 'id = "taxable"\ntype = "taxable"\n'
      "\n[[accounts.nested]]\nx = 1\n"), {("unknown_key", "accounts[0].nested")}),
    ((LOTS, f'{LOTS}\nallow_hidden = "yes"'), {("wrong_type", "lots.allow_hidden")}),
    ((LOTS, f"{LOTS}\nallow_before_market_data = 1"),
     {("wrong_type", "lots.allow_before_market_data")}),
    ((LOTS, f'{LOTS}\nallowed_dirs = "../x"'), {("wrong_type", "lots.allowed_dirs")}),
    ((LOTS, f'{LOTS}\nallowed_dirs = ["no-such-folder"]'),
     {("file_not_found", "lots.allowed_dirs[0]")}),
])
def test_wrong_types_anywhere_are_errors_naming_the_key(tmp_path, edit, expected):
    assert issues(profile(tmp_path, edit)) == expected


def test_accounts_that_are_not_tables_are_named_one_by_one(tmp_path):
    head, tail = BASE.split("\n", 1)  # schema_version, then the tables
    tail = tail.split("[[accounts]]")[0] + "[lots]" + tail.split("[lots]")[1]
    text = head + '\naccounts = [1, {id = "ira", type = "ira"}]\n' + tail.replace(
        'default_account = "taxable"', 'default_account = "ira"')
    shutil.copy(bad_inputs_dir() / "good_lots.csv", tmp_path / "good_lots.csv")
    (tmp_path / "p.toml").write_text(text)
    assert issues(tmp_path / "p.toml") == {("wrong_type", "accounts[0]")}


@pytest.mark.parametrize("section, text", [
    ("transition", "transition = 5"), ("concentrated", 'concentrated = "NVDA"'),
    ("charity", "charity = [1]"), ("budgets", "[[budgets]]\ntotal = 1.0"),
    ("restrictions", 'restrictions = "none"'),
])
def test_no_section_is_dropped_silently(tmp_path, section, text):
    base = BASE
    if section in ("budgets", "restrictions"):
        start = base.index(f"[{section}]")
        end = base.index("\n[", start + 1)
        base = base[:start] + base[end + 1:]
    p = tmp_path / "p.toml"
    shutil.copy(bad_inputs_dir() / "good_lots.csv", tmp_path / "good_lots.csv")
    p.write_text(text + "\n" + base if "[[" not in text else base + "\n" + text + "\n")
    assert issues(p) == {("wrong_type", section)}


@pytest.mark.parametrize("nested", [
    "names = " + "[" * 5000 + "]" * 5000,
    "names = " + "{a = " * 3000 + "1" + "}" * 3000,
])
def test_deep_nesting_is_an_error_not_a_recursion_error(tmp_path, nested):
    p = profile(tmp_path, ('model = "sp500"', f'model = "sp500"\n{nested}'))
    assert issues(p) == {("toml_too_deep", None)}


def test_an_integer_too_long_to_read_is_a_syntax_error(tmp_path):
    p = profile(tmp_path, ("taxable_income = 250000.0", "taxable_income = " + "9" * 5000))
    assert issues(p) == {("toml_syntax", None)}


def test_values_are_echoed_cut_short(tmp_path):
    p = profile(tmp_path, (LISTS, "categories = [\"" + "x" * 500 + "\"]"))
    with pytest.raises(ProfileError) as e:
        load_profile(p)
    assert all(len(i.value or "") <= 83 for i in e.value.issues)


def test_opt_in_keys_reach_the_lots_spec(tmp_path):
    (tmp_path / "shared").mkdir()
    p = load_profile(profile(tmp_path, (LOTS, f"{LOTS}\nallow_hidden = true\n"
                                              "allow_before_market_data = true\n"
                                              'allowed_dirs = ["shared"]')))
    assert p.lots.policy == ReadPolicy(allow_hidden=True, allow_before_market_data=True)
    assert p.lots.allowed_dirs == ((tmp_path / "shared").resolve(),)


def test_target_restrictions_add_the_names_no_account_may_buy():
    """One account: its own no_buy acts as [restrictions] no_buy; a household: only the
    names every account refuses (roth-household's Roth alone refuses TSLA)."""
    import dataclasses

    from pma_lab.paths import client_profile

    prof = load_profile(client_profile("roth-household"))
    assert prof.target_restrictions() == prof.restrictions  # the taxable may buy TSLA
    refused = dataclasses.replace(prof, accounts=tuple(
        dataclasses.replace(a, no_buy=("TSLA", "AAPL")) for a in prof.accounts))
    assert refused.target_restrictions().no_buy == (*prof.restrictions.no_buy, "TSLA",
                                                     "AAPL")
    one = dataclasses.replace(prof, accounts=prof.accounts[2:])  # the Roth alone
    assert one.target_restrictions().no_buy == (*prof.restrictions.no_buy, "TSLA")


def test_an_accounts_name_and_number_are_read(tmp_path):
    """``[[accounts]] name`` and ``number``: how the client knows the account
    (:func:`pma_lab.accounts.account_names`); the id stays the trade files' key."""
    p = load_profile(profile(tmp_path, ('type = "taxable"', 'type = "taxable"\n'
                                        'name = " Family trust "\nnumber = "XXXX-1234"')))
    a = p.accounts[0]
    assert (a.account_id, a.name, a.number) == ("taxable", "Family trust", "XXXX-1234")
    assert (p.accounts[1].name, p.accounts[1].number) == ("", "")


@pytest.mark.parametrize("key, value, code", [
    ("name", "42", "wrong_type"), ("name", '"   "', "invalid_value"),
    ("name", '"' + "x" * 61 + '"', "invalid_value"), ("name", '"a\\tb"', "invalid_value"),
    ("number", "1234", "wrong_type"), ("number", '"XXXX"', "invalid_value"),
    ("number", '"12/34"', "invalid_value"), ("nickname", '"Trust"', "unknown_key"),
])
def test_an_accounts_name_and_number_are_checked_naming_file_key_and_fix(tmp_path, key,
                                                                         value, code):
    p = profile(tmp_path, ('type = "taxable"', f'type = "taxable"\n{key} = {value}'))
    got = issues(p)
    assert {c for c, _ in got} == {code} and any(key in str(col) for _, col in got), got
    with pytest.raises(ProfileError) as e:
        load_profile(p)
    text = str(e.value)
    assert str(p) in text and key in text and "Fix:" in text


@pytest.mark.parametrize("key, a, b", [("name", "Trust", "trust"),
                                       ("number", "XXXX-1234", "XXXX-1234")])
def test_two_accounts_cannot_share_a_name_or_number(tmp_path, key, a, b):
    p = profile(tmp_path, ('type = "taxable"', f'type = "taxable"\n{key} = "{a}"'),
                ('type = "ira"', f'type = "ira"\n{key} = "{b}"'))
    assert issues(p) == {("duplicate_account", f"accounts[1].{key}")}
    with pytest.raises(ProfileError, match="give each account its own"):
        load_profile(p)


@pytest.mark.parametrize("number", ["ira2024", "IRA2024", "xxxx-9876"])
def test_an_accounts_number_cannot_read_as_another_accounts_id(tmp_path, number):
    """Review 13b H2: a trust declared number = "ira2024" beside an IRA whose id is
    ira2024 was shown as "… (ira2024)" while the trade files put the IRA's orders under
    ira2024; a masked id differing only in case passed as well. A declared number must
    differ, case aside, from every other account's id (and the masked id shown as its
    number)."""
    other_id = "XXXX-9876" if number.startswith("x") else "ira2024"
    p = profile(tmp_path, ('type = "taxable"', f'type = "taxable"\nnumber = "{number}"'),
                ('id = "ira"', f'id = "{other_id}"'))
    got = issues(p)
    assert ("duplicate_account", "accounts[0].number") in got, got
    with pytest.raises(ProfileError, match="which is how account .* reads"):
        load_profile(p)


@pytest.mark.parametrize("edit, column", [
    (("[target]", "[withdrawal]\namount = 20000.0\ndate = 2027-03-01\n\n[target]"),
     "withdrawal"),
    (('id = "taxable"\ntype = "taxable"\n', 'id = "taxable"\ntype = "taxable"\n'
      "withdrawal_date = 2027-03-01\n"), "accounts[0].withdrawal_date"),
])
def test_a_withdrawal_in_the_profile_is_refused_saying_how_it_is_given(tmp_path, edit,
                                                                        column):
    """Session 17: a profile declares no withdrawal (nor its date). A [withdrawal] table,
    or a withdrawal_date key, was refused as an unknown key with the allowed keys alone;
    the fix now says how a withdrawal is given (flow= in the plans, or the dashboard's box)
    and that a plan pays it at the start of every plan year (no other date). Any other
    unknown key reads as before."""
    from pma_lab.schema import WITHDRAWAL_INPUT

    with pytest.raises(ProfileError) as e:
        load_profile(profile(tmp_path, edit))
    bad = [i for i in e.value.issues if i.code == "unknown_key"]
    assert [i.column for i in bad] == [column]
    assert bad[0].fix.startswith(WITHDRAWAL_INPUT + "; allowed keys: "), bad[0].fix
    assert "at the start of every plan year" in WITHDRAWAL_INPUT
    assert "another date is not supported" in WITHDRAWAL_INPUT
    with pytest.raises(ProfileError) as e:
        load_profile(profile(tmp_path, ("[target]", "[withdrawn]\nx = 1\n\n[target]")))
    other = next(i for i in e.value.issues if i.code == "unknown_key")
    assert WITHDRAWAL_INPUT in other.fix  # "withdrawn": a withdrawal by another name
    with pytest.raises(ProfileError) as e:
        load_profile(profile(tmp_path, ("[target]", "[payouts]\nx = 1\n\n[target]")))
    other = next(i for i in e.value.issues if i.code == "unknown_key")
    assert WITHDRAWAL_INPUT not in other.fix and "allowed keys: " in other.fix


@pytest.mark.parametrize("key", ["state_rate", "state_lt_rate"])
def test_a_state_rate_above_twenty_percent_is_refused(tmp_path, key):
    """Reviewer 1, session 19: ``state_rate = 0.6`` (60 %) loaded; a state (plus city) rate
    above :data:`pma_lab.tax.rules.MAX_STATE_RATE` is a typing error, named with its fix."""
    p = profile(tmp_path, ("state_rate = 0.05", f"{key} = 0.6"
                           if key == "state_rate" else "state_rate = 0.05\nstate_lt_rate = 0.6"))
    with pytest.raises(ProfileError) as e:
        load_profile(p)
    (issue,) = [i for i in e.value.issues if i.severity is Severity.ERROR]
    assert (issue.code, issue.column) == ("rate_out_of_range", f"tax.{key}")
    assert "between 0 and 0.2" in str(e.value) and "0.0575 for 5.75 %" in str(e.value)
    ok = profile(tmp_path, ("state_rate = 0.05", f"{key} = 0.133"
                            if key == "state_rate" else "state_rate = 0.05\nstate_lt_rate = 0.133"))
    assert getattr(load_profile(ok).tax, key) == pytest.approx(0.133)
CARRY = ("niit = \"auto\"\n", "niit = \"auto\"\ntax_year = 2025\ncarryforward_lt = 7000.0\n")


def test_the_carryforward_is_the_loss_carried_into_the_profiles_tax_year(tmp_path):
    """Session 19: the carryforwards are the loss carried INTO ``tax_year``. For another
    year they were 0 in the rebalance, the household and the withdrawal rule but counted
    in full in a plan's yearly tax; they are now refused for another year, with the file,
    the key and the fix, and read as given for the tax year itself."""
    from pma_lab.io.profile import ClientProfile

    p = load_profile(profile(tmp_path, CARRY))
    assert p.tax.tax_year == 2025 and p.as_of.year == 2026
    assert p.carryforward_into(2025) == (0.0, 7_000.0)
    for year, words in ((2026, "the carry into 2026 depends on the gains and losses "
                               "realised in 2025"),
                        (2028, "the carry into 2028 depends on the gains and losses "
                               "realised in 2025-2027"),
                        (2024, "the carry into 2024 is not the one into 2025")):
        with pytest.raises(ProfileError) as e:
            p.carryforward_into(year, f"the analysis date {year}-01-15")
        (i,) = e.value.issues
        assert (i.file, i.column, i.code, i.severity) == (
            str(p.path), "tax.carryforward_lt", "stale_carryforward", Severity.ERROR)
        assert i == ClientProfile.carryforward_issue(p, year, f"the analysis date {year}-01-15")
        assert i.message == (
            "the loss carryforwards are the loss carried into tax year 2025 (tax.tax_year, "
            "or client.as_of's year when it is absent), but the analysis date "
            f"{year}-01-15 is in {year}: {words}, so they are neither used nor taken as 0")
        assert i.fix == (
            f"set tax_year = {year} and carryforward_st / carryforward_lt to the loss "
            f"carried into {year} (the Capital Loss Carryover Worksheet of the {year - 1} "
            "return; 0 for none; tax_year also sets the brackets an income-based profile "
            f"is taxed at, so check taxable_income and the rates are {year}'s too), or "
            "analyse as of a date in 2025")
        assert i.value == "$0 short-term / $7,000 long-term"
        assert str(p.path) in str(e.value)
    st = load_profile(profile(tmp_path, (CARRY[0], CARRY[1].replace("_lt", "_st"))))
    with pytest.raises(ProfileError, match="column 'tax.carryforward_st'"):
        st.carryforward_into(2026)
    # none given: none into any year, and the tax year's rates serve another year as before
    none = load_profile(profile(tmp_path, (CARRY[0], "niit = \"auto\"\ntax_year = 2025\n")))
    assert none.carryforward_into(2026) == none.carryforward_into(2019) == (0.0, 0.0)
    assert none.carryforward_issue(2026) is None


def test_load_client_refuses_a_carryforward_into_another_year_than_the_analysis_dates(
        tmp_path):
    """Session 19: a profile of 2025 (its carryforward into 2025) read for an analysis in
    2026 stops with the inputs (``pma-lab lots validate`` too), as does a 2026 profile
    read as of a date in 2025; the analysis date's own tax year loads."""
    from pma_lab.app.cli import main
    from pma_lab.io.client import load_client

    p = profile(tmp_path, CARRY)
    with pytest.raises(ProfileError) as e:
        load_client(p)
    assert e.value.codes == ("stale_carryforward",)
    assert "but the analysis date 2026-07-31 is in 2026" in str(e.value)
    assert load_client(p, as_of="2025-12-31").profile.carryforward_into(2025) == (0.0, 7e3)
    assert main(["lots", "validate", "--profile", str(p)]) == 2
    this_year = profile(tmp_path, ("niit = \"auto\"\n", "niit = \"auto\"\ncarryforward_lt = 7e3\n"))
    assert load_client(this_year).profile.carryforward_into(2026) == (0.0, 7_000.0)
    with pytest.raises(ProfileError, match="analysis date 2025-06-30 is in 2025: the carry "
                                           "into 2025 is not the one into 2026"):
        load_client(this_year, as_of="2025-06-30")


def test_a_misspelt_category_is_one_error_not_two_with_its_held_action(tmp_path):
    """Reviewer 1, session 20: categories = ["tobaco"] with [restrictions.held] tobacco =
    "sell" read two errors, the second "'tobacco' is not a restriction of this profile" --
    a knock-on of the first, whose fix already says "did you mean 'tobacco'?"."""
    p = profile(tmp_path, (LISTS, 'categories = ["tobaco"]\n\n[restrictions.held]\n'
                                  'tobacco = "sell"'))
    with pytest.raises(ProfileError) as e:
        load_profile(p)
    errors = [i for i in e.value.issues if i.severity is Severity.ERROR]
    assert [(i.code, i.column) for i in errors] == [("unknown_category",
                                                      "restrictions.categories[0]")]
    assert "did you mean 'tobacco'?" in errors[0].fix
    # a held key that is not a misspelling's suggestion is still an error
    p = profile(tmp_path, (LISTS, 'categories = ["tobaco"]\n\n[restrictions.held]\n'
                                  'alcohol = "sell"'))
    assert ("unknown_key", "restrictions.held.alcohol") in issues(p)


@pytest.mark.parametrize("edit, says", [
    (("as_of = 2026-07-31", 'as_of = "2026-07-31"'),
     'Fix: write client.as_of as a TOML date, unquoted: as_of = YYYY-MM-DD (no quotes; '
     'you wrote "2026-07-31")'),
    (("state_rate = 0.05", 'state_rate = "0.05"'),
     "Fix: write tax.state_rate as a number, unquoted and without $ or commas"),
])
def test_a_quoted_date_or_number_gets_the_toml_fix(tmp_path, edit, says):
    """Reviewer 1 (session 23): a quoted date got "Fix: write client.as_of as date", which
    does not say what TOML wants (the date unquoted)."""
    with pytest.raises(ProfileError) as e:
        load_profile(profile(tmp_path, edit))
    assert says in str(e.value)

def test_the_wash_sale_mode_is_a_trading_key_read_into_the_settings(tmp_path):
    """Review 23 #4: an infeasible plan's fix said "allow RebalanceSettings.wash_sale_mode=
    'disallow'", which the service team cannot apply: [trading] wash_sale_mode is the
    profile's key, checked, read into the rebalance settings, and the fix names it."""
    from types import SimpleNamespace

    from pma_lab.optimize.constraints import WashSaleLocks
    from pma_lab.optimize.engine import default_settings

    assert load_profile(profile(tmp_path)).trading.wash_sale_mode == "forbid"
    p = load_profile(profile(tmp_path, ("[tax]", '[trading]\nwash_sale_mode = "disallow"\n\n'
                                                  "[tax]")))
    assert p.trading.wash_sale_mode == "disallow"
    setup = SimpleNamespace(client=SimpleNamespace(profile=p))
    assert default_settings(setup).wash_sale_mode == "disallow"
    bad = profile(tmp_path, ("[tax]", '[trading]\nwash_sale_mode = "sometimes"\n\n[tax]'))
    assert issues(bad) == {("invalid_value", "trading.wash_sale_mode")}
    with pytest.raises(ProfileError, match="use one of: forbid, disallow"):
        load_profile(bad)
    assert "wash_sale_mode = \"disallow\" in the profile's [trading] table" in WashSaleLocks.fix


def test_an_all_cash_account_needs_no_lots(tmp_path):
    """Reviewer 1 (session 25, #12): a new account funded with cash could not be set up
    ([lots] was required and files = [] refused). With cash in an account the profile
    needs no lots file; with neither lots nor cash there is nothing to manage."""
    cash = ('type = "taxable"\n', 'type = "taxable"\ncash = 500000.0\n')
    no_lots = ('[lots]\nfiles = ["good_lots.csv"]\ndefault_account = "taxable"\n', "")
    one = ('[[accounts]]\nid = "ira"\ntype = "ira"\n\n', "")
    got = load_profile(profile(tmp_path, cash, no_lots, one))
    # a lots file uploaded later (the dashboard) without an account column is the one
    # account's
    assert got.lots.files == () and got.lots.default_account == "taxable"
    assert load_profile(profile(tmp_path, cash, no_lots)).lots.default_account is None
    empty = ('files = ["good_lots.csv"]', "files = []")
    got = load_profile(profile(tmp_path, cash, empty))
    assert got.lots.files == () and got.cash == 500_000
    with pytest.raises(ProfileError, match=r"no lots file is named and no account has cash: "
                                           r"there is nothing to manage.*cash = 500000.0"):
        load_profile(profile(tmp_path, no_lots))
    assert issues(profile(tmp_path, empty)) == {("missing_value", "lots.files")}
