"""A researcher's own models from files: a risk model, a benchmark and a target.

The command line's ``--risk-model``, ``--benchmark`` and ``--target`` (and the proposal
notebook's ``risk_model_file``, ``benchmark_file`` and ``target_file``) are read here into
the plug-in types :func:`pma_lab.optimize.engine.prepare` takes, checked as strictly as a
lots file: every problem in a file is listed at once with its file, row, column, value and
fix (:class:`~pma_lab.errors.ModelFileError`), and nothing is repaired silently (weights
are never renormalised, a covariance is never made positive semidefinite for you).

File formats (CSV in UTF-8, or XLSX; the header is row 1):

* **Risk model, a covariance matrix** (one file): annualised covariances of returns as
  fractions (a 20 % volatility is a variance of 0.04). The first column holds the tickers,
  the header row the same tickers (any order); the matrix is symmetric and positive
  semidefinite. Read into :meth:`RiskModel.from_covariance
  <pma_lab.portfolio.risk.RiskModel.from_covariance>`.
* **Risk model, a factor model** (a folder, or one XLSX workbook with these sheets):
  ``loadings`` (tickers x factors: first column the tickers, header the factor names),
  ``factor_cov`` (factors x factors, annualised, symmetric, positive semidefinite) and
  ``specific_var`` (columns ``ticker``, ``specific_var``: annualised variances >= 0), as
  ``loadings.csv``, ``factor_cov.csv`` and ``specific_var.csv`` (or ``.xlsx``) in the
  folder. Read into :meth:`RiskModel.from_factors
  <pma_lab.portfolio.risk.RiskModel.from_factors>`.
* **Benchmark**: ``ticker, weight[, date]`` (:func:`pma_lab.market.benchmark.
  read_benchmark_weights`; with dates, the latest on or before the client's date is used).
  Read into a :class:`~pma_lab.market.benchmark.Benchmark`.
* **Target**: ``ticker, weight`` (one set of weights, no dates). Read into weights by
  ticker, which :func:`~pma_lab.optimize.engine.prepare` checks against the client's
  screens.

Every ticker must be one pma_lab has prices for (``pma-lab data``); with a risk-model file,
every name of the benchmark and the target must also be in the risk model.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pma_lab.errors import (
    BenchmarkFileError,
    DataError,
    InputError,
    Issue,
    ModelFileError,
    SettingsError,
    Severity,
)
from pma_lab.market.benchmark import Benchmark, benchmark_from_file, read_benchmark_weights
from pma_lab.market.tickers import normalize_ticker
from pma_lab.portfolio.risk import MAX_VOLATILITY, MIN_VOLATILITY, RiskModel
from pma_lab.schema import Field
from pma_lab.tables import header_names, map_columns, read_table

__all__ = ["ModelFiles", "read_models", "check_model_files", "check_active_model",
           "check_active_model_prices",
           "read_risk_model", "read_target_weights",
           "FACTOR_FILES", "MAX_VOLATILITY", "MIN_VOLATILITY"]

FACTOR_FILES = ("loadings", "factor_cov", "specific_var")
"""The three parts of a factor model: files in a folder, or sheets of one workbook."""
_SUFFIXES = (".csv", ".xlsx")
_LABEL = (Field("ticker", False, ("symbol", "factor", "name"), "the row's label"),)
_SPECIFIC_FIELDS: tuple[Field, ...] = (
    Field("ticker", True, ("symbol", "ticker symbol"), "exchange ticker, e.g. AAPL"),
    Field("specific_var", True, ("specific variance", "variance", "residual variance",
                                 "idiosyncratic variance", "specific_risk_var"),
          "annualised specific variance as a fraction (0.04 for 20 % volatility)"),
)
_UNKNOWN = ("check the symbol; pma_lab has prices for S&P 500 stocks and the packaged ETFs "
            "only (pma-lab data), and a model's names must have prices")
_TOL = 1e-10  # symmetry and PSD tolerance, relative to the largest entry (as RiskModel)


@dataclass(frozen=True)
class ModelFiles:
    """The models read from a researcher's files (``None``: not given, pma_lab's own).

    Attributes
    ----------
    risk : RiskModel | None
        From ``--risk-model``: a covariance matrix or a factor model, undated (it is taken
        as of the client's date).
    benchmark : Benchmark | None
        From ``--benchmark``, at the client's date.
    target : pd.Series | None
        From ``--target``: weights by ticker, summing to 1 (never rescaled).
    files : Mapping[str, Path]
        The file (or folder) each model came from, by ``risk``/``benchmark``/``target``.
    kinds : Mapping[str, str]
        ``risk``: ``"covariance"`` or ``"factor"``.
    """

    risk: RiskModel | None = None
    benchmark: Benchmark | None = None
    target: pd.Series | None = None
    files: Mapping[str, Path] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)

    def prepare_args(self) -> dict[str, object]:
        """Keyword arguments for :func:`pma_lab.optimize.engine.prepare` (given models only)."""
        return {k: v for k, v in (("risk", self.risk), ("benchmark", self.benchmark),
                                  ("target", self.target)) if v is not None}

    def describe(self) -> dict[str, str]:
        """Each model given, in words: ``{"risk": "your covariance matrix (cov.csv, ...)"}``."""
        out = {}
        if self.risk is not None:
            what = ("your covariance matrix" if self.kinds.get("risk") == "covariance"
                    else f"your factor model ({len(self.risk.factors)} factors)")
            out["risk"] = f"{what}, {self.files['risk'].name} ({len(self.risk.tickers)} stocks)"
        if self.benchmark is not None:
            out["benchmark"] = (f"your benchmark weights, {self.files['benchmark'].name} "
                                f"({len(self.benchmark.weights)} stocks)")
        if self.target is not None:
            out["target"] = (f"your target weights, {self.files['target'].name} "
                             f"({int((self.target > 0).sum())} stocks)")
        return out


def read_models(*, risk_model: str | Path | None = None, benchmark: str | Path | None = None,
                target: str | Path | None = None, as_of: dt.date | str,
                known: Collection[str] | None = None, client: object | None = None,
                kept_today: Callable | None = None) -> ModelFiles:
    """Read a researcher's risk model, benchmark and target files (each optional).

    Parameters
    ----------
    risk_model : str | Path | None
        A covariance matrix file (CSV/XLSX), or a factor model: a folder holding
        ``loadings``, ``factor_cov`` and ``specific_var`` (CSV or XLSX each), or one XLSX
        workbook with sheets of those names (see the module docs for the layouts).
    benchmark : str | Path | None
        Benchmark weights (``ticker, weight[, date]``).
    target : str | Path | None
        Target weights (``ticker, weight``).
    as_of : datetime.date | str
        The client's date: a dated benchmark's weights in force on it are used.
    known : Collection[str] | None
        Tickers accepted (default: those pma_lab has prices for).
    client : Client | None
        The client: a target's names must be ones its screens let it buy (each other one
        is reported with its row and the screen that excludes it).
    kept_today : Callable | None
        :func:`pma_lab.optimize.engine.kept_weights_today` (the app layer passes it: io
        does not import optimize): with it a target may list a keep-list name the client
        holds at today's weight or more, as ``prepare(target=...)`` accepts; without it
        such a name is refused as screened out.

    Returns
    -------
    ModelFiles

    Raises
    ------
    ModelFileError
        Listing every problem of every bad file (file, row, column, value, fix). A
        benchmark file's problems alone are a :class:`~pma_lab.errors.BenchmarkFileError`
        (a ModelFileError); several files' are one ModelFileError naming them all.
    """
    if known is None:
        from pma_lab.market.data import known_tickers

        known = known_tickers()
    risk = kind = None
    files: dict[str, Path] = {}
    errors = _Errors()
    if risk_model is not None:
        with errors.reading(risk_model):
            risk, kind = read_risk_model(risk_model, known=known)
            files["risk"] = Path(risk_model)
    covered = set(risk.tickers) if risk is not None else None
    bench = None
    if benchmark is not None:
        with errors.reading(benchmark):
            df = read_benchmark_weights(benchmark, known)  # BenchmarkFileError, every problem
            _check_covered(benchmark, df, covered, "benchmark weights", BenchmarkFileError)
            bench = benchmark_from_file(benchmark, as_of, known)
            files["benchmark"] = Path(benchmark)
    tgt = None
    if target is not None:
        with errors.reading(target):
            not_buyable, kept = (None, None) if client is None else \
                _keep_rules(client, covered, kept_today)
            tgt = read_target_weights(target, known=known, covered=covered,
                                      not_buyable=not_buyable, kept=kept)
            files["target"] = Path(target)
    errors.raise_any()
    return ModelFiles(risk, bench, tgt, files, {"risk": kind} if kind else {})


class _Errors:
    """Every bad model file's problems, raised together (reviewer 1, session 21).

    Used as ``with errors.reading(path):`` around each file's reading: a
    :class:`ModelFileError` (or another input error, a :class:`~pma_lab.errors.DataError`,
    such as missing prices) is kept and the next file is read, so a risk model with a
    problem does not hide the benchmark's or the target's until it is fixed. When the risk
    model is refused, the benchmark and target are still checked against the tickers
    pma_lab knows (their coverage by the risk model is checked once it reads).
    :meth:`raise_any` re-raises a single file's error as it was (a
    :class:`BenchmarkFileError` stays one) and several files' as one
    :class:`ModelFileError` listing every problem, each naming its file, row and column.
    """

    def __init__(self) -> None:
        self.caught: list[DataError] = []
        self.files: list[str] = []  # the file each caught error is about
        self.file = ""

    def __enter__(self) -> _Errors:
        return self

    def __exit__(self, kind: type | None, err: BaseException | None, tb: object) -> bool:
        if isinstance(err, DataError):
            # session 23 (reviewer 2, session 22): a file's other input error (a
            # MarketDataError, a PriceDataError) stopped the reading and dropped the
            # problems caught before it; it is kept with them
            self.caught.append(err)
            self.files.append(self.file)
            return True
        return False

    def reading(self, path: str | Path) -> _Errors:
        """``with errors.reading(path):`` around reading the file at ``path``."""
        self.file = str(path)
        return self

    def raise_any(self) -> None:
        """Raise the caught errors (nothing when every file was read)."""
        if len(self.caught) == 1:
            raise self.caught[0]
        if self.caught:
            kinds = [getattr(e, "kind", "model") for e in self.caught]
            issues = [i for e, f in zip(self.caught, self.files, strict=True)
                      for i in (e.issues if isinstance(e, InputError) else [Issue(
                          f, None, None, None, str(e), "correct the file as the message says",
                          Severity.ERROR, "unusable_file")])]
            raise ModelFileError(", ".join(getattr(e, "source", f) for e, f in
                                           zip(self.caught, self.files, strict=True)),
                                 issues, kind=", ".join(kinds[:-1]) + " and " + kinds[-1],
                                 files=len(self.caught)) from None


def check_model_files(*, risk_model: str | Path | None = None,
                      benchmark: str | Path | None = None, target: str | Path | None = None,
                      known: Collection[str] | None = None) -> None:
    """Check the files as :func:`read_models` does, before the client's date is known.

    Every check but the choice of a dated benchmark's weights (which needs the date) runs,
    so a proposal (:func:`pma_lab.report.proposal.render_proposal`) refuses a bad file
    before its notebook kernel starts.

    Raises
    ------
    ModelFileError
        As :func:`read_models` does.
    """
    if known is None:
        from pma_lab.market.data import known_tickers

        known = known_tickers()
    covered = None
    errors = _Errors()
    if risk_model is not None:
        with errors.reading(risk_model):
            covered = set(read_risk_model(risk_model, known=known)[0].tickers)
    if benchmark is not None:
        with errors.reading(benchmark):
            df = read_benchmark_weights(benchmark, known)
            _check_covered(benchmark, df, covered, "benchmark weights", BenchmarkFileError)
    if target is not None:
        with errors.reading(target):
            read_target_weights(target, known=known, covered=covered)
    errors.raise_any()


def check_active_model(path: str | Path, as_of: dt.date | str, covered: Collection[str],
                       why: Callable[[list[str]], Mapping[str, str]] | None = None,
                       known: Collection[str] | None = None) -> pd.DataFrame:
    """Check that every version of an active model file the client may hold is covered.

    An active + index core holds the version in force on the client's date and trades to
    each later one inside a plan's horizon (:func:`pma_lab.plan.coremodel.core_updates`),
    all with the risk model, sectors and prices of the client's date. So every name of
    those versions (earlier ones are history, never held) must be one that risk model
    covers: checked here, when the client is prepared
    (:func:`pma_lab.optimize.engine.prepare`), not when a plan reaches the version.
    Nothing is dropped: a version's weights are used as written or not at all.

    Parameters
    ----------
    path : str | Path
        The model file (``date, ticker, weight``; a file without dates is one version).
    as_of : datetime.date | str
        The client's date.
    covered : Collection[str]
        The tickers the client's risk model covers.
    why : callable | None
        ``why(tickers) -> {ticker: reason}``: why each is not covered, in words
        (:func:`pma_lab.portfolio.risk.not_modelled` for the packaged risk model).
    known : Collection[str] | None
        Tickers accepted by the file reader (default: those pma_lab has prices for).

    Returns
    -------
    pd.DataFrame
        The file's rows (:func:`pma_lab.market.benchmark.read_benchmark_weights`).

    Raises
    ------
    ModelFileError
        ``kind`` "active model": one ``not_covered`` issue per row naming a stock outside
        ``covered`` (its file, row, ticker column, value, the version's date, the reason
        and how to fix it). A malformed file raises a ModelFileError of the same kind
        listing the reader's issues (every row, column and fix).
    """
    df = _read_active_model(path, known)
    day = pd.Timestamp(as_of)
    dated = df.date.notna().any()
    if dated:
        start = max((d for d in df.date.unique() if d <= day), default=None)
        if start is not None:  # else every version is later: all of them may be held
            df = df[df.date >= start]
    have = set(covered)
    bad = df[(df.weight > 0) & ~df.ticker.isin(have)]
    if bad.empty:
        return df
    reasons = dict(why(sorted(set(bad.ticker)))) if why is not None else {}
    col = df.attrs.get("columns", {}).get("ticker", "ticker")
    issues = []
    for r in bad.itertuples():
        version = f"the version of {r.date:%Y-%m-%d}" if dated else "the model"
        because = reasons.get(r.ticker, "it is not in the risk model")
        fix = (f"remove {r.ticker} from {version} or substitute a stock pma_lab covers "
               "for it, keeping that version's weights summing to 1 (nothing is dropped or "
               "rescaled for you)")
        if because.startswith(("its prices start on", "it has ")):
            fix += ("; or prepare the client at a later date (as_of), once its prices "
                    "cover it: the plans use the risk model of the client's date")
        issues.append(Issue(str(path), int(r.row), col, str(r.ticker)[:40],
                            f"{r.ticker} ({r.weight:.4g} of {version}) is not covered at the "
                            f"client's date {day:%Y-%m-%d}: {because}", fix, Severity.ERROR,
                            "not_covered"))
    raise ModelFileError(str(path), issues, kind="active model")


def check_active_model_prices(path: str | Path, as_of: dt.date | str,
                              known: Collection[str] | None = None,
                              market: object | None = None) -> pd.DataFrame:
    """The check at ingest: every version the client may hold is priced at its date.

    :func:`pma_lab.io.client.load_client` runs it for an active + index core (so
    ``pma-lab lots validate`` reports it): a stock of the version in force or of a later
    one without a price at the client's date (none in pma_lab's data, or its prices end
    before or start after it) can be held by no risk model. Whether the client's risk model
    covers each name is checked when the client is prepared (:func:`check_active_model`).

    Raises
    ------
    ModelFileError
        As :func:`check_active_model` (code ``not_covered``, each row named).
    """
    from pma_lab.portfolio.risk import not_modelled

    df = _read_active_model(path, known)
    names = sorted(set(df.ticker))
    why = not_modelled(as_of, names, market, prices_only=True)  # type: ignore[arg-type]
    return check_active_model(path, as_of, set(names) - set(why), lambda ts: why, known)


def _keep_rules(client: object, covered: Collection[str] | None,
                kept_today: Callable | None = None
                ) -> tuple[dict[str, str], dict[str, float]]:
    """What a client's target may not weight: ``(not_buyable, kept)``.

    As :func:`~pma_lab.optimize.engine.prepare` decides it for a target given to it.

    ``not_buyable``: ticker -> why the client's screens keep it out of a target; the keep
    list's names the client holds are not among them (reviewer, session 24: the file
    refused them as screened out, while ``prepare(target=...)`` accepts one at today's
    weight or more). ``kept``: those names' weights today, from ``kept_today``
    (:func:`pma_lab.optimize.engine.kept_weights_today`, passed in by the caller: io does
    not import optimize; without it the keep list's names are refused as screened out),
    which a target may not go below (:func:`pma_lab.portfolio.keep.kept_below_today`).
    """
    from pma_lab.market.data import load_market
    from pma_lab.portfolio.screens import apply_screens

    market = load_market()
    elig = apply_screens(market.universe.frame(),
                         client.profile.target_restrictions())  # type: ignore[attr-defined]
    kept = {} if kept_today is None else kept_today(client, elig, market, covered)
    t = elig.table
    out = {r.ticker: r.reasons or "not buyable" for r in t[~t.can_buy].itertuples()
           if r.ticker not in kept}
    return out, kept


# ------------------------------------------------------------------------------ the target
def read_target_weights(path: str | Path, *, known: Collection[str] | None = None,
                        covered: Collection[str] | None = None,
                        not_buyable: Mapping[str, str] | None = None,
                        kept: Mapping[str, float] | None = None) -> pd.Series:
    """Read and check a target weights file (``ticker, weight``).

    Weights are >= 0 and sum to 1 (never rescaled); a ticker appears once; there is no
    ``date`` column (a target is one set of weights). ``covered``: the risk model's names,
    which every name must be; ``not_buyable``: names the client's screens exclude, with
    why (none of them may have a weight); ``kept``: the keep list's names the client
    holds, at today's weights, which a target may weight at today's weight or more (it is
    held at today's), never less (it would have to be sold): the rule and the words of a
    target given to :func:`~pma_lab.optimize.engine.prepare`
    (:func:`~pma_lab.portfolio.keep.kept_below_today`), here with the row.

    Returns
    -------
    pd.Series
        Weights by ticker, largest first.

    Raises
    ------
    ModelFileError
        Listing every problem with its row, column, value and fix.
    """
    file = str(path)
    try:
        df = read_benchmark_weights(path, known)
    except BenchmarkFileError as e:
        raise ModelFileError(file, [_retarget(i) for i in e.issues],
                             kind="target weights") from None
    if df.date.notna().any():
        raise ModelFileError(file, [Issue(
            file, None, "date", None, "a target file holds one set of weights, not dated ones",
            "remove the date column (keep the weights you want the account to hold)",
            Severity.ERROR, "dated_target")], kind="target weights")
    _check_covered(path, df, covered, "target weights", ModelFileError)
    if not_buyable is not None:
        issues = [Issue(file, int(r.row), "ticker", r.ticker,
                        f"{r.ticker} is excluded by the client's screens ({not_buyable[r.ticker]})",
                        "remove it from the target, or change the profile's [restrictions]",
                        Severity.ERROR, "screened_out")
                  for r in df.itertuples() if r.weight > 0 and r.ticker in not_buyable]
        if issues:
            raise ModelFileError(file, issues, kind="target weights")
    if kept:
        from pma_lab.portfolio.keep import KEPT_BELOW_FIX, kept_below_today, kept_below_words

        rows = dict(zip(df.ticker, df.row, strict=True))
        below = kept_below_today(df.set_index("ticker").weight, kept)
        if below:
            # the weight as written (a float's shortest repr gives back the file's digits)
            raise ModelFileError(file, [Issue(
                file, int(rows[t]), df.attrs.get("columns", {}).get("weight", "weight"),
                repr(given),
                f"{kept_below_words(t, today, given)}: {t} is on the keep list, never sold, "
                "so its weight is fixed at today's", KEPT_BELOW_FIX, Severity.ERROR,
                "kept_below_today") for t, today, given in below], kind="target weights")
    return df.set_index("ticker").weight.astype(float).sort_values(ascending=False,
                                                                   kind="stable")


def _retarget(i: Issue, what: str = "target weights") -> Issue:
    """A benchmark reader's issue worded for another weights file (``what``)."""
    fix = i.fix.replace("benchmark weights", what)
    message = i.message.replace("benchmark weights", what)
    return Issue(i.file, i.row, i.column, i.value, message, fix, i.severity, i.code)


def _read_active_model(path: str | Path, known: Collection[str] | None) -> pd.DataFrame:
    """The active model's rows, its problems worded for an active model file.

    The file has a benchmark file's layout (``ticker, weight[, date]``) and is read by
    :func:`pma_lab.market.benchmark.read_benchmark_weights`; its problems are raised as a
    :class:`~pma_lab.errors.ModelFileError` of kind "active model" so the message names
    the file the user gave (``[core] active_model``), not a benchmark.
    """
    try:
        return read_benchmark_weights(path, known)
    except BenchmarkFileError as e:
        raise ModelFileError(str(path), [_retarget(i, "active model weights")
                                         for i in e.issues], kind="active model") from None


def _check_covered(path: str | Path, df: pd.DataFrame, covered: set[str] | None, what: str,
                   error: type[ModelFileError]) -> None:
    if covered is None:
        return
    issues = [Issue(str(path), int(r.row), "ticker", r.ticker,
                    f"{r.ticker} is not in the risk model given with --risk-model",
                    "add the name to the risk model, or remove it from the weights (pma_lab "
                    "does not drop names and rescale the rest)", Severity.ERROR,
                    "not_in_risk_model")
              for r in df.itertuples() if r.weight > 0 and r.ticker not in covered]
    if issues:
        raise error(str(path), issues, None if error is BenchmarkFileError else what)


# ------------------------------------------------------------------------------ risk models
def read_risk_model(path: str | Path, *, known: Collection[str] | None = None
                    ) -> tuple[RiskModel, str]:
    """Read a covariance matrix file or a factor model (folder or workbook).

    Returns
    -------
    tuple[RiskModel, str]
        The (undated) model and its kind, ``"covariance"`` or ``"factor"``.

    Raises
    ------
    ModelFileError
        Listing every problem with its file, row, column, value and fix.
    """
    p = Path(path)
    if known is None:
        from pma_lab.market.data import known_tickers

        known = known_tickers()
    if p.is_dir():
        parts, issues = {}, []
        for name in FACTOR_FILES:
            found = [p / f"{name}{s}" for s in _SUFFIXES if (p / f"{name}{s}").is_file()]
            if len(found) != 1:
                issues.append(_issue(
                    str(p / f"{name}.csv"), "missing_file" if not found else "ambiguous_file",
                    f"the factor model folder has {'no' if not found else 'two'} "
                    f"{name} file{'s' if found else ''} ({name}.csv or {name}.xlsx)",
                    f"add exactly one: {_PART_HELP[name]}"))
            else:
                parts[name] = (found[0], None)
        if issues:
            raise ModelFileError(str(p), issues, kind="risk model")
        return _factor_model(str(p), parts, known), "factor"
    if not p.is_file():
        raise ModelFileError(str(p), [_issue(
            str(p), "file_not_found", "the file or folder does not exist",
            "give a covariance file (CSV/XLSX), or a folder or workbook with loadings, "
            "factor_cov and specific_var")], kind="risk model")
    if p.suffix.lower() not in _SUFFIXES:
        raise ModelFileError(str(p), [_issue(
            str(p), "unsupported_format", f"files of type '{p.suffix or '(none)'}' are not "
            "read", "save the matrix as .csv (UTF-8) or .xlsx")], kind="risk model")
    if p.suffix.lower() == ".xlsx":
        sheets = _sheet_names(p)
        if set(FACTOR_FILES) <= set(sheets):
            return _factor_model(str(p), {n: (p, n) for n in FACTOR_FILES}, known), "factor"
    return _covariance_model(p, known), "covariance"


_PART_HELP = {
    "loadings": "tickers down the first column, one column of exposures per factor",
    "factor_cov": "the factor covariance: factor names down the first column and across the "
                  "header, annualised",
    "specific_var": "columns ticker and specific_var (annualised variances >= 0)",
}


def _issue(file: str, code: str, message: str, fix: str, row: int | None = None,
           column: str | None = None, value: object = None) -> Issue:
    return Issue(file, row, column, None if value is None else str(value)[:40], message, fix,
                 Severity.ERROR, code)


def _sheet_names(path: Path) -> list[str]:
    try:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True)
        try:
            return list(wb.sheetnames)
        finally:
            wb.close()
    except Exception:  # noqa: BLE001 - read_table reports what is wrong with the workbook
        return []


@dataclass
class _Matrix:
    """A labelled matrix read from a file: values NaN where a cell was reported."""

    file: str
    rows: list[str]
    cols: list[str]
    values: np.ndarray
    row_numbers: list[int]
    header_row: int
    col_names: list[str]  # the header cells as written


def _read_matrix(path: Path, sheet: str | None, what: str, issues: list[Issue],
                 rows_are_tickers: bool, cols_are_tickers: bool,
                 known: Collection[str]) -> _Matrix | None:
    """Read a labelled numeric matrix; every problem goes to ``issues``."""
    file = f"{path} (sheet {sheet})" if sheet else str(path)
    table, found = read_table(path, _LABEL, sheet=sheet)
    issues += [_with_file(i, file) for i in found]
    if table is None:
        return None
    head = list(table.header)
    if len(head) < 2:
        issues.append(_issue(file, "missing_column", f"the {what} has no columns of numbers "
                             f"(header: {header_names(head, _LABEL)})",
                             f"put the labels down the first column and one column per "
                             f"{'ticker' if cols_are_tickers else 'factor'} across the header",
                             row=table.header_row))
        return None

    def label(raw: str, tickers: bool) -> tuple[str | None, str | None]:
        """The canonical label, or ``None`` and what is wrong with it."""
        if not raw:
            return None, "blank"
        if not tickers:
            return raw, None
        sp = normalize_ticker(raw)
        if not sp.valid:
            return None, f"{raw!r} is not a ticker"
        if sp.ticker not in known:
            return None, f"unknown ticker {sp.ticker!r}"
        return sp.ticker, None

    cols: list[str] = []
    seen: dict[str, str] = {}
    for j, raw in enumerate(head[1:], start=2):
        name, bad = label(raw, cols_are_tickers)
        where = raw or f"column {j}"
        if bad:
            issues.append(_issue(
                file, "unknown_ticker" if "unknown" in bad else "missing_label",
                f"the header cell of column {j} is {bad}", _UNKNOWN if "unknown" in bad else
                "label every column with the ticker of its row" if cols_are_tickers
                else "name every factor column", row=table.header_row, column=where,
                value=raw or None))
            name = f"\0{j}"  # kept in place so the values line up; never a model label
        elif name in seen:
            issues.append(_issue(file, "duplicate_column", f"column {name} appears twice "
                                 f"('{seen[name]}' and '{raw}')", "keep one of them",
                                 row=table.header_row, column=raw, value=raw))
        seen.setdefault(name, raw)
        cols.append(name)
    rows: list[str] = []
    at: dict[str, int] = {}
    vals = np.full((len(table.rows), len(cols)), np.nan)
    for cells, num in zip(table.rows, table.row_numbers, strict=True):
        raw = cells[0]
        name, bad = label(raw, rows_are_tickers)
        if bad:
            issues.append(_issue(file, "unknown_ticker" if "unknown" in bad else
                                 "missing_label", f"the row's label is {bad}",
                                 _UNKNOWN if "unknown" in bad else
                                 "write the ticker of the row" if rows_are_tickers
                                 else "write the factor's name", num, head[0] or "column 1",
                                 raw or None))
            name = f"\0row{num}"
        elif name in at:
            issues.append(_issue(file, "duplicate_row", f"{name} has two rows ({at[name]} and "
                                 f"{num})", "keep one row per " +
                                 ("ticker" if rows_are_tickers else "factor"), num,
                                 head[0] or "column 1", raw))
        at.setdefault(name, num)
        rows.append(name)
    text_cells = np.array([c[1:len(cols) + 1] for c in table.rows], dtype=object)
    parsed = pd.DataFrame(text_cells).apply(pd.to_numeric, errors="coerce").to_numpy(float)
    ok = np.isfinite(parsed) & ~np.vectorize(lambda t: "_" in t, otypes=[bool])(text_cells)
    vals[ok] = parsed[ok]
    for i, j in np.argwhere(~ok):  # the cells to report (few): parsed one by one
        num, text = table.row_numbers[i], text_cells[i, j]
        col = head[j + 1] or f"column {j + 2}"
        if (num, j + 1) in table.reported:
            continue
        try:
            v = float(text.replace("_", "x"))
        except ValueError:
            issues.append(_issue(file, "not_a_number" if text else "missing_value",
                                 "the cell is not a number" if text else
                                 "the cell is blank", "write the number as a decimal "
                                 "fraction (0.04, not 4 %); every cell is needed", num, col,
                                 text or None))
            continue
        if not math.isfinite(v):
            issues.append(_issue(file, "not_finite", f"{text!r} is not a finite number",
                                 "write a finite number", num, col, text))
            continue
        vals[i, j] = v
    return _Matrix(file, rows, cols, vals, list(table.row_numbers), table.header_row,
                   [h or f"column {j}" for j, h in enumerate(head[1:], start=2)])


def _with_file(i: Issue, file: str) -> Issue:
    """A table reader's issue, named with the sheet; its lots wording made generic."""
    fix = i.fix.replace("export the lots", "export the file").replace("the lots", "the file")
    return Issue(file, i.row, i.column, i.value, i.message, fix, i.severity, i.code)


def _square(m: _Matrix, what: str, issues: list[Issue]) -> pd.DataFrame | None:
    """The matrix as a square frame (rows reordered to the header's order), or None."""
    rows, cols = set(m.rows), set(m.cols)
    for name, num in zip(m.rows, m.row_numbers, strict=True):
        if not name.startswith("\0") and name not in cols:
            issues.append(_issue(m.file, "label_mismatch", f"row {name} has no column of its "
                                 "own in the header", f"the {what} is square: add a column "
                                 f"{name} or remove the row", num, value=name))
    for name, col in zip(m.cols, m.col_names, strict=True):
        if not name.startswith("\0") and name not in rows:
            issues.append(_issue(m.file, "label_mismatch", f"column {name} has no row of its "
                                 "own", f"the {what} is square: add a row {name} or remove "
                                 "the column", m.header_row, col, name))
    if any(i.severity is Severity.ERROR and i.file == m.file for i in issues):
        return None
    frame = pd.DataFrame(m.values, index=m.rows, columns=m.cols)
    return frame.loc[m.cols, m.cols]


def _check_covariance(m: _Matrix, frame: pd.DataFrame, what: str, issues: list[Issue],
                      volatility: bool, psd: bool = True) -> None:
    """Symmetric, variances >= 0 (plausible units), positive semidefinite (``psd``)."""
    a = frame.to_numpy()
    names = list(frame.index)
    num = dict(zip(m.rows, m.row_numbers, strict=True))
    col = dict(zip(m.cols, m.col_names, strict=True))
    diag = np.diag(a)
    for t, v in zip(names, diag, strict=True):
        if v < 0:
            issues.append(_issue(m.file, "negative_variance", f"the variance of {t} is "
                                 "negative", "a variance is >= 0 (a 20 % volatility is "
                                 "0.04)", num[t], col[t], v))
    if volatility and len(diag) and (diag >= 0).all():
        vol = np.sqrt(diag)
        for t, v in zip(names, vol, strict=True):
            if v > MAX_VOLATILITY:
                issues.append(_issue(m.file, "implausible_variance",
                                     f"the variance of {t} means a volatility of {v:.0%} a "
                                     "year", "write annualised variances as fractions: a 20 % "
                                     "volatility is 0.04, not 400 (percent squared)", num[t],
                                     col[t], diag[names.index(t)]))
        if float(np.median(vol)) < MIN_VOLATILITY:
            issues.append(_issue(m.file, "not_annualised", f"the median volatility is "
                                 f"{float(np.median(vol)):.2%} a year, too low for stocks",
                                 "the covariances look daily: multiply them by 252 to "
                                 "annualise"))
    scale = max(float(np.abs(a).max(initial=0.0)), 1e-300)
    bad = np.argwhere(np.triu(np.abs(a - a.T) > _TOL * scale, 1))
    for i, j in bad[:10]:
        r, c = names[i], names[j]
        issues.append(_issue(m.file, "not_symmetric", f"not symmetric: {r}/{c} is "
                             f"{a[i, j]:.10g} but {c}/{r} is {a[j, i]:.10g}",
                             f"a {what} is symmetric: make the two cells equal (e.g. "
                             "(M + M.T) / 2 before saving)", num[r], col[c],
                             a[i, j]))
    if len(bad) > 10:
        issues.append(_issue(m.file, "not_symmetric", f"and {len(bad) - 10} more asymmetric "
                             "pairs", f"a {what} is symmetric"))
    if psd and not any(i.severity is Severity.ERROR and i.file == m.file for i in issues):
        _check_psd(m, a, names, what, issues)


def _check_psd(m: _Matrix, a: np.ndarray, names: list[str], what: str,
               issues: list[Issue]) -> None:
    scale = max(float(np.abs(a).max(initial=0.0)), 1e-300)
    sym = (a + a.T) / 2
    if float(np.linalg.eigvalsh(sym)[0]) < -_TOL * scale:  # eigenvectors only when needed
        low, vec = np.linalg.eigh(sym)
        top = [names[k] for k in np.argsort(-np.abs(vec[:, 0]))[:3]]
        issues.append(_issue(
            m.file, "not_psd", f"the {what} is not positive semidefinite: its smallest "
            f"eigenvalue is {low[0]:.3g} (the combination of {', '.join(top)} it points to "
            "has a negative variance)", "estimate it from one common window of returns, "
            "shrink it toward its diagonal, or clip the negative eigenvalues; pma_lab does "
            "not repair a covariance"))


def _covariance_model(p: Path, known: Collection[str]) -> RiskModel:
    issues: list[Issue] = []
    m = _read_matrix(p, None, "covariance matrix", issues, True, True, known)
    if m is not None and not any(i.severity is Severity.ERROR for i in issues):
        frame = _square(m, "covariance matrix", issues)
        if frame is not None:  # positive semidefinite: checked by from_covariance below
            _check_covariance(m, frame, "covariance matrix", issues, volatility=True,
                              psd=False)
    if any(i.severity is Severity.ERROR for i in issues):
        raise ModelFileError(str(p), issues, kind="risk model")
    try:  # one eigenvalue pass fewer than checking here first (~2 s at 500 names)
        return RiskModel.from_covariance(list(frame.index), frame)
    except SettingsError:
        _check_psd(m, frame.to_numpy(), list(frame.index), "covariance matrix", issues)
        if not issues:
            raise  # pragma: no cover - from_covariance checks nothing this file did not
        raise ModelFileError(str(p), issues, kind="risk model") from None


def _factor_model(source: str, parts: Mapping[str, tuple[Path, str | None]],
                  known: Collection[str]) -> RiskModel:
    issues: list[Issue] = []
    path, sheet = parts["loadings"]
    x = _read_matrix(path, sheet, "loadings", issues, True, False, known)
    path, sheet = parts["factor_cov"]
    f = _read_matrix(path, sheet, "factor covariance", issues, False, False, known)
    path, sheet = parts["specific_var"]
    d = _read_specific(path, sheet, issues, known)
    if x is None or f is None or d is None:
        raise ModelFileError(source, issues, kind="risk model")
    fcov = _square(f, "factor covariance", issues)
    factors = [c for c in x.cols if not c.startswith("\0")]
    if fcov is not None:
        missing = [c for c in factors if c not in fcov.index]
        for c in missing:
            issues.append(_issue(f.file, "label_mismatch", f"factor {c} of the loadings has "
                                 "no row and column here", f"add {c} to the factor "
                                 "covariance, or remove its loadings column", f.header_row))
        for c, col in zip(f.cols, f.col_names, strict=True):
            if c not in factors:
                issues.append(_issue(f.file, "label_mismatch", f"factor {c} has no column in "
                                     "the loadings", f"add a loadings column {c}, or remove it "
                                     "here", f.header_row, col, c))
        if not any(i.severity is Severity.ERROR and i.file == f.file for i in issues):
            _check_covariance(f, fcov, "factor covariance", issues, volatility=False)
    tickers = [t for t in x.rows if not t.startswith("\0")]
    have = d.attrs["seen"]
    for t in tickers:
        if t not in have:
            issues.append(_issue(str(d.attrs["file"]), "missing_ticker", f"{t} has loadings "
                                 "but no specific variance", f"add a row for {t}",
                                 value=t))
    for t, row in have.items():
        if t not in set(tickers):
            issues.append(_issue(str(d.attrs["file"]), "label_mismatch", f"{t} has a specific "
                                 "variance but no loadings", f"add loadings for {t} or remove "
                                 "the row", row, "ticker", t))
    if any(i.severity is Severity.ERROR for i in issues):
        raise ModelFileError(source, issues, kind="risk model")
    loadings = pd.DataFrame(x.values, index=x.rows, columns=x.cols)
    return RiskModel.from_factors(tickers, loadings.loc[tickers, factors],
                                  fcov.loc[factors, factors],
                                  d.set_index("ticker").specific_var.reindex(tickers))


def _read_specific(path: Path, sheet: str | None, issues: list[Issue],
                   known: Collection[str]) -> pd.DataFrame | None:
    file = f"{path} (sheet {sheet})" if sheet else str(path)
    table, found = read_table(path, _SPECIFIC_FIELDS, sheet=sheet)
    issues += [_with_file(i, file) for i in found]
    if table is None:
        return None
    cols, more = map_columns(table, _SPECIFIC_FIELDS)
    issues += [_with_file(i, file) for i in more]
    for fl in _SPECIFIC_FIELDS:
        if fl.name not in cols:
            issues.append(_issue(file, "missing_column", f"no '{fl.name}' column (has "
                                 f"{header_names(list(table.header), _SPECIFIC_FIELDS)})",
                                 f"add a '{fl.name}' column: {fl.help}", table.header_row))
    if any(i.severity is Severity.ERROR and i.file == file for i in issues):
        return None
    tcol, vcol = table.header[cols["ticker"]], table.header[cols["specific_var"]]
    out, seen = [], {}
    for cells, num in zip(table.rows, table.row_numbers, strict=True):
        raw, text = cells[cols["ticker"]], cells[cols["specific_var"]]
        sp = normalize_ticker(raw)
        if not sp.valid or sp.ticker not in known:
            issues.append(_issue(file, "unknown_ticker" if raw else "missing_value",
                                 f"unknown ticker {raw!r}" if raw else "the ticker is blank",
                                 _UNKNOWN if raw else "write the ticker", num, tcol,
                                 raw or None))
            continue
        if sp.ticker in seen:
            issues.append(_issue(file, "duplicate_row", f"{sp.ticker} has two rows "
                                 f"({seen[sp.ticker]} and {num})", "keep one row per ticker",
                                 num, tcol, raw))
            continue
        seen[sp.ticker] = num
        try:  # a row with a bad value is reported here, not again as a missing ticker
            v = float(text)
        except ValueError:
            issues.append(_issue(file, "not_a_number", "the variance is not a number",
                                 "write the annualised variance as a fraction (0.04 for 20 % "
                                 "volatility)", num, vcol, text or None))
            continue
        if not math.isfinite(v) or v < 0:
            issues.append(_issue(file, "negative_variance", f"variance {text!r} must be a "
                                 "finite number >= 0", "write the annualised variance as a "
                                 "fraction (0.04 for 20 % volatility)", num, vcol, text))
        elif math.sqrt(v) > MAX_VOLATILITY:
            issues.append(_issue(file, "implausible_variance", f"variance {text!r} means a "
                                 f"specific volatility of {math.sqrt(v):.0%} a year",
                                 "write variances as fractions: 0.04 for 20 %, not 400",
                                 num, vcol, text))
        else:
            out.append((sp.ticker, v, num))
    df = pd.DataFrame(out, columns=["ticker", "specific_var", "row"])
    df.attrs["file"], df.attrs["seen"] = file, dict(seen)
    return df
