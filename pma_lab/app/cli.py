"""The ``pma-lab`` command line.

Every subcommand has ``--help``. Input errors exit with status 2 and print every problem
found (file, row, column, value, fix); other failures exit with status 1.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
import sys
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click
import pandas as pd

from pma_lab import __version__
from pma_lab.errors import DataError, InfeasibleError, OptimizationError, PmaLabError
from pma_lab.formatting import fmt_pct, fmt_shares, fmt_usd
from pma_lab.modes import Method, WashSaleMode
from pma_lab.plan.grammar import DEFAULT_PLANS, DEFAULT_YEARS, plan_grammar

if TYPE_CHECKING:
    from pma_lab.io.client import Client

__all__ = ["main", "cli"]


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD") from None


def _inputs(*paths: Path | None, client=None) -> list[Path]:
    """The run's input files, which no output may overwrite (see :mod:`pma_lab.files`)."""
    out = [Path(p) for p in paths if p is not None]
    out += [f for p in list(out) if p.is_dir() for f in p.iterdir()]  # a factor model folder
    if client is not None:
        out += [client.profile.path, *map(Path, client.lots.sources)]
        if client.profile.lots.recent_trades is not None:
            out.append(client.profile.lots.recent_trades)
    return out


def _warn(issues: Sequence) -> None:
    for i in issues:
        click.echo("  " + i.format(), err=True)


def _service_notes(accounts: Sequence, profile: Path) -> None:
    """What the service team must settle in the profile, on stderr (never the client's).

    A household's IRA without ``ira_kind`` is treated as traditional: the proposal tells
    the client so in words; the profile key to set is said here
    (:func:`pma_lab.accounts.unstated_ira_note`); accounts of one kind with neither
    ``name`` nor ``number`` read numbered (:func:`pma_lab.accounts.unnamed_twins_note`).
    """
    from pma_lab.accounts import unnamed_twins_note, unstated_ira_note

    for note in ((unstated_ira_note(accounts, profile), unnamed_twins_note(accounts, profile))
                 if len(accounts) > 1 else ()):
        if note:
            click.echo(f"Note for the service team: {note}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="pma-lab")
def cli() -> None:
    """pma_lab: tax-aware direct indexing workbench (lots, tax engine, proposals)."""


# ----------------------------------------------------------------------------------- lots
@cli.group()
def lots() -> None:
    """Validate and summarise a client's tax lots."""


LOTS_FILES_HELP = (
    "LOTS_FILES: the client's lots files (CSV or XLSX: one row a tax lot, e.g. ticker, "
    "shares, cost basis, acquisition date), read instead of the files the profile's [lots] "
    "names; leave out to use the profile's.")
"""What a command taking lots files says about them (click arguments have no help)."""


def _lots_arg(f):  # noqa: ANN001, ANN202 - a click decorator
    """The optional ``LOTS_FILES...`` argument, described in the command's help."""
    doc = inspect.cleandoc(f.__doc__ or "")
    f.__doc__ = f"{doc}\n\n{LOTS_FILES_HELP}"
    return click.argument("lots_files", nargs=-1, type=click.Path(path_type=Path),
                          metavar="[LOTS_FILES]...")(f)


_profile_opt = click.option("--profile", "profile", required=True,
                            type=click.Path(dir_okay=False, path_type=Path),
                            help="Client profile (TOML).")
_asof_opt = click.option("--as-of", "as_of", callback=_date, default=None,
                         metavar="YYYY-MM-DD",
                         help="Analysis date, e.g. 2026-07-31 (default: the profile's "
                              "client.as_of).")
_order_opt = click.option("--date-order", type=click.Choice(["MDY", "DMY"]), default=None,
                          help="How to read slash dates like 03/04/2024 (overrides the profile).")


@lots.command("validate")
@_lots_arg
@_profile_opt
@_asof_opt
@_order_opt
def lots_validate(lots_files: tuple[Path, ...], profile: Path, as_of: dt.date | None,
                  date_order: str | None) -> None:
    """Check the client's lots (and recent trades) and report every problem at once."""
    from pma_lab.io.client import load_client
    from pma_lab.io.holdings import check_prices

    c = load_client(profile, as_of=as_of, lots_files=lots_files or None, date_order=date_order)
    c.ledger()  # the recent trades replayed against the lots, as every other command does
    check_prices(c)  # the lots can be valued at the analysis date (as every step values them)
    click.echo(f"OK: {len(c.lots)} lots in {len(c.lots.sources)} file(s) for client "
               f"{c.client_id} as of {c.as_of}; {len(c.warnings)} warning(s)")
    click.echo(_lots_per_account(c))
    _warn(c.warnings)
    _service_notes(c.profile.accounts, profile)


def _lots_per_account(c: Client) -> str:
    """The lots each declared account holds, for ``lots validate``.

    E.g. ``Lots per account: joint (taxable) 13, ira (ira) 0: no lots, cash only``
    (reviewer 1, session 22: an IRA's lots booked to the taxable account showed only as
    a total).
    """
    counts = c.lots.lots.account.value_counts()
    parts = []
    for a in c.profile.accounts:
        n = int(counts.get(a.account_id, 0))
        kind = getattr(a.account_type, "value", a.account_type)
        note = "" if n else (": no lots, cash only" if a.cash else ": no lots and no cash")
        parts.append(f"{a.account_id} ({kind}) {n}{note}")
    return "Lots per account: " + ", ".join(parts)


@lots.command("summarize")
@_lots_arg
@_profile_opt
@_asof_opt
@_order_opt
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write lots.csv, holdings.csv, turning_long_term.csv, locks.csv, "
                   "realized.csv (the year's netting, as ledger replay's .netting.csv).")
def lots_summarize(lots_files: tuple[Path, ...], profile: Path, as_of: dt.date | None,
                   date_order: str | None, out: Path | None) -> None:
    """Holdings, unrealised ST/LT gain by lot, lots turning long-term, do-not-buy dates."""
    from pma_lab.io.client import load_client
    from pma_lab.io.holdings import summarize_lots

    c = load_client(profile, as_of=as_of, lots_files=lots_files or None, date_order=date_order)
    s = summarize_lots(c)
    if c.warnings:
        click.echo(f"{len(c.warnings)} warning(s) while reading the inputs:", err=True)
        _warn(c.warnings)
    click.echo(s.to_text())
    if out is not None:
        from pma_lab.files import write_folder

        names = ("lots", "holdings", "turning_long_term", "locks")
        frames = {f"{n}.csv": getattr(s, n) for n in names}
        frames["locks.csv"] = _locks_csv(s.locks)
        for name in ("lots.csv", "holdings.csv", "turning_long_term.csv"):
            frames[name] = _to_cents(frames[name])
        # the year's netting as `pma-lab ledger replay` writes it (names, signs, cents)
        frames["realized.csv"] = _netting_signed(s.realized)
        write_folder(out, frames, _inputs(profile, *lots_files, client=c))
        click.echo(f"\nwrote {out}/{{lots,holdings,turning_long_term,locks,realized}}.csv")


_CENTS_COLUMNS = ("market_value", "basis", "sale_basis", "unrealized", "unrealized_st",
                  "unrealized_lt", "wash_adjustment", "loss_basis", "cost_basis", "value",
                  "gain", "proceeds", "wash_loss_disallowed", "wash_loss_lost",
                  "recorded_basis")


def _to_cents(frame: pd.DataFrame) -> pd.DataFrame:
    """A table with its dollar columns to the cent.

    Reviewer 2 (session 24): a lot's unrealised -215.400000000001 in lots.csv (5,484.60 less
    5,700.00 in binary); reviewer 1 (session 25): `pma-lab rebalance`'s lot_trades.csv and
    decisions.csv (a gain of -60.1500000000005).
    """
    out = frame.copy()
    for c in _CENTS_COLUMNS:
        if c in out and pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(2)
    return out


def _locks_csv(locks: pd.DataFrame) -> pd.DataFrame:
    """The locks table as a CSV holds it: each lock's purchases in words, not a tuple.

    ``purchases`` holds ``(date, in an IRA, shares)`` tuples (:meth:`Ledger.locks`); the
    file says ``2026-07-20: 40 shares (taxable); ...`` (reviewer 1, session 24: Python's
    ``datetime.date(...)`` text in the file).
    """
    if "purchases" not in locks.columns:
        return locks
    out = locks.copy()
    out["purchases"] = [
        "; ".join(f"{d.isoformat()}: {fmt_shares(sh)} shares ({'IRA' if ira else 'taxable'})"
                  for d, ira, sh in p) for p in locks["purchases"]]
    return out


# ----------------------------------------------------------------------------------- ledger
@cli.group()
def ledger() -> None:
    """Replay trades through the tax-lot ledger."""


