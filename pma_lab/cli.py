"""The ``pma-lab`` command line.

Every subcommand has ``--help``. Input errors exit with status 2 and print every problem
found (file, row, column, value, fix); other failures exit with status 1.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import click
import pandas as pd

from pma_lab import __version__
from pma_lab.errors import DataError, PmaLabError

__all__ = ["main", "cli"]


def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD") from None


def _warn(issues: Sequence) -> None:
    for i in issues:
        click.echo("  " + i.format(), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="pma-lab")
def cli() -> None:
    """pma_lab: tax-aware direct indexing workbench (lots, tax engine, proposals)."""


# ----------------------------------------------------------------------------------- lots
@cli.group()
def lots() -> None:
    """Validate and summarise a client's tax lots."""


_profile_opt = click.option("--profile", "profile", required=True,
                            type=click.Path(dir_okay=False, path_type=Path),
                            help="Client profile (TOML).")
_asof_opt = click.option("--as-of", "as_of", callback=_date, default=None,
                         help="Analysis date YYYY-MM-DD (default: the profile's client.as_of).")
_order_opt = click.option("--date-order", type=click.Choice(["MDY", "DMY"]), default=None,
                          help="How to read slash dates like 03/04/2024 (overrides the profile).")


@lots.command("validate")
@click.argument("lots_files", nargs=-1, type=click.Path(path_type=Path))
@_profile_opt
@_asof_opt
@_order_opt
def lots_validate(lots_files: tuple[Path, ...], profile: Path, as_of: dt.date | None,
                  date_order: str | None) -> None:
    """Check LOTS_FILES (default: the profile's lots files) and report every problem."""
    from pma_lab.client import load_client

    c = load_client(profile, as_of=as_of, lots_files=lots_files or None, date_order=date_order)
    click.echo(f"OK: {len(c.lots)} lots in {len(c.lots.sources)} file(s) for client "
               f"{c.client_id} as of {c.as_of}; {len(c.warnings)} warning(s)")
    _warn(c.warnings)


@lots.command("summarize")
@click.argument("lots_files", nargs=-1, type=click.Path(path_type=Path))
@_profile_opt
@_asof_opt
@_order_opt
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write lots.csv, holdings.csv, turning_long_term.csv, locks.csv.")
def lots_summarize(lots_files: tuple[Path, ...], profile: Path, as_of: dt.date | None,
                   date_order: str | None, out: Path | None) -> None:
    """Holdings, unrealised ST/LT gain by lot, lots turning long-term, do-not-buy dates.

    LOTS_FILES default to the files named in the profile.
    """
    from pma_lab.client import load_client
    from pma_lab.holdings import summarize_lots

    c = load_client(profile, as_of=as_of, lots_files=lots_files or None, date_order=date_order)
    s = summarize_lots(c)
    if c.warnings:
        click.echo(f"{len(c.warnings)} warning(s) while reading the inputs:", err=True)
        _warn(c.warnings)
    click.echo(s.to_text())
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("lots", "holdings", "turning_long_term", "locks", "realized"):
            getattr(s, name).to_csv(out / f"{name}.csv", index=False)
        click.echo(f"\nwrote {out}/{{lots,holdings,turning_long_term,locks,realized}}.csv")


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

    TRADES columns: date, account, account_type (taxable/ira), ticker, side (buy/sell),
    shares, price, optional lot_id (specific identification), optional method
    (fifo/hifo/specific/min_tax), optional fees.
    """
    from pma_lab.ingest import read_blotter, read_lots
    from pma_lab.ledger import replay
    from pma_lab.profile import load_profile
    from pma_lab.tax import TaxProfile, yearly_netting
    from pma_lab.taxrules import FilingStatus

    blotter = read_blotter(trades, date_order=date_order)
    accounts = {a.account_id: a for a in blotter.accounts}
    carry = (Decimal(0), Decimal(0))
    if profile is not None:
        prof = load_profile(profile)
        for a in prof.ledger_accounts():
            accounts[a.account_id] = a
        tax = prof.tax
        carry = (Decimal(str(prof.carryforward_st)), Decimal(str(prof.carryforward_lt)))
    else:
        tax = TaxProfile.from_rates(0.0, 0.0, FilingStatus(filing_status or "mfj"))
    opening: list[dict] = []
    if lots_file is not None:
        end = max(t.date for t in blotter.trades)
        default = next(iter(accounts)) if len(accounts) == 1 else None
        ls = read_lots(lots_file, as_of=end, accounts=list(accounts),
                       default_account=default, date_order=date_order)
        for r in ls.lots.itertuples():
            opening.append(dict(account=r.account, ticker=r.ticker,
                                shares=Decimal(repr(float(r.shares))),
                                basis=Decimal(repr(float(r.cost_total))),
                                acquired=r.acquired.date(), lot_id=r.lot_id,
                                inherited=bool(r.inherited)))
    led = replay(blotter.trades, accounts.values(), opening)
    disp = led.dispositions(as_decimal=True)
    net = yearly_netting(disp, tax, *carry)
    if blotter.warnings:
        _warn(blotter.warnings)
    with pd.option_context("display.max_rows", 200, "display.width", 160):
        click.echo(f"Form 8949 rows ({len(disp)} dispositions, "
                   f"{int((disp.adjustment_code == 'W').sum())} wash sales):")
        click.echo(disp.drop(columns=["source_row"]).to_string(index=False))
        click.echo("\nYearly netting (Schedule D; carryovers keep their character):")
        shown = net if profile is not None else net.drop(columns=["tax"])
        click.echo(shown.to_string(index=False))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        disp.to_csv(out, index=False)
        net_path = out.with_suffix(".netting.csv")
        net.to_csv(net_path, index=False)
        click.echo(f"\nwrote {out} and {net_path}")


# ----------------------------------------------------------------------------------- data
@cli.command("data")
def data_info() -> None:
    """Describe the packaged market data (coverage per file)."""
    from pma_lab.market import load_market

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
@cli.command("demo")
@click.option("--clients", "clients_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder of clients (default: data/samples/clients).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"),
              show_default=True, help="Where to write each client's outputs.")
def demo(clients_dir: Path | None, out: Path) -> None:
    """Run the main job over every sample client and say where the outputs are."""
    from pma_lab.demo import run_demo

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
