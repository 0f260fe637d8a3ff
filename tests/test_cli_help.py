"""pma-lab --help as a new user reads it: every argument and option described and typed,
and the plan grammar listed from the parser's own table (so help and parser cannot drift)."""

from __future__ import annotations

import re

import click
import pytest

from pma_lab.app.cli import cli, main
from pma_lab.errors import DataError
from pma_lab.plan.grammar import DEFAULT_PLANS, OPTION_NAMES, PLAN_FORMS, PLAN_OPTIONS
from pma_lab.plan.plans import parse_plan


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


COMMANDS = dict(_commands(cli))


def _help(path, capsys) -> str:
    """The help as one line (click's wrapping undone, also at a hyphen: short- term)."""
    assert main([*path, "--help"]) == 0
    return re.sub(r"(\w)- (\w)", r"\1-\2", " ".join(capsys.readouterr().out.split()))


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_every_option_is_described_and_typed(path):
    """No option reads TEXT (--as-of is YYYY-MM-DD, --format html|pdf|html,pdf, ...) and
    none is without help."""
    cmd = COMMANDS[path]
    ctx = click.Context(cmd, info_name=" ".join(path))
    for p in cmd.params:
        if isinstance(p, click.Option):
            assert p.help, f"{' '.join(path)} {p.opts[0]} has no help"
            if not p.is_flag:
                # nor click's type names: N, USD, SHARE, YYYY-MM-DD ... say what to write
                assert p.make_metavar(ctx) not in (
                    "TEXT", "INTEGER", "FLOAT", "INTEGER RANGE", "FLOAT RANGE"), \
                    f"{' '.join(path)} {p.opts[0]} reads {p.make_metavar(ctx)}"


LOTS_COMMANDS = [path for path, cmd in COMMANDS.items()
                 if any(p.name == "lots_files" for p in cmd.params)]


@pytest.mark.parametrize("path", LOTS_COMMANDS, ids=" ".join)
def test_lots_files_argument_is_described(path, capsys):
    text = _help(path, capsys)
    assert "[LOTS_FILES]..." in text
    body = text.split("Options:")[0].split("[LOTS_FILES]...", 1)[1]
    assert "LOTS_FILES: the client's lots files (CSV or XLSX" in body
    assert "leave out to use the profile's" in body


def test_lots_files_commands_include_the_main_ones():
    assert {" ".join(p) for p in LOTS_COMMANDS} >= {
        "lots validate", "lots summarize", "rebalance", "frontier", "transition", "propose"}


def test_as_of_and_format_show_what_to_write(capsys):
    text = _help(["propose"], capsys)
    assert "--as-of YYYY-MM-DD" in text and "--format html|pdf|html,pdf" in text
    assert "--years N" in text and "--plans PLAN,PLAN,..." in text


@pytest.mark.parametrize(("value", "message"), [
    ("docx", "'docx': unknown format(s) docx; write html, pdf or html,pdf"),
    (",", "',': unknown format(s) (none); write html, pdf or html,pdf"),
])
def test_a_bad_format_is_refused_with_the_choices(tmp_path, capsys, value, message):
    code = main(["propose", "--profile", str(tmp_path / "p.toml"), "--out",
                 str(tmp_path / "o"), "--format", value])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "Invalid value for '--format'" in err and message in err, err


def test_backtest_start_is_a_date(tmp_path, capsys):
    code = main(["backtest", "--start", "3/1/2005", "--out", str(tmp_path)])
    assert code == 2 and "write YYYY-MM-DD" in capsys.readouterr().err


# ------------------------------------------------------------------ the plan grammar
def _example(form: str) -> str:
    return (form.replace("<N>", "3").replace("<USD>", "1000").replace("<cap>", "0.02")
            .replace("keep|build|sell", "keep"))


def test_plans_help_lists_every_form_and_option_and_reads_the_same(capsys):
    transition = _help(["transition"], capsys)
    propose = _help(["propose"], capsys)

    def plans_help(text: str) -> str:
        return text.split("--plans PLAN,PLAN,...", 1)[1].split("--years", 1)[0]

    assert plans_help(transition) == plans_help(propose)
    text = plans_help(transition)
    for form, words in (*PLAN_FORMS, *PLAN_OPTIONS):
        assert f"{form} - {words}" in text, form
    assert f"[default: {','.join(DEFAULT_PLANS)}]" in text


@pytest.mark.parametrize("form", [f for f, _ in PLAN_FORMS])
def test_every_form_in_the_help_parses(form):
    assert parse_plan(_example(form)).kind in ("immediate", "hold", "timeline", "budget")


@pytest.mark.parametrize("option", [o for o, _ in PLAN_OPTIONS])
def test_every_option_in_the_help_parses(option):
    base = "budget:5000" if option.split("=")[0] in ("st", "lt") else "3y"
    plan = parse_plan(f"{base}:{_example(option)}")
    assert plan.name == f"{base}:{_example(option)}"


def test_the_parser_accepts_no_option_the_help_does_not_list():
    with pytest.raises(DataError) as e:
        parse_plan("3y:tax=1")
    assert all(f"{o}=" in str(e.value) for o in OPTION_NAMES)


def test_the_notebooks_default_plans_are_the_clis():
    from pma_lab.report.proposal import PROPOSAL_NOTEBOOK, notebook_parameters

    params = notebook_parameters(PROPOSAL_NOTEBOOK)
    assert params["plans"]["default"].strip("\"'") == ",".join(DEFAULT_PLANS)
    assert int(params["horizon_years"]["default"]) == 5