@ledger.command("replay")
@click.argument("trades", type=click.Path(path_type=Path))
@click.option("--lots", "lots_file", type=click.Path(path_type=Path), default=None,
              help="Lots held before the first trade (CSV/XLSX).")
@click.option("--profile", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Client profile: accounts, filing status and rates for the netting.")
@click.option("--filing-status", type=click.Choice(["single", "mfj", "mfs", "hoh"]),
              default=None, help="Filing status when no profile is given (default mfj).")
@_order_opt
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV for the Form 8949 rows; the netting goes next to it as "
                   "<name>.netting.csv.")
def ledger_replay(trades: Path, lots_file: Path | None, profile: Path | None,
                  filing_status: str | None, date_order: str | None, out: Path | None) -> None:
    """Replay a trade blotter and print Form 8949 rows and the yearly ST/LT netting.

    TRADES columns: date, account, account_type (taxable; ira, roth or traditional for an
    IRA), ticker, side (buy/sell), shares, price, optional lot_id (specific
    identification), optional method (fifo/hifo/specific/min_tax), optional fees. A
    custodian's activity export reads too (YOU BOUGHT / YOU SOLD / REINVESTMENT actions, a
    sale's negative quantity; dividends and other cash rows are left out with a warning);
    it has no account type, so give --profile, whose [[accounts]] declare each account's.
    """
    from pma_lab.errors import Issue, LedgerError, LotDataError
    from pma_lab.io.ingest import read_blotter, read_lots, replay_problems
    from pma_lab.io.profile import load_profile
    from pma_lab.tax.ledger import Ledger, opening_lot_conflicts, replay
    from pma_lab.tax.liability import TaxProfile, yearly_netting
    from pma_lab.tax.rules import FilingStatus

    prof = load_profile(profile) if profile is not None else None
    # the --date-order flag, else the profile's lots.date_order (reviewer 2, session 24: a
    # Fidelity export that `lots summarize` read was refused here as ambiguous)
    date_order = date_order or (prof.lots.date_order if prof else None)
    declared = {a.account_id: a for a in prof.ledger_accounts()} if prof else {}
    one = next(iter(declared)) if len(declared) == 1 else None
    blotter = read_blotter(
        trades, date_order=date_order,
        accounts={k: a.account_type for k, a in declared.items()} if prof else None,
        default_account=(prof.lots.default_account or one) if prof else None)
    accounts = {a.account_id: a for a in blotter.accounts}
    accounts.update(declared)
    if prof is not None:
        tax = prof.tax
    else:
        tax = TaxProfile.from_rates(0.0, 0.0, FilingStatus(filing_status or "mfj"))
    opening: list[dict] = []
    if lots_file is not None:
        end = max(t.date for t in blotter.trades)
        default = next(iter(accounts)) if len(accounts) == 1 else None
        ls = read_lots(lots_file, as_of=end, accounts=list(accounts),
                       default_account=default, date_order=date_order)
        opening.extend(ls.ledger_lots())
        # opening lots are held before the blotter starts (issue 11, Ledger item 3)
        probe = Ledger(list(accounts.values()))
        bad = opening_lot_conflicts(blotter.trades, opening, probe.identity)
        if bad:
            rows = list(ls.lots.itertuples())
            raise LotDataError(str(lots_file), [Issue(
                str(lots_file), int(rows[i].source_row), "acquired",
                str(rows[i].acquired.date()),
                f"lot {rows[i].lot_id} ({rows[i].ticker}) is acquired after the blotter's "
                f"first trade of its identity group ({trades} row {t.row}: {t.side.value} "
                f"{t.ticker} on {t.date}); --lots are the lots held before the first trade",
                "correct the acquisition date, or record the purchase as a buy in the "
                "blotter and drop the lot from --lots", code="opening_lot_after_trade")
                for i, t in bad])
    own = (prof is not None and lots_file is None and prof.lots.recent_trades is not None
           and Path(trades).resolve() == Path(prof.lots.recent_trades).resolve())
    if own:
        # the profile's own recent trades: replayed as every other command replays them,
        # with the profile's lots as the lots held after them, so a lot bought within 30
        # days of a loss sale washes it (Client.ledger; `lots summarize` reads the same)
        from dataclasses import replace as _replace

        from pma_lab.io.client import load_client

        client = load_client(profile, date_order=date_order)
        led = _replace(client, recent_trades=blotter).ledger()
    else:
        try:
            # with the lots the blotter's sales of earlier shares name (acquired, cost basis)
            led = replay(blotter.trades, accounts.values(), [*blotter.sold_lots, *opening])
        except LedgerError as e:  # every refused sale, with its row and column (exit 2)
            raise replay_problems(blotter, e) or e from None
    disp = led.dispositions(as_decimal=True)
    if prof is not None and lots_file is None and not own and prof.lots.files:
        files = ", ".join(str(f) for f in prof.lots.files)
        click.echo(f"note: the profile's lots ({files}) are not replayed with {trades}: a "
                   "purchase among them within 30 days of one of these loss sales would "
                   "wash it and is not seen here. Name this file as the profile's "
                   "lots.recent_trades and replay it with --profile (the lots are then the "
                   "lots held after it, as in `pma-lab lots summarize`), or give the lots "
                   "held before the first trade with --lots.", err=True)
    carry = (Decimal(0), Decimal(0))
    if prof is not None and len(disp):
        # the netting starts in the first sale's year: the profile's carryforwards are the
        # loss carried into its tax year, so that must be the year (else a clear error)
        first = min(disp.date_sold)
        c_st, c_lt = prof.carryforward_into(first.year, f"the blotter's first sale ({first})")
        carry = (Decimal(str(c_st)), Decimal(str(c_lt)))
    net = yearly_netting(disp, tax, *carry)
    # Form 8949 column (b): "INHERITED" instead of a date for inherited property (its
    # instructions; the holding period is long-term whatever the dates, IRC 1223(9))
    disp = disp.assign(date_acquired=[
        "INHERITED" if inh else d for d, inh in zip(disp.date_acquired, disp.inherited,
                                                    strict=True)])
    if blotter.warnings:
        _warn(blotter.warnings)
    with pd.option_context("display.max_rows", 200, "display.width", 160):
        click.echo(f"Form 8949 rows ({len(disp)} dispositions, "
                   f"{int((disp.adjustment_code == 'W').sum())} wash sales):")
        click.echo(disp.drop(columns=["source_row"]).to_string(index=False))
        click.echo("\nYearly netting (Schedule D, USD; losses are negative, as in Schedule "
                   "D's parentheses: losses carried in and out, and the loss deducted from "
                   "ordinary income, too; carryovers keep their character):")
        net = _netting_signed(net)
        shown = net if profile is not None else net.drop(columns=["tax"])
        click.echo(shown.to_string(index=False, formatters={
            c: "{:.2f}".format for c in shown.columns if c != "year"}))
    if out is not None:
        from pma_lab.files import write_csv

        net_path = out.with_suffix(".netting.csv")
        for path, frame in ((out, disp), (net_path, net)):
            write_csv(frame, path, _inputs(trades, lots_file, profile))
        click.echo(f"\nwrote {out} and {net_path}")


# the netting's loss amounts (positive in pma_lab.tax.liability) as negative amounts, named
_LOSS_COLUMNS = {"carryin_st": "st_loss_carried_in", "carryin_lt": "lt_loss_carried_in",
                 "deduction": "loss_deducted", "carryout_st": "st_loss_carried_out",
                 "carryout_lt": "lt_loss_carried_out"}


def _netting_signed(net: pd.DataFrame) -> pd.DataFrame:
    """The yearly netting with every loss negative (as ``st_losses`` already is).

    Carryovers and the deduction are positive amounts in :func:`yearly_netting`; shown as
    they are next to negative ``st_losses`` they read as gains. Renamed to say they are
    losses and negated (a zero stays 0.00, never -0.00). Every amount is to the cent, so the
    table and the CSV read 0.00, never 0 next to 0.00.
    """
    out = net.copy()
    for c in out.columns:
        if c == "year":
            continue
        sign = -1 if c in _LOSS_COLUMNS else 1
        out[c] = [Decimal(str(v)).quantize(_CENT) * sign + 0 for v in out[c]]
    return out.rename(columns=_LOSS_COLUMNS)


_CENT = Decimal("0.01")


# ----------------------------------------------------------------------------------- target
@cli.group()
def target() -> None:
    """Direct-indexed target portfolios and the names-vs-tracking-error curve."""


def _setup(profile: Path, as_of: dt.date | None, lots_files: tuple[Path, ...] = (),
           names: int | None = None, date_order: str | None = None,
           models: dict | None = None):
    """Load the client and prepare it, with the researcher's models from files (if any)."""
    from pma_lab.io.client import load_client
    from pma_lab.io.models import read_models
    from pma_lab.optimize.engine import prepare

    c = load_client(profile, as_of=as_of, lots_files=lots_files or None, date_order=date_order)
    if c.warnings:
        click.echo(f"{len(c.warnings)} warning(s) while reading the inputs:", err=True)
        _warn(c.warnings)
    _service_notes(c.profile.accounts, profile)
    from pma_lab.optimize.engine import kept_weights_today

    own = read_models(as_of=c.as_of, client=c, kept_today=kept_weights_today, **(models or {}))
    words = {"risk": "Risk model", "benchmark": "Benchmark", "target": "Target"}
    for k, v in own.describe().items():  # worded as the proposal's "Models used" table
        click.echo(f"{words[k]}: {v[0].upper() + v[1:]}")
    return prepare(c, names=names, **own.prepare_args())


class _Share(click.ParamType):
    """A share given as a fraction (0.02), in percent (2%) or in basis points (5bp)."""

    name = "share"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        text = str(value).strip().lower().replace(" ", "")
        try:
            if text.endswith("%"):
                return float(text[:-1]) / 100
            if text.endswith("bp"):
                return float(text[:-2]) / 10_000
            return float(text)
        except ValueError:
            self.fail(f"{value!r} is not a share: write 0.02, 2% or 200bp", param, ctx)


SHARE = _Share()


class _TeCap(_Share):
    """A tracking-error cap: a share above 0 and at most 1 (100 %).

    Refused in the option's own words (``--te-cap 5 is 500 %; write 0.05 for 5 %``),
    before the settings' Python-worded check sees it.
    """

    name = "te_cap"

    def convert(self, value, param, ctx):  # noqa: ANN001, ANN201 - click's signature
        share = super().convert(value, param, ctx)
        opt = param.opts[0] if param is not None else "the cap"
        if 0 < share <= 1:
            return share
        if 1 < share <= 100:
            self.fail(f"{opt} {value} is {share * 100:g} %; write {share / 100:g} (or "
                      f"{share:g}%) for {share:g} %", param, ctx)
        self.fail(f"{opt} {value} is not a tracking-error cap: write a share above 0 and at "
                  f"most 1, e.g. 0.02 or 2%, or leave {opt} out for no cap", param, ctx)


TE_CAP = _TeCap()


_RISK_MODEL_HELP = (
    "Your own risk model (annualised, as fractions: a 20 % volatility is a variance of "
    "0.04): a covariance matrix file (CSV/XLSX; tickers down the first column and across "
    "the header), or a factor model: a folder with loadings, factor_cov and specific_var "
    "(.csv or .xlsx each), or one XLSX workbook with sheets of those names. Checked like "
    "a lots file (symmetric, positive semidefinite, known tickers, no duplicates); never "
    "repaired. Default: pma_lab's factor model estimated at the date.")
_BENCHMARK_HELP = (
    "Your own benchmark: CSV/XLSX with columns ticker, weight and an optional date (the "
    "weights in force on the client's date are used); weights >= 0 summing to 1 on each "
    "date, never rescaled. Default: the profile's target.benchmark_file, else the S&P 500 "
    "proxy.")
_TARGET_HELP = (
    "Your own target portfolio: CSV/XLSX with columns ticker, weight (>= 0, summing to 1, "
    "never rescaled; every name allowed by the client's screens and, with --risk-model, "
    "in that model). Default: built from the benchmark, the screens and the name count.")


def _model_opts(f=None, *, target: bool = True):  # noqa: ANN001, ANN202 - a click decorator
    """The options reading a researcher's own models from files, one set for every command.

    ``--risk-model FILE|FOLDER``, ``--benchmark FILE`` (``--benchmark-file`` is the older
    spelling) and, unless ``target=False`` (``target build`` builds the target),
    ``--target FILE``; read by :func:`pma_lab.io.models.read_models`.
    """
    path = click.Path(exists=True, path_type=Path)
    file = click.Path(exists=True, dir_okay=False, path_type=Path)
    opts = [
        click.option("--risk-model", "risk_model", type=path, default=None,
                     metavar="FILE|FOLDER", help=_RISK_MODEL_HELP),
        click.option("--benchmark", "--benchmark-file", "benchmark", type=file,
                     default=None, metavar="FILE", help=_BENCHMARK_HELP),
    ]
    if target:
        opts.append(click.option("--target", "target_file", type=file, default=None,
                                 metavar="FILE", help=_TARGET_HELP))

    def apply(g):  # noqa: ANN001, ANN202
        for opt in reversed(opts):
            g = opt(g)
        return g

    return apply if f is None else apply(f)


def _models(risk_model: Path | None, benchmark: Path | None,
            target_file: Path | None = None) -> dict[str, Path | None]:
    """The model options as :func:`pma_lab.io.models.read_models` takes them."""
    return {"risk_model": risk_model, "benchmark": benchmark, "target": target_file}


def _settings_opts(f):  # noqa: ANN001, ANN201 - a click decorator
    """Options overriding the rebalance settings (default: the profile's)."""
    for opt in reversed([
        click.option("--te-cap", type=TE_CAP, default=None, metavar="SHARE",
                     help="Tracking-error cap, annualised (e.g. 2% or 0.02). Default: none."),
        click.option("--cash-target", type=SHARE, default=None,
                     help="Cash kept after trading, a share of the account (e.g. 1%)."),
        click.option("--spread", type=SHARE, default=None,
                     help="Trading cost per dollar traded: half spread + commission (e.g. "
                          "5bp). Default: 5bp."),
        click.option("--wash-sale-mode", type=click.Choice([m.value for m in WashSaleMode]),
                     default=None,
                     help="A loss lot of a name bought in the last 30 days: forbid its sale "
                          "at a loss (default), or disallow: sell it with the loss "
                          "disallowed (added to the replacement shares' basis; lost for "
                          "good when an IRA bought them)."),
        click.option("--min-trade", type=click.FloatRange(0), default=None, metavar="USD",
                     help="Smallest order in USD (default: the profile's [trading] "
                          "min_trade_usd, else $250)."),
        click.option("--whole-shares/--fractional-shares", "whole_shares", default=None,
                     help="Trade whole shares only, or allow fractions (default: the "
                          "profile's [trading] fractional_shares)."),
    ]):
        f = opt(f)
    return f


def _overrides(**given: object) -> dict:
    """The settings given on the command line (None = not given)."""
    return {k: v for k, v in given.items() if v is not None}


@target.command("build")
@_profile_opt
@_asof_opt
@click.option("--names", type=click.IntRange(1, 600), default=None, metavar="N",
              help="Number of names (default: the profile, else the account-size table); "
                   "for an active + index core, the completion sleeve's.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV with ticker, weight, shares at the account size.")
@_model_opts(target=False)
def target_build(profile: Path, as_of: dt.date | None, names: int | None,
                 out: Path | None, risk_model: Path | None = None,
                 benchmark: Path | None = None) -> None:
    """Build the client's target: N names tracking the client's benchmark."""
    from pma_lab.portfolio.target import round_to_shares

    s = _setup(profile, as_of, names=names, models=_models(risk_model, benchmark))
    t = s.target
    # the keep list at the shares held (its weights are of what is managed today)
    lots = s.client.lots.lots
    held = lots.shares.groupby(lots.ticker).sum()
    kept = [k for k in (t.diagnostics.get("fixed") or ()) if k in held.index]
    r = round_to_shares(t, s.prices, s.account_size, s.risk, s.benchmark, s.sectors,
                        dict(s.client.profile.restrictions.sector_max_weight),
                        held={k: float(held[k]) for k in kept})
    table = r.table().rename(columns={"weight": "weight_rounded"})
    table.insert(1, "weight", table.ticker.map(t.weights))
    from pma_lab.report import labels

    excluded = s.eligibility.excluded()
    comp = s.completion
    if comp is None:
        asked = f"asked {t.max_names or 'all'}"
    else:  # an active + index core: the name count is the completion sleeve's
        asked = (f"the active model at {labels.sleeve_share(comp.active_held)} and a "
                 "completion sleeve of "
                 f"{int((comp.completion > 0).sum())} names, asked "
                 f"{comp.max_names or 'all'}"
                 + (f"; {labels.completion_sizing(comp)}" if comp.excluded
                    else f" for its {1 - comp.alpha:.0%}"))
    size = (f"sized on {labels.target_sizing(s.sizing)}" if s.sizing.household
            else f"account ${s.account_size:,.0f}")
    click.echo(f"Target for {s.client.client_id} as of {s.as_of}: {t.names} names "
               f"({asked}), {size}")
    click.echo(f"  ex-ante tracking error vs the unrestricted {s.benchmark.name}: "
               f"{t.tracking_error:.2%} (after whole shares: {r.tracking_error:.2%}, cash "
               f"left ${r.cash:,.2f})")
    click.echo(f"  screens exclude {len(excluded)} names "
               f"({s.benchmark.weights.reindex(excluded.ticker).sum():.2%} of the benchmark)")
    if comp is not None and comp.excluded:
        click.echo(f"  {labels.excluded_from_model(comp)}")
    if labels.keep_list_words(s):
        click.echo(f"  kept as they are (your keep list): {labels.keep_list_words(s)}")
    if kept and s.client.profile.target.account_size:
        managed = float((lots.shares * lots.ticker.map(s.prices)).sum()) + sum(
            a.cash for a in s.client.profile.accounts)
        click.echo(f"  shares at the account size: "
                   f"{labels.kept_shares_words(s.account_size, managed)}")
    with pd.option_context("display.max_rows", 40, "display.width", 120):
        click.echo(table.head(25).to_string(index=False))
    if out is not None:
        from pma_lab.files import write_csv

        write_csv(table, out, _inputs(profile, risk_model, benchmark, client=s.client))
        click.echo(f"wrote {out}")


@target.command("names-curve")
@_profile_opt
@_asof_opt
@click.option("--oos-from", type=int, default=2012, show_default=True, metavar="YEAR",
              help="First year of the out-of-sample estimation dates.")
@click.option("--oos-to", type=int, default=2024, show_default=True, metavar="YEAR",
              help="Last year (each date is followed by 12 months of holding).")
@click.option("--oos-step", type=int, default=2, show_default=True, metavar="YEARS",
              help="Years between out-of-sample dates (0: ex ante only).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of the curve.")
def target_names_curve(profile: Path, as_of: dt.date | None, oos_from: int, oos_to: int,
                       oos_step: int, out: Path | None) -> None:
    """Tracking error vs number of names (30 ... 500) for the client's screens."""
    from pma_lab.io.client import load_client
    from pma_lab.market.data import load_market
    from pma_lab.portfolio.research import names_curve
    from pma_lab.portfolio.screens import apply_screens

    c = load_client(profile, as_of=as_of)
    m = load_market()
    uni = m.universe.frame()
    elig = apply_screens(uni, c.profile.target_restrictions())
    ok = set(elig.buyable())
    dates = [f"{y}-01-03" for y in range(oos_from, oos_to + 1, oos_step)] if oos_step else []
    r = c.profile.restrictions
    curve = names_curve(c.as_of, uni.set_index("ticker").gics_sector,
                        eligible=lambda b: [t for t in b.weights.index if t in ok],
                        oos_dates=dates, sector_limits=dict(r.sector_max_weight) or None,
                        sector_tilts=dict(r.sector_tilts) or None, market=m,
                        progress=lambda msg: click.echo("  " + msg, err=True))
    with pd.option_context("display.width", 140, "display.float_format", "{:.4f}".format):
        click.echo(curve.to_string(index=False))
    if out is not None:
        from pma_lab.files import write_csv

        write_csv(curve, out, _inputs(profile, client=c))
        click.echo(f"wrote {out}")


# ----------------------------------------------------------------------------------- rebalance
_gamma_opt = click.option("--gamma-tax", type=float, default=None, metavar="WEIGHT",
                          help="Tax aversion (weight of tax, as a fraction of the account, "
                               "against tracking variance; default 1).")


@cli.command("rebalance")
@_lots_arg
@_profile_opt
@_asof_opt
@_gamma_opt
@_settings_opts
@_model_opts
@click.option("--account", default=None, metavar="ID",
              help="Taxable account id as the profile names it (default: the first).")
@click.option("--method", type=click.Choice([m.value for m in Method]),
              default="two_step", show_default=True, help="How the buy/sell choice is made.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for trades.csv, lot_trades.csv, decisions.csv, summary.csv, "
                   "checks.csv (every constraint with its limit and value).")
def rebalance(lots_files: tuple[Path, ...], profile: Path, as_of: dt.date | None,
              gamma_tax: float | None, account: str | None, method: str,
              out: Path | None, risk_model: Path | None = None, benchmark: Path | None = None,
              target_file: Path | None = None, **settings: object) -> None:
    """Propose lot-level trades toward the client's target, with the decision ledger.

    Trades are in whole shares (unless the profile's [trading] allows fractional ones) and
    no order is below [trading] min_trade_usd (default $250).

    This is one rebalance of one account toward the target, within the profile's
    [budgets] for this year. The proposal's "Trades proposed today" are the first step of
    the client's own plan ([transition]: a glide path or a yearly budget over several
    years, the household's other accounts solved around it), so they can differ; `pma-lab
    transition` shows that plan step by step.
    """
    from pma_lab.optimize.engine import default_settings, problem_for_client

    s = _setup(profile, as_of, lots_files,
               models=_models(risk_model, benchmark, target_file))
    settings = default_settings(s, **_overrides(gamma_tax=gamma_tax, **settings))
    prob = problem_for_client(s, account, settings)
    try:
        r = prob.solve(method)
    except InfeasibleError as e:
        raise InfeasibleError(_user_fix(str(e), prob, settings), e.conflicts) from e
    sm = r.summary
    from pma_lab.accounts import account_name

    where = account_name(s.client.profile.accounts, sm.account)  # as the proposal names it
    click.echo(f"Rebalance of the {where} for {s.client.client_id} as of {s.as_of} "
               f"(account ${sm.value:,.0f}, {sm.status}, {sm.method}, {sm.seconds:.2f} s)")
    # reviewer 1 (session 22): a service team running `rebalance` for "the trades" got a
    # list other than the proposal's, and the dashboard's, without noticing
    click.echo("  NOT the proposal's trades: one rebalance toward the target within this "
               "year's budgets. The proposal's trades today are the first step of the "
               "client's plan (its trade list, `pma-lab propose`; the plan step by step, "
               "`pma-lab transition`)")
    click.echo(f"  realised: ST {fmt_usd(sm.realized_st, 2)}, LT {fmt_usd(sm.realized_lt, 2)}; "
               f"tax {fmt_usd(sm.tax, 2)} ({sm.tax_pct:.2%} of the account; ledger-checked: "
               f"{bool(sm.ledger_checked)})")
    from pma_lab.report.labels import disallowed_words

    if washed := disallowed_words(sm):  # disallowed vs still deferred (reviewer 1, s25)
        click.echo(f"  {washed}")
    click.echo(f"  tracking error to target: {sm.te_before:.2%} -> {sm.te_after:.2%}; "
               f"turnover {sm.turnover:.2%}; names after {int(sm.names_after)}")
    if math.isfinite(float(sm.carryforward_st)):  # the proposal's and dashboard's words
        _carryforward_lines(s, r)
    counts = r.decisions.action.value_counts().to_dict()
    click.echo("  lots: " + (", ".join(f"{v} {k}" for k, v in counts.items())
                             or "none (the account holds cash only)"))
    if len(r.checks):
        bad = r.checks[~r.checks.ok]
        click.echo(f"  constraints: {len(r.checks) - len(bad)} of {len(r.checks)} hold"
                   + (" (" + ", ".join(bad.constraint) + " do not)" if len(bad) else "")
                   + f"; smallest order ${sm.smallest_order:,.0f}; "
                   + ("whole shares" if settings.whole_shares else "fractional shares"))
    from pma_lab.report.labels import forced_sales_note, over_target_note

    forced = forced_sales_note(r)  # the proposal's and dashboard's words
    if forced:
        click.echo(f"  {forced[0].upper()}{forced[1:]}.")
    over = over_target_note(r, s.target.weights)  # the proposal's and dashboard's words
    if over:
        click.echo(f"  {over[0].upper()}{over[1:]}.")
    with pd.option_context("display.max_rows", 40, "display.width", 140):
        click.echo(r.trades.head(30).to_string(index=False))
    if out is not None:
        from pma_lab.files import write_folder

        write_folder(out, {"trades.csv": _to_cents(r.trades),
                           "lot_trades.csv": _to_cents(r.lot_trades),
                           "decisions.csv": _to_cents(r.decisions),
                           "summary.csv": sm.to_series(cents=True).to_frame("value"),
                           "checks.csv": r.checks},
                     _inputs(profile, *lots_files, risk_model, benchmark, target_file,
                             client=s.client), index=["summary.csv"])
        click.echo(f"wrote {out}/{{trades,lot_trades,decisions,summary,checks}}.csv")


def _carryforward_lines(setup: object, result: object) -> None:
    """``pma-lab rebalance``'s loss carryforward rows: the tax return's, as the proposal's.

    A carryforward belongs to the return, not to an account: with several accounts the
    household is solved around the rebalance's trades (:func:`pma_lab.plan.household.
    around_trades`) and the rows are :func:`pma_lab.report.proposal.todays_carryforward`'s
    (every account's trades today, the return's carryforward without them), with the
    harvesting table's words when another taxable account sold; with one account, the
    rebalance's own. A household that cannot be solved leaves no figure: the dashboard's
    words (:data:`pma_lab.report.labels.CARRY_FAILED`) and the error.
    """
    from pma_lab.plan.household import around_trades
    from pma_lab.report.labels import CARRY_FAILED, carryforward_rows, loss_limit
    from pma_lab.report.proposal import todays_carryforward

    try:
        household = around_trades(setup, result)
    except (InfeasibleError, OptimizationError) as e:
        click.echo(f"  {CARRY_FAILED}.\n  The household: {e}")
        return
    carry, words = todays_carryforward(result.summary, household)
    carried = sum(setup.client.profile.carryforward_into(
        setup.as_of.year, f"the analysis date {setup.as_of}"))
    for label, usd in carryforward_rows(carry, setup.as_of.year, loss_limit(setup), carried):
        click.echo(f"  {label}: {fmt_usd(usd)}")
    if words:
        click.echo(f"  ({words[0].upper()}{words[1:]}.)")


def _user_fix(message: str, prob: object, settings: object) -> str:
    """An infeasible rebalance's message in what the user changes, with today's values.

    The engine names its settings (``RebalanceSettings.budgets``, ``...te_cap``); the
    command line's user changes ``[budgets]`` in the profile and ``--te-cap``. When both
    conflict, the lowest tracking error the budget reaches is solved and said (the cap at
    or above which the rebalance is feasible).
    """
    b = settings.budgets
    caps = ", ".join(f"{w} {fmt_usd(v)}" for w, v in (
        ("total", b.total), ("short_term", b.short_term), ("long_term", b.long_term))
        if v is not None)
    words = f"[budgets] in the profile (now {caps} a year)" if caps else \
        "[budgets] in the profile"
    message = message.replace("RebalanceSettings.budgets", words)
    if settings.te_cap is not None:
        reach = ""
        if caps:
            try:
                prob.update(replace(settings, te_cap=None))
                low = float(prob.solve().summary.te_after)
                reach = f"; within the budget the lowest tracking error is {low:.2%}"
            except PmaLabError:
                reach = ""
            finally:
                prob.update(settings)
        message = message.replace("RebalanceSettings.te_cap",
                                  f"--te-cap (now {settings.te_cap:.2%}{reach})")
    return message


@cli.command("frontier")
@_lots_arg
@_profile_opt
@_asof_opt
@click.option("--points", type=click.IntRange(3, 200), default=None, metavar="N",
              help="Rows in the table, the two ends included (default: the proposal's, "
                   "11).")
@click.option("--account", default=None, metavar="ID",
              help="Taxable account id as the profile names it (default: the first).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              metavar="N",
              help="Processes forked for the sweep: 2 solves the points in two warm chains "
                   "at once (about half the time on two idle cores).")
@_settings_opts
@_model_opts
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of the efficient points: tax_this_year, carryforward_created (and "
                   "_st, _lt), tax_economic, te and tax in percent (*_pct).")
def frontier(lots_files: tuple[Path, ...], profile: Path, as_of: dt.date | None,
             points: int | None, account: str | None, out: Path | None,
             risk_model: Path | None = None, benchmark: Path | None = None,
             target_file: Path | None = None, workers: int = 1, **settings: object) -> None:
    """The tax vs tracking-error frontier of one account (one compiled problem, swept).

    The proposal's table (the same points, labels, columns and figures): each efficient
    point's tracking error, tax this year (Schedule D, after the $3,000 loss limit, $1,500
    married filing separately), the loss carryforward it adds and the economic tax (the
    optimizer's: every gain and loss at its rate); points another point beats on TE and
    economic tax are dropped. "Your plan
    today" (the first step of the client's plan) is a row of the first taxable account's
    table when no setting is overridden, as in the proposal, its loss carryforward added
    the tax return's (a household's: every account's trades today around it). A household
    that cannot be solved leaves the row the account's own, the dashboard's words
    (:data:`pma_lab.report.labels.CARRY_FAILED`) and the error under the table.
    """
    from pma_lab.optimize.engine import default_settings
    from pma_lab.report import proposal as report
    from pma_lab.report import shelf

    s = _setup(profile, as_of, lots_files,
               models=_models(risk_model, benchmark, target_file))
    given = _overrides(**settings)
    f = report.frontier(s, report.FRONTIER_POINTS if points is None else points,
                        account=account,
                        settings=default_settings(s, **given) if given else None,
                        workers=workers)
    trades = household = failed = None
    if not given and report.is_plan_account(s, account):  # the proposal's plan row
        # the plan run's own first step, as the proposal's and pma-lab household's (never
        # solved apart from the run: one computation, the same figures)
        trades = report.plan_today(s)[1]
        # its loss carryforward added is the return's: the household solved around it,
        # as the proposal's (several accounts only); when it cannot be, the row is the
        # account's own and the dashboard's words say so under the table
        try:
            household = shelf.household(s, trades)
        except (InfeasibleError, OptimizationError) as e:
            failed = e
    click.echo(repr(report.frontier_table(f, s, trades, account=account,
                                          household=household)))
    if failed is not None:
        from pma_lab.report.labels import CARRY_FAILED

        click.echo(f"{CARRY_FAILED}.\n  The household: {failed}")
    dropped = len(f.all_points) - int(f.table.status.isin(["optimal", "optimal_inaccurate",
                                                           "current"]).sum())
    n = len(f.table)
    click.echo(f"{n} efficient point{'s' * (n != 1)} of {len(f.all_points)} solved in "
               f"{f.seconds:.1f} s ({dropped} dominated or identical dropped)")
    for a in f.assumptions:
        click.echo("  " + a)
    from pma_lab.optimize.frontier import dropped_note

    if dropped_note(f):  # the proposal's frontier section's words
        click.echo("  " + dropped_note(f))
    if out is not None:
        from pma_lab.files import write_csv

        write_csv(f.table, out, _inputs(profile, *lots_files, risk_model, benchmark,
                                        target_file, client=s.client))
        click.echo(f"wrote {out}")


# ----------------------------------------------------------------------------------- transition
def _plan_tables(analysis, benchmark) -> str:
    """The plan comparison as text, as the proposal and the dashboard show it.

    The proposal's tables (their headings, plan labels and cells come from
    :mod:`pma_lab.report.labels`): the comparison, the tracking error by year, more figures,
    and the client's plan year by year (its taxes on gains, interest and dividends).
    """
    from pma_lab.report import proposal as report

    return "\n\n".join(repr(t) for t in (report.comparison_table(analysis),
                                          report.te_years_table(analysis, benchmark),
                                          report.outcomes_table(analysis),
                                          report.yearly_table(analysis)))


def _check_plans(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    """The plans of ``--plans``, each parsed (so a typo stops here, before any work)."""
    from pma_lab.plan.plans import parse_plan, split_plans

    try:
        plans = split_plans(value)
    except PmaLabError as e:
        raise click.BadParameter(str(e), ctx, param) from None
    for p in plans:
        try:
            parse_plan(p)
        except PmaLabError as e:
            raise click.BadParameter(str(e), ctx, param) from None
    return plans


def _check_comparable(plans: tuple[str, ...], profile: Path) -> None:
    """Check that ``--plans``, read with the profile's gift, share one gift and cash flow.

    Done before the client is set up or anything solved (a mismatch used to be found after
    the setup, some 47 s into a run), and before the command imports the optimizer: the
    plans are parsed without cvxpy or scipy (:mod:`pma_lab.plan.plans`), which took
    17 s of a loaded machine's wall time to reject them (reviewer 1, session 25, #16).
    """
    from pma_lab.io.profile import load_profile
    from pma_lab.plan.plans import check_comparable, parse_plan

    prof = load_profile(profile)
    gift = prof.charity.annual_gift if prof.charity else 0.0
    try:
        check_comparable([parse_plan(p, gift) for p in plans])
    except PmaLabError as e:
        raise click.BadParameter(str(e), param_hint="'--plans'") from None


_plans_opt = click.option(
    "--plans", default=",".join(DEFAULT_PLANS), show_default=True, metavar="PLAN,PLAN,...",
    callback=_check_plans,
    help="Comma-separated plans to compare; the client's own plan, immediate and hold are "
         "always added. A plan is one of " + plan_grammar())
_years_opt = click.option("--years", type=click.IntRange(1, 30), default=DEFAULT_YEARS,
                          show_default=True, metavar="N",
                          help="Horizon of the plan comparison in years, 1 to 30.")


@cli.command("transition")
@_lots_arg
@_profile_opt
@_asof_opt
@_plans_opt
@_years_opt
@click.option("--annual", is_flag=True, help="Annual steps instead of quarterly.")
@click.option("--mc-paths", type=click.IntRange(0, 100000), default=1000, show_default=True,
              metavar="N",
              help="Monte Carlo paths from the factor risk model (0: none).")
@click.option("--seed", type=int, default=0, show_default=True, metavar="N",
              help="Seed of the Monte Carlo paths.")
@click.option("--vintages", type=click.IntRange(0, 200), default=0, show_default=True,
              metavar="N",
              help="Historical start dates (quarterly from 2005-01) replayed for research "
                   "only (hindsight and survivorship bias; never a recommendation).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              metavar="N",
              help="Processes for plans and paths.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for comparison.csv, yearly.csv, vintages.csv and analysis.json.")
@_model_opts
def transition(lots_files: tuple[Path, ...], profile: Path, as_of: dt.date | None,
               plans: tuple[str, ...],
               years: int, annual: bool, mc_paths: int, seed: int, vintages: int,
               workers: int, out: Path | None, risk_model: Path | None = None,
               benchmark: Path | None = None, target_file: Path | None = None) -> None:
    """Compare transition plans year by year: taxes, tracking error, after-tax wealth."""
    _check_comparable(plans, profile)  # first: the imports below pull in cvxpy and scipy
    from pma_lab.plan.failure import client_reason
    from pma_lab.plan.transition import TransitionSettings, run_transition
    from pma_lab.report import labels
    from pma_lab.report import proposal as report

    s = _setup(profile, as_of, lots_files,
               models=_models(risk_model, benchmark, target_file))
    settings = TransitionSettings(horizon_years=years, steps_per_year=1 if annual else 4,
                                  workers=workers, mc_paths=mc_paths, seed=seed)
    starts = [d.date() for d in pd.date_range("2005-01-01", periods=vintages, freq="QS")]
    a = run_transition(s, list(plans), settings, starts)
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        click.echo(f"Transition of {s.client.client_id} from {s.as_of} over {years} "
                   f"year{'s' if years != 1 else ''} ({a.seconds:.1f} s)\n")
        click.echo(_plan_tables(a, s.benchmark))
        flows = report.flows_note(a)  # page one's words on the plans' withdrawals and gifts
        if flows:
            click.echo("\n" + flows)
        from pma_lab.report import shelf

        band = shelf.band_unreached_note(s, a)  # page one's: the budget never reaches the band
        if band:
            click.echo("\n" + band)
        # the proposal's words: no "Against holding" (vs_hold); why: the stopped line below
        hold = report.hold_failed_note(a, reason=False)
        if hold:
            click.echo("\n" + hold)
        if len(a.vintages):  # its caption is the hindsight warning
            click.echo("\n" + repr(report.vintages_table(a)))
    for r in a.runs:
        if r.failed:
            # the client's words (the proposal's), then the engine's groups for the
            # service team (review 14, L7)
            why = client_reason(r.failure) if r.failure is not None else ""
            click.echo(f"  plan {labels.plan_name(r.plan)} on the {r.path} path stopped: "
                       + (f"{why} (details: {r.failed})" if why else str(r.failed)),
                       err=True)
    click.echo("\n" + repr(report.assumptions(a)))  # the proposal's words
    mine = a.comparison[a.comparison.is_client_plan.astype(bool)]
    if len(mine) and "failed" in mine and bool(mine.failed.iloc[0]):
        # the client's own plan stopped: said last, on its own line, not only among the
        # runs' lines above (review rev1: exit status 0 and the stop read as a detail)
        run = next(r for r in a.runs if r.plan.name == mine.plan.iloc[0]
                   and r.path == "expected")
        why = client_reason(run.failure) if run.failure is not None else str(run.failed)
        click.echo(f"WARNING: your plan, {labels.plan_name(run.plan)}, could not be "
                   f"completed, so its figures are not shown: {why}", err=True)
    if out is not None:
        from pma_lab.files import write_folder

        # a plan that could not be completed: no figures (empty / null), the reason kept
        comparison, yearly = a.comparison_shown(), a.yearly_shown()
        write_folder(out, {
            "comparison.csv": comparison, "yearly.csv": yearly,
            "vintages.csv": a.vintages, "analysis.json": {
                "client": s.client.client_id, "as_of": str(s.as_of),
                "assumptions": list(a.assumptions),
                "comparison": comparison.to_dict(orient="records"),
                "yearly": yearly.to_dict(orient="records"),
                "vintages": a.vintages.to_dict(orient="records")}},
            _inputs(profile, *lots_files, risk_model, benchmark, target_file, client=s.client))
        click.echo(f"wrote {out}/{{comparison,yearly,vintages}}.csv and analysis.json")


# ----------------------------------------------------------------------------------- proposals
FORMATS = ("html", "pdf")
"""The proposal's output formats (a PDF is printed from the HTML, which is kept)."""


def _formats(ctx: click.Context, param: click.Parameter, text: str) -> tuple[str, ...]:
    """``--format``: one or more of :data:`FORMATS`, comma-separated."""
    out = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise click.BadParameter(f"{text!r}: unknown format(s) {', '.join(bad) or '(none)'}; "
                                 "write html, pdf or html,pdf", ctx, param)
    return out


_formats_opt = click.option(
    "--format", "formats", default="html", show_default=True, callback=_formats,
    metavar="|".join((*FORMATS, ",".join(FORMATS))),
    help="Output formats, comma-separated: html, pdf or both (html,pdf; the PDF is printed "
         "from the HTML).")


_param_opt = click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
                          help="Extra notebook parameter (repeatable); unknown names are "
                               "errors.")


def _params(params: tuple[str, ...]) -> dict[str, str]:
    extra = {}
    for p in params:
        if "=" not in p:
            raise click.BadParameter(f"{p!r}: write NAME=VALUE", param_hint="--param")
        k, v = p.split("=", 1)
        extra[k.strip()] = v
    return extra


def _transition_params(extra: dict[str, str], plans: tuple[str, ...],
                       years: int) -> dict[str, object]:
    """``--plans`` and ``--years`` as the proposal notebook's ``plans`` and ``horizon_years``.

    Only the options given on the command line are passed (otherwise the notebook's own
    defaults, the same, apply); one also given as ``--param`` is refused.
    """
    from click.core import ParameterSource

    ctx = click.get_current_context()
    out: dict[str, object] = {}
    for option, name, value in (("plans", "plans", ",".join(plans)),
                                ("years", "horizon_years", years)):
        if ctx.get_parameter_source(option) is ParameterSource.DEFAULT:
            continue
        if name in extra:
            raise click.UsageError(f"--param {name}=... and --{option} both give the "
                                   f"notebook's {name}; give it once (--{option})")
        out[name] = value
    return out


def _model_params(extra: dict[str, str], risk_model: Path | None, benchmark: Path | None,
                  target_file: Path | None) -> dict[str, str]:
    """The model options as the proposal notebook's parameters, checked once here.

    The files are checked (:func:`pma_lab.io.models.check_model_files`) before any client
    runs, and their paths made absolute (the notebook runs in its own folder).
    """
    from pma_lab.io.models import check_model_files

    out = {}
    for name, path in (("risk_model_file", risk_model), ("benchmark_file", benchmark),
                       ("target_file", target_file)):
        if path is not None:
            if name in extra:
                raise click.UsageError(f"--param {name}=... and its option both give the "
                                       "file; give it once")
            out[name] = str(path.resolve())
    if out:
        check_model_files(risk_model=risk_model, benchmark=benchmark, target=target_file)
    return out


@cli.command("propose")
@_lots_arg
@_profile_opt
@_asof_opt
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the proposal (HTML/PDF), the executed notebook and the trades.")
@_formats_opt
@click.option("--paper", type=click.Choice(["letter", "a4"], case_sensitive=False),
              default="letter", show_default=True, help="Page size of the PDF.")
@_plans_opt
@_years_opt
@_model_opts
@_param_opt
def propose(lots_files: tuple[Path, ...], profile: Path, as_of: dt.date | None, out: Path,
            formats: tuple[str, ...], paper: str, plans: tuple[str, ...], years: int,
            params: tuple[str, ...], risk_model: Path | None = None,
            benchmark: Path | None = None, target_file: Path | None = None) -> None:
    """Render a client-ready proposal: papermill over notebooks/proposal.ipynb -> HTML/PDF.

    --plans and --years reach the notebook as its plans and horizon_years parameters (as
    pma-lab transition reads them); --risk-model, --benchmark and --target as its
    risk_model_file, benchmark_file and target_file; the proposal names the models it used.
    """
    _check_comparable(plans, profile)  # first: the import below pulls in cvxpy and scipy
    from pma_lab.report.proposal import render_proposal

    extra = _params(params)
    extra.update(_transition_params(extra, plans, years))
    extra.update(_model_params(extra, risk_model, benchmark, target_file))
    res = render_proposal(profile, out, lots=[str(f) for f in lots_files],
                          as_of=str(as_of) if as_of else None, formats=formats,
                          paper=paper, **extra)
    click.echo(f"proposal for {res.client_id} in {res.seconds:.1f} s:")
    for k in ("html", "pdf", "notebook", "trades_csv", "trades_xlsx"):
        v = getattr(res, k, None)
        if v:
            click.echo(f"  {k}: {v}")
    if res.warning:  # the client's plan cannot be completed: its trades are marked
        click.echo(f"{res.client_id}: {res.warning} (trade files: "
                   f"{res.trades_csv}, {res.trades_xlsx})", err=True)
    from pma_lab.io.profile import load_profile

    # the proposal tells the client in words; the profile key to settle is said here
    _service_notes(load_profile(profile).accounts, profile)


@cli.command("batch")
@click.argument("clients_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (one sub-folder per client, plus batch_summary.csv).")
@click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True,
              metavar="N",
              help="Local Dask worker processes.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Address of an existing Dask scheduler (tcp://host:8786) to use instead.")
@click.option("--skip-existing", is_flag=True,
              help="Skip clients whose outputs are complete (run_complete.json checks out).")
@click.option("--only-failed", is_flag=True,
              help="Run only the clients whose last status in batch_summary.csv is not ok.")
@_formats_opt
@_model_opts
@_param_opt
def batch(clients_dir: Path, out: Path, workers: int, scheduler: str | None,
          skip_existing: bool, only_failed: bool, formats: tuple[str, ...],
          params: tuple[str, ...], risk_model: Path | None = None,
          benchmark: Path | None = None, target_file: Path | None = None) -> None:
    """Proposals for every client under CLIENTS_DIR (*/profile.toml), in parallel.

    Inputs are validated first (model files given with --risk-model, --benchmark or
    --target too, once for every client); the summary keeps the rows of clients this run
    did not touch. The exit status is 1 when a client of this run failed.
    """
    from pma_lab.app.batch import SUMMARY_FILE, format_summary, run_batch

    extra = _params(params)
    extra.update(_model_params(extra, risk_model, benchmark, target_file))
    res = run_batch(clients_dir, out, workers=workers, scheduler=scheduler,
                    params={"formats": formats, **extra},
                    skip_existing=skip_existing, only_failed=only_failed)
    click.echo(format_summary(res.summary, res.out_dir))
    click.echo(f"{len(res.ran) - res.failed}/{len(res.ran)} clients of this run done in "
               f"{res.seconds:.0f} s ({len(res.summary)} in the summary)")
    click.echo(f"summary: {res.out_dir / SUMMARY_FILE}")
    if res.failed:
        sys.exit(1)


# ------------------------------------------------------------------------------- backtest
@cli.command("backtest")
@click.option("--profile", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Client profile: its ST/LT rates (default 35 %/15 %).")
@click.option("--start", default=None, callback=_date, metavar="YYYY-MM-DD",
              help="Start date (one path), e.g. 2005-01-03.")
@click.option("--starts", default=None, metavar="START:END:FREQUENCY",
              help="Rolling starts, e.g. 2000-01-03:2015-12-31:quarterly.")
@click.option("--years", type=click.IntRange(1, 30), default=10, show_default=True,
              metavar="N", help="Years each path runs.")
@click.option("--frequency", type=click.Choice(["daily", "weekly", "monthly", "quarterly",
                                                "annual"]), default="monthly",
              show_default=True, help="Harvest scan frequency.")
@click.option("--threshold", type=float, default=0.05, show_default=True, metavar="FRACTION",
              help="Harvest a lot at this loss (share of its basis).")
@click.option("--te-cap", type=float, default=0.02, show_default=True, metavar="FRACTION",
              help="Cap on the open swaps' estimated annualised TE.")
@click.option("--names", "n_names", type=click.IntRange(5), default=500,
              show_default=True, metavar="N", help="Names in the direct-indexed portfolio.")
@click.option("--no-outside-gains", is_flag=True,
              help="Losses only offset the portfolio's gains plus the yearly loss "
                   "limit ($3,000; $1,500 married filing separately).")
@click.option("--cost-bps", "trading_cost_bps", type=click.FloatRange(0, 500, max_open=True),
              default=0.0, show_default=True, metavar="BP",
              help="One-way trading cost in basis points of a trade's value (half the "
                   "spread plus commissions), in both accounts; 0: trades at the close.")
@click.option("--end-state", type=click.Choice(["liquidate", "step_up", "donate"]),
              default="liquidate", show_default=True,
              help="At the end: sell everything and pay the tax, a step-up in basis at "
                   "death (no tax), or donate the appreciated lots and sell the rest.")
@click.option("--workers", type=int, default=0, metavar="N",
              help="Run the starts on a local Dask cluster.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Address of an existing Dask scheduler to use instead.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for summary.json, starts.csv and paths.csv.")
def backtest(profile: Path | None, start: dt.date | None, starts: str | None, years: int,
             frequency: str, threshold: float, te_cap: float, n_names: int,
             no_outside_gains: bool, trading_cost_bps: float, end_state: str,
             workers: int, scheduler: str | None, out: Path) -> None:
    """Tax-loss-harvesting backtest: summary.json, starts.csv and paths.csv in OUT."""
    from pma_lab.formatting import fmt_pct
    from pma_lab.market.data import load_market
    from pma_lab.plan.backtest import BacktestSettings
    from pma_lab.plan.taxalpha import (
        parse_starts,
        parts_text,
        rolling_study,
        spread_text,
        write_study,
    )

    if (start is None) == (starts is None):
        raise click.UsageError("give exactly one of --start DATE or --starts START:END:FREQ")
    rates = {}
    if profile is not None:
        from pma_lab.io.profile import load_profile

        tax = load_profile(profile).tax
        rates = {"st_rate": tax.st_rate, "lt_rate": tax.lt_rate,
                 "dividend_rate": tax.lt_rate, "ordinary_rate": tax.st_rate}
    cal = load_market().prices.calendar
    dates = [pd.Timestamp(start)] if start else parse_starts(str(starts), cal)
    base = BacktestSettings(start=dates[0], years=years, frequency=frequency,
                            threshold=threshold, te_cap=te_cap, n_names=n_names,
                            outside_gains=not no_outside_gains, end_state=end_state,
                            trading_cost_bps=trading_cost_bps, **rates)
    res = rolling_study(base, dates, workers=workers, scheduler=scheduler)
    write_study(res, out)
    sm = res.summary
    click.echo(f"{sm['starts']} start(s): tax alpha median "
               f"{fmt_pct(sm['tax_alpha_annual_median'])} a year ({spread_text(sm)}): "
               f"{parts_text(sm)}; wash-sale violations "
               f"{sm['wash_sale_violations']}")
    click.echo(f"summary: {out / 'summary.json'}")


# ----------------------------------------------------------------------------------- data
@cli.command("ladder")
@click.option("--kind", type=click.Choice(["treasury", "muni"]), required=True,
              help="Treasury ladder (par curve) or municipal ladder (modelled yields).")
@click.option("--years", type=click.Choice(["1-5", "1-10"]), required=True,
              help="Rungs maturing every year from 1 to 5 or 1 to 10 years.")
@click.option("--amount", type=click.FloatRange(min=0, min_open=True, max=1e12), metavar="USD",
              required=True, help="USD to invest, split equally across the rungs.")
@_asof_opt
@_profile_opt
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV, one row per rung: maturity, amount (USD), coupon, yield, "
                   "tax_equivalent_yield (percent), and yield_basis (the curve's date; for "
                   "munis that the yields are modelled).")
def ladder(kind: str, years: str, amount: float, as_of: dt.date | None, profile: Path,
           out: Path | None) -> None:
    """A Treasury or muni ladder at the client's tax rates (see pma_lab.portfolio.ladder).

    Treasury yields are the packaged par curve's last curve on or before the date (the
    curve ends 2025-07-11); muni yields are modelled as a ratio of them
    ([fixed_income] muni_ratio in the profile, default 80 %).
    """
    from pma_lab.io.profile import load_profile
    from pma_lab.portfolio.ladder import LadderSettings, build_ladder

    prof = load_profile(profile)
    day = as_of or prof.as_of
    if day is None:
        raise DataError(f"{profile}: no as_of; pass --as-of YYYY-MM-DD or set client.as_of")
    fi = prof.fixed_income
    settings = LadderSettings() if fi is None else LadderSettings(
        **({"muni_ratio": fi.muni_ratio} if fi.muni_ratio is not None else {}),
        in_state=fi.in_state)
    lad = build_ladder(kind, years, amount, day, prof.tax, settings)
    click.echo(f"{kind.capitalize()} ladder {years} years for {prof.client_id} as of {day}: "
               f"{fmt_usd(lad.invested)} in {lad.years} rungs")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        click.echo(lad.display_table().to_string(index=False))
    click.echo(f"  yield {fmt_pct(lad.yield_)}, tax-equivalent {fmt_pct(lad.tax_equivalent_yield)}"
               f", duration {lad.duration:.2f} years (modified {lad.modified_duration:.2f})")
    click.echo("Cash flows by year (before reinvesting maturing rungs; each year's interest "
               "taxed at the rates that year's interest reaches):")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        click.echo(lad.display_cash_flows().to_string(index=False))
    for n in lad.notes:
        click.echo("  " + n)
    if out is not None:
        from pma_lab.files import write_csv

        write_csv(lad.to_csv_frame(), out, _inputs(profile))
        click.echo(f"wrote {out}")


def _client_units(frame: pd.DataFrame) -> pd.DataFrame:
    """A result table in client units for a CSV, as the trade files write them.

    ``shares`` whole numbers without a decimal point when every row is whole (else 6
    decimals), ``price`` 4 decimals, every other float column dollars to the cent (no
    ``43442.700000000004``). Text columns are left as they are.
    """
    out = frame.copy()
    for c in out.columns:
        if not pd.api.types.is_float_dtype(out[c]):
            continue
        if c == "shares":
            whole = out[c].dropna().round(6)
            out[c] = (out[c].round().astype("Int64") if (whole == whole.round()).all()
                      else out[c].round(6))
        else:
            out[c] = out[c].round(4 if c == "price" else 2)
    return out


@cli.command("household")
@_lots_arg
@_profile_opt
@_asof_opt
@_model_opts
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for trades.csv (every account's orders), lot_sales.csv, "
                   "accounts.csv (cash, trades and asset location by account), summary.csv; "
                   "their kind is each account's as the profile states it (ira: an IRA "
                   "without ira_kind), taxed_as how the plan taxes it.")
@click.option("--annual", is_flag=True,
              help="Annual plan steps, as a proposal rendered with --param "
                   "annual_steps=true; default quarterly, as pma-lab propose, pma-lab demo "
                   "and the dashboard.")
def household(lots_files: tuple[Path, ...], profile: Path, as_of: dt.date | None,
              out: Path | None, annual: bool = False, risk_model: Path | None = None,
              benchmark: Path | None = None, target_file: Path | None = None) -> None:
    """One rebalance across every account of the profile (taxable, traditional IRA, Roth).

    The (first) taxable account's trades are the first step of the client's plan
    ([transition], else [budgets]; the proposal's 5-year quarterly settings), kept as they
    are; the other accounts are traded around them, and none buys a stock the plan sells at
    a loss. Another taxable account's trades today are netted with the plan's year on the
    one return (the gains budget, the tax rows). With --annual the plan has one step a
    year, as a proposal rendered with --param annual_steps=true: the figures are then that
    proposal's. Prints that trade list and the tables of the proposal's household section
    (the same labels and figures): the household's tracking error, the tax this year of every
    account's trades today and how it adds up to the plan's "Tax this year" (page 1 of the
    proposal), asset location by account, the retirement accounts' trades and how
    the plan was computed. Needs a profile with two or more [[accounts]].
    """
    from pma_lab.errors import SettingsError
    from pma_lab.plan.transition import client_plan
    from pma_lab.report import proposal as report
    from pma_lab.report import shelf

    s = _setup(profile, as_of, lots_files, models=_models(risk_model, benchmark, target_file))
    if len(s.client.profile.accounts) < 2:
        raise SettingsError(f"{profile}: the profile has one account; a household rebalance "
                            "needs two or more [[accounts]] (use pma-lab rebalance)")
    # page 1's "Tax this year" of the plan: its expected path with the proposal's steps
    # (report.transition_settings: quarterly, or annual with --annual), its
    # first year only (the horizon sets only how many steps follow; no Monte Carlo paths:
    # neither changes the first year's tax, and this takes a third of the time): the
    # section adds today's trades' tax up to it
    if not s.taxable_accounts():
        from pma_lab.optimize.engine import no_taxable_account

        raise no_taxable_account(s, "for a household rebalance")
    mine = client_plan(s)
    # the client's plan's first step with the proposal's settings (its trades today), kept
    # as they are: the household trades the retirement accounts around them; the first
    # year's run is page 1's "Tax this year" (report.plan_today, as pma-lab frontier)
    plan_run, trades = report.plan_today(s, annual)
    r = shelf.household(s, trades, mine)
    click.echo(f"Household rebalance for {s.client.client_id} as of {s.as_of} "
               f"({len(r.accounts)} accounts, ${r.accounts.value.sum():,.0f}; {r.status}, "
               f"{r.seconds:.2f} s; the plan's {'annual' if annual else 'quarterly'} "
               f"steps, as in {'a proposal with annual_steps=true' if annual else 'the proposal'}"
               ")\n")
    year_tax = shelf.household_year_tax(s, plan_run, r)  # every taxable account's trades
    view = shelf.household_view(r, year_tax)
    click.echo("\n\n".join([view.intro, repr(report.trade_list(trades)),
                             *(repr(part) for part in view.parts)]))
    if out is not None:
        from pma_lab.files import write_folder

        accounts = r.accounts.merge(r.location[["account", "cost_before", "cost_after"]],
                                    on="account", how="left")
        if not (accounts.min_cash > 0).any():  # the column when an account keeps a floor
            accounts = accounts.drop(columns="min_cash")
        write_folder(out, {"trades.csv": _client_units(r.trades),
                           "lot_sales.csv": _client_units(r.lot_sales),
                           "accounts.csv": _client_units(accounts),
                           "summary.csv": _household_summary(r, year_tax)},
                     _inputs(profile, *lots_files, risk_model, benchmark, target_file,
                             client=s.client), index=["summary.csv"])
        click.echo(f"wrote {out}/{{trades,lot_sales,accounts,summary}}.csv")


def _household_summary(r, year_tax) -> pd.DataFrame:
    """summary.csv of ``pma-lab household``.

    The result's headline figures and the plan's tax for the year (the printed "Tax this
    year" in dollars); with other taxable accounts (:class:`~pma_lab.report.shelf.
    HouseholdYearTax`) also that year with their trades today netted in.
    """
    s = r.summary()
    # named by what it is: the economic tax (every gain and loss at its rate), the printed
    # "Economic tax" row; the Schedule D tax of today's trades is tax_of_todays_trades_usd
    s = s.rename({"tax_estimate_usd": "economic_tax_usd"})
    if year_tax is not None:
        s["plan_tax_this_year_usd"] = float(getattr(year_tax, "plan_total", year_tax.total))
        if getattr(year_tax, "others", ""):  # the plan's year with the other accounts' trades
            s["plan_and_other_taxable_accounts_tax_this_year_usd"] = float(year_tax.total)
    # money to the cent, as the other files (no 19108.960000000003)
    for k in s.index:
        if str(k).endswith("_usd") and isinstance(s[k], (float, int)):
            s[k] = round(float(s[k]), 2)
    return s.to_frame("value")


@cli.command("data")
def data_info() -> None:
    """Describe the packaged market data (coverage per file)."""
    from pma_lab.market.data import load_market

    m = load_market()
    click.echo(f"market data in {m.data_dir}")
    click.echo(f"  universe: {len(m.universe.tickers)} tickers")
    click.echo(f"  stock prices: {len(m.prices.tickers)} tickers, "
               f"{m.prices.first_date:%Y-%m-%d} .. {m.prices.last_date:%Y-%m-%d}")
    click.echo(f"  ETF prices: {len(m.etfs.tickers)} funds, {m.etfs.first_date:%Y-%m-%d} .. "
               f"{m.etfs.last_date:%Y-%m-%d}")
    click.echo(f"  S&P 500 index: {m.index.first_date:%Y-%m-%d} .. {m.index.last_date:%Y-%m-%d}")
    click.echo(f"  Treasury par curve: {m.treasury.first_date:%Y-%m-%d} .. "
               f"{m.treasury.last_date:%Y-%m-%d}")
    click.echo("  see DATA_CARD.md there for sources, licenses and known issues")


# ----------------------------------------------------------------------------------- demo
DEMO_OUT = Path("pma_lab_demo")
"""``pma-lab demo``'s output folder when ``--out`` is not given: relative to the current
folder, never inside the installed package or the source tree."""


@cli.command("demo")
@click.option("--clients", "clients_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, metavar="FOLDER",
              help="Folder of clients, one sub-folder with a profile.toml each (default: the "
                   "sample clients shipped with pma_lab; $PMA_LAB_DATA/clients when that "
                   "variable is set).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEMO_OUT,
              metavar="FOLDER",
              help=f"Where to write each client's outputs (default: ./{DEMO_OUT} in the "
                   "current folder).")
def demo(clients_dir: Path | None, out: Path) -> None:
    """Run the main job over every sample client and say where the outputs are."""
    from pma_lab.app.demo import run_demo

    sys.exit(run_demo(clients_dir, out))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the CLI, turning pma_lab errors into clear messages and exit codes."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="pma-lab",
                 standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except DataError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except PmaLabError as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except SystemExit as e:
        return int(e.code or 0)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
