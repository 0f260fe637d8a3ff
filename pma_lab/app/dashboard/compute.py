"""The dashboard's calls into the engine, with the caches that keep an update quick.

Nothing here is new domain logic: every number comes from the public engine functions
(:func:`~pma_lab.optimize.engine.prepare`, :func:`~pma_lab.optimize.engine.problem_for_client`,
:func:`~pma_lab.optimize.frontier.efficient_frontier`,
:func:`~pma_lab.plan.transition.first_trades`,
:func:`~pma_lab.plan.transition.run_transition`), so the dashboard shows exactly what the CLI,
the notebooks and the reports show for the same inputs.

What is cached:

* the packaged market data (loaded once per engine);
* the risk model, per as-of date (the expensive part of ``prepare``);
* the :class:`~pma_lab.optimize.engine.ClientSetup`, per client *fingerprint* (profile, lots,
  recent trades and restrictions, see :func:`client_key`) and, when the researcher's own
  model files are used (:class:`DashboardModels`), their content (:attr:`DashboardModels.key`);
* the frontier per setup, and the first-year trades and the transition analysis per
  (setup, plan).

Each cache is a small LRU so a long session does not grow without bound. A result is
computed once however many threads ask for it at the same time, and only those asking for
the same result wait for each other (one lock per key, :class:`_KeyLocks`): the next
client's trades never wait for the previous client's plan comparison.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from pma_lab.accounts import profile_account_names
from pma_lab.errors import (
    BenchmarkFileError,
    DataError,
    Issue,
    ModelFileError,
    PmaLabError,
    SettingsError,
)
from pma_lab.io.client import Client, LotsReplaced
from pma_lab.io.models import ModelFiles, read_models
from pma_lab.io.profile import Budgets
from pma_lab.market.benchmark import read_benchmark_weights
from pma_lab.market.data import MarketData, load_market
from pma_lab.optimize.engine import ClientSetup, kept_weights_today, prepare
from pma_lab.optimize.frontier import Frontier
from pma_lab.optimize.rebalance import RebalanceResult
from pma_lab.plan.plans import _concentrated
from pma_lab.plan.transition import (
    DEFAULT_PLANS,
    TransitionAnalysis,
    TransitionSettings,
    client_plan,
    first_step_run,
    first_trades,
    parse_plan,
    run_transition,
)
from pma_lab.plan.withdrawal import with_withdrawal
from pma_lab.portfolio.restrictions import Restrictions
from pma_lab.portfolio.risk import RiskModel
from pma_lab.report import proposal as report
from pma_lab.schema import RESTRICTION_CATEGORIES
from pma_lab.tax.liability import TaxProfile
from pma_lab.tax.rules import MAX_STATE_RATE, FilingStatus
from pma_lab.validation import check_choice, check_int, check_number

__all__ = ["DashboardSettings", "DashboardModels", "MODEL_KINDS", "ModelUpload", "ProposalEngine",
           "TaxInputs", "UploadSummary", "client_key", "read_model_uploads",
           "upload_summary", "with_categories", "with_restrictions", "with_tax_inputs"]


@dataclass(frozen=True)
class UploadSummary:
    """What a lots upload replaced and kept, in the advisor's words.

    Attributes
    ----------
    lines : tuple[str, ...]
        The uploaded file's lots by account, the profile files whose lots it replaced, and
        the profile files whose lots of other accounts were kept.
    empty : tuple[str, ...]
        One line per declared account left with no lot (``Rollover IRA (XXXX-5432): no
        lots``), shown in red.
    kept_files : tuple[str, ...]
        The profile's files (paths) kept whole: an export renders the proposal from the
        uploads and these.
    split_files : tuple[str, ...]
        The files (paths: the profile's or earlier uploads') of which only some accounts'
        lots were kept.
    earlier_kept : tuple[str, ...]
        The earlier uploads (their paths as given) whose lots are still in effect.
    """

    lines: tuple[str, ...]
    empty: tuple[str, ...] = ()
    kept_files: tuple[str, ...] = ()
    split_files: tuple[str, ...] = ()
    earlier_kept: tuple[str, ...] = ()


def _lots(n: int) -> str:
    return f"{n:,} lot{'s' if n != 1 else ''}"


def upload_summary(client: Client, rep: LotsReplaced, shown: str,
                   earlier: Mapping[str, str] | None = None) -> UploadSummary:
    """Say which lots an upload replaced and which of the profile's it kept.

    Parameters
    ----------
    client : Client
        The client loaded with the upload (:func:`~pma_lab.io.client.load_client_replacing`).
    rep : LotsReplaced
        What that load replaced and kept.
    shown : str
        The uploaded file's name as the advisor chose it.
    earlier : Mapping[str, str] | None
        Earlier uploads laid under this one (``over`` of the load): path -> the name the
        advisor gave it.

    Returns
    -------
    UploadSummary
        Accounts in the client's words (:func:`pma_lab.accounts.profile_account_names`),
        files by name only.
    """
    names = profile_account_names(client.profile.accounts)

    def who(a: str) -> str:
        return names.get(a, a)

    def per_file(rows: tuple[tuple[str, str, int], ...]) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = {}
        for f, a, n in rows:
            out.setdefault(f, []).append((a, n))
        return out

    def accounts(rows: list[tuple[str, int]]) -> str:
        return ", ".join(f"{_lots(n)} of {who(a)}" for a, n in rows)

    before = dict(earlier or {})

    def where(f: str) -> str:
        return (f"an earlier upload: {before[f]}" if f in before
                else f"the profile: {Path(f).name}")

    lines = [f"{shown} (uploaded): " + (accounts([(a, n) for _, a, n in rep.new])
                                         if rep.new else "no lots")]
    replaced, kept = per_file(rep.replaced), per_file(rep.kept)
    for f, rows in replaced.items():
        lines.append(f"Replaced from {where(f)}'s {accounts(rows)}"
                     + (" (its other accounts' lots are kept)" if f in kept else ""))
    for f, rows in kept.items():
        lines.append(f"Kept from {where(f)}'s {accounts(rows)}")
    if not replaced:
        lines.append("No lots of the profile's files were replaced (they hold no lot of "
                     "the uploaded file's accounts)")
    empty = tuple(f"{who(a)}: no lots (none in {shown}"
                  + (" nor in the other files)" if kept else ")")
                  for a in rep.empty)
    return UploadSummary(tuple(lines), empty,
                         tuple(f for f in kept if f not in replaced and f not in before),
                         tuple(f for f in kept if f in replaced),
                         tuple(f for f in before if f in kept))


@dataclass(frozen=True)
class DashboardSettings:
    """What one dashboard update computes: the proposal's plans, horizon and frontier.

    The defaults are the proposal notebook's; :meth:`from_proposal` reads them from its
    parameters cell (:func:`pma_lab.report.proposal.notebook_parameters`), which is how the
    dashboard gets them, so the two show the same numbers for the same client.

    Attributes
    ----------
    plans : tuple[str, ...]
        Plans always compared (the proposal's ``plans``). The plan chosen in the
        dashboard is added when it is not one of them; the client's own plan, the
        diversified plan and ``hold`` are added by the engine
        (:func:`~pma_lab.plan.transition.run_transition`).
    horizon_years : int
        Transition horizon in years (the proposal's ``horizon_years``).
    steps_per_year : int
        Transition steps per year: 1 when the proposal's ``annual_steps`` is true, else 4.
    frontier_points : int
        Points on the tax vs tracking-error frontier (the proposal's ``frontier_points``),
        computed by :func:`pma_lab.report.proposal.frontier`.
    mc_paths : int
        Monte Carlo paths of the outcome range (the engine's default, as in the proposal).
    workers : int
        Processes for the transition's plans (the engine's default, as in the proposal).
    cache_size : int
        Entries kept in each LRU cache.
    """

    plans: tuple[str, ...] = DEFAULT_PLANS
    horizon_years: int = TransitionSettings.horizon_years
    steps_per_year: int = TransitionSettings.steps_per_year
    frontier_points: int = report.FRONTIER_POINTS
    mc_paths: int = TransitionSettings.mc_paths
    workers: int = TransitionSettings.workers
    cache_size: int = 32

    def __post_init__(self) -> None:
        if not isinstance(self.plans, tuple) or not self.plans or not all(
                isinstance(p, str) and p.strip() for p in self.plans):
            raise SettingsError(f"DashboardSettings(plans={self.plans!r}): plans must be a "
                                "non-empty tuple of plan names such as ('immediate', '3y')")
        try:  # horizon, steps, paths and workers, as the engine checks them
            self.transition_settings()
        except SettingsError as e:
            raise SettingsError(f"DashboardSettings: {e}") from None
        check_int(self, "frontier_points", low=3, meaning="frontier rows, both ends included")
        check_int(self, "cache_size", low=1, meaning="entries kept in each cache")

    @classmethod
    def from_proposal(cls, notebook: str | Path | None = None, **overrides: object
                      ) -> DashboardSettings:
        """The settings the proposal notebook renders with (its parameters cell).

        Parameters
        ----------
        notebook : str | Path | None
            The proposal notebook (default :data:`pma_lab.report.proposal.PROPOSAL_NOTEBOOK`).
        **overrides
            Fields to set instead (e.g. ``mc_paths`` for a quick test).
        """
        params = _proposal_parameters(str(notebook or report.PROPOSAL_NOTEBOOK))
        plans = params.get("plans", ",".join(DEFAULT_PLANS))
        items = plans.split(",") if isinstance(plans, str) else list(plans)
        base = cls(plans=tuple(p.strip() for p in items if p.strip()),
                   horizon_years=int(params.get("horizon_years", cls.horizon_years)),
                   steps_per_year=report.steps_per_year(
                       bool(params.get("annual_steps", False))),
                   frontier_points=int(params.get("frontier_points", cls.frontier_points)))
        return replace(base, **overrides)  # type: ignore[arg-type]

    def transition_settings(self) -> TransitionSettings:
        """The engine's transition settings (as the proposal's ``transition`` makes them)."""
        return TransitionSettings(horizon_years=self.horizon_years,
                                  steps_per_year=self.steps_per_year,
                                  mc_paths=self.mc_paths, workers=self.workers)

    def plan_list(self, plan: str) -> list[str]:
        """The proposal's plans, then the chosen plan when it is none of them.

        A chosen plan that withdraws (``flow=``, the planner's "Withdraw $/yr") gives its
        withdrawal to every plan without one, so the plans compare like with like, as
        ``pma-lab transition --plans`` needs every plan to carry the same ``flow=``.
        """
        out = list(self.plans)
        try:
            flow = parse_plan(plan).flow if plan else 0.0
        except PmaLabError:
            flow = 0.0
        if flow:
            out = [p if ":flow=" in p else with_withdrawal(p, -flow) for p in out]
        if plan and not any(_same_plan(plan, p) for p in out):
            out.append(plan)
        return out


@lru_cache(maxsize=4)
def _proposal_parameters(path: str) -> dict[str, object]:
    return {k: v["default"] for k, v in report.notebook_parameters(path).items()}


def _same_plan(a: str, b: str) -> bool:
    try:
        return parse_plan(a).same_as(parse_plan(b))
    except PmaLabError:
        return a.strip().lower() == b.strip().lower()


def with_restrictions(client: Client, restrictions: Restrictions | None) -> Client:
    """The client with its profile's restrictions replaced (``None``: unchanged)."""
    if restrictions is None or restrictions == client.profile.restrictions:
        return client
    return replace(client, profile=replace(client.profile, restrictions=restrictions))


def with_categories(base: Restrictions, now: Restrictions,
                    categories: tuple[str, ...]) -> Restrictions:
    """``now`` with its category screens set to ``categories`` and their held rules to match.

    A category's ``[restrictions.held]`` rule goes with its screen: it is dropped when the
    screen is turned off (a held rule of a screen not applied is an error of the profile,
    reviewer 1, session 24: un-ticking chen's "Fossil fuels", held ``sell_within:2``, failed
    every update) and the profile's rule (``base``) comes back when the screen is ticked
    again. Held rules of ``never_hold`` and the exclusions are kept as they are.

    Parameters
    ----------
    base : Restrictions
        The profile's own restrictions (where a re-ticked screen's held rule comes from).
    now : Restrictions
        The restrictions being edited.
    categories : tuple[str, ...]
        The category screens ticked, in the order to keep.

    Returns
    -------
    Restrictions
        ``now`` with ``categories`` and ``held`` replaced.
    """
    held = [(k, a) for k, a in now.held if k not in RESTRICTION_CATEGORIES or k in categories]
    have = {k for k, _ in held}
    held += [(k, a) for k, a in base.held if k in categories and k not in have]
    return replace(now, categories=tuple(categories), held=tuple(held))


@dataclass(frozen=True)
class TaxInputs:
    """The tax inputs an advisor edits in the dashboard (the profile's values by default).

    Attributes
    ----------
    filing_status : FilingStatus
    taxable_income : float | None
        Taxable income before the gains (``None``: the profile gives all-in rates and
        they are kept).
    state_rate : float
        State marginal rate on gains (used with ``taxable_income``; all-in rates already
        include the state's).
    budget_total, budget_st, budget_lt : float | None
        The profile's ``[budgets]``: net realised gains allowed per tax year in total, and
        short- and long-term (``None``: no such cap).
    cash : tuple[tuple[str, float], ...]
        Cash per account id (USD).

    Raises
    ------
    SettingsError
        For an unknown filing status, a negative income, budget or cash, or a state rate
        outside 0-20 % (the message names the field and the fix).
    """

    filing_status: FilingStatus
    taxable_income: float | None
    state_rate: float
    budget_total: float | None
    budget_st: float | None
    budget_lt: float | None
    cash: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        check_choice(self, "filing_status", FilingStatus)
        check_number(self, "taxable_income", low=0, optional=True,
                     meaning="USD before the gains; None keeps the profile's all-in rates")
        check_number(self, "state_rate", low=0, high=MAX_STATE_RATE,
                     meaning="the state's marginal rate on gains, 0.05 = 5 %")
        for name in ("budget_total", "budget_st", "budget_lt"):
            check_number(self, name, low=0, optional=True,
                         meaning="net realised gains allowed per tax year, USD; None: no cap")
        ok = isinstance(self.cash, tuple) and all(
            isinstance(e, tuple) and len(e) == 2 and isinstance(e[0], str)
            and isinstance(e[1], int | float) and not isinstance(e[1], bool)
            and math.isfinite(e[1]) and e[1] >= 0 for e in self.cash)
        if not ok:
            raise SettingsError(f"TaxInputs(cash={self.cash!r}): cash must be a tuple of "
                                "(account id, USD >= 0) pairs, e.g. (('taxable', 25000.0),)")

    @classmethod
    def of(cls, client: Client) -> TaxInputs:
        """The client's own inputs, from its profile."""
        p = client.profile
        t = p.tax
        return cls(t.filing_status, t.taxable_income if t.stacked else None, t.state_rate,
                   p.budgets.total, p.budgets.short_term, p.budgets.long_term,
                   tuple((a.account_id, float(a.cash)) for a in p.accounts))


def with_tax_inputs(client: Client, inputs: TaxInputs | None) -> Client:
    """The client with its profile's tax, budgets and cash replaced (``None``: unchanged).

    With a taxable income the marginal rates are read off the brackets
    (:meth:`~pma_lab.tax.liability.TaxProfile.from_income`, as the profile loader does); a changed
    income moves MAGI and AGI by the same amount (the deductions between them stay).
    Without one, the profile's all-in rates are kept with the new filing status.

    Raises
    ------
    DataError
        For cash in an account the client does not have (a negative income, budget or
        cash, or a state rate outside 0-20 %, fails when the :class:`TaxInputs` is built).
    """
    if inputs is None or inputs == TaxInputs.of(client):
        return client
    p = client.profile
    t = p.tax
    accounts = {a.account_id for a in p.accounts}
    unknown = sorted({a for a, _ in inputs.cash} - accounts)
    if unknown:
        raise DataError(f"cash for account(s) {', '.join(unknown)} that the profile does not "
                        f"declare ({', '.join(sorted(accounts))})")
    if inputs.taxable_income is None:
        tax = replace(t, filing_status=inputs.filing_status)
    else:
        shift = inputs.taxable_income - (t.taxable_income or 0.0) if t.stacked else 0.0
        magi = None if t.magi is None or not t.stacked else t.magi + shift
        agi = None if t.agi is None else t.agi + (shift if t.stacked else 0.0)
        tax = TaxProfile.from_income(
            inputs.filing_status, t.tax_year, inputs.taxable_income, magi, inputs.state_rate,
            t.state_lt_rate if t.stacked else None, t.niit_override, agi,
            min(t.preferential_income, inputs.taxable_income), t.state_charitable_deduction)
    cash = dict(inputs.cash)
    prof = replace(p, tax=tax,
                   budgets=Budgets(inputs.budget_total, inputs.budget_st, inputs.budget_lt),
                   accounts=tuple(replace(a, cash=float(cash.get(a.account_id, a.cash)))
                                  for a in p.accounts))
    return replace(client, profile=prof)


def client_key(client: Client) -> str:
    """A fingerprint of everything in ``client`` that the engine reads.

    Two clients with the same profile (including restrictions), lots, recent trades and
    as-of date have the same key, whichever file they were read from.
    """
    h = hashlib.sha256()
    prof = replace(client.profile, warnings=())
    h.update(repr(prof).encode())
    h.update(str(client.as_of).encode())
    lots = client.lots.lots.drop(columns=["source_file", "source_row"], errors="ignore")
    h.update(pd.util.hash_pandas_object(lots, index=False).to_numpy().tobytes())
    if client.recent_trades is not None:
        h.update(repr(client.recent_trades.trades).encode())
    return h.hexdigest()[:20]


MODEL_KINDS = ("risk", "benchmark", "target")
"""The researcher's model files the dashboard takes, in the order
:func:`~pma_lab.io.models.read_models` reads them (a benchmark and a target are checked
against a risk model given with them)."""
_READ_ARG = {"risk": "risk_model", "benchmark": "benchmark", "target": "target"}


@dataclass(frozen=True)
class ModelUpload:
    """One uploaded model file: which model it is, its name and its bytes.

    Attributes
    ----------
    kind : {"risk", "benchmark", "target"}
        A covariance matrix (CSV/XLSX) or a factor-model workbook (XLSX with the sheets
        ``loadings``, ``factor_cov`` and ``specific_var``); benchmark weights; target
        weights (see :mod:`pma_lab.io.models`).
    name : str
        The file's name as uploaded (shown to the user; no folders).
    content : bytes
    """

    kind: str
    name: str
    content: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise SettingsError(f"ModelUpload(kind={self.kind!r}): kind must be one of "
                                f"{', '.join(MODEL_KINDS)}")
        if not isinstance(self.content, bytes):
            raise SettingsError("ModelUpload(content=...): content must be the file's bytes")


@dataclass(frozen=True, eq=False)
class DashboardModels:
    """The models the dashboard's proposal uses: the researcher's files, or none.

    Built by :func:`read_model_uploads` (every file checked by
    :func:`~pma_lab.io.models.read_models`, as ``--risk-model``/``--benchmark``/``--target``
    are on the command line); ``DashboardModels()`` is the packaged models.

    Attributes
    ----------
    uploads : tuple[ModelUpload, ...]
        The files, one per kind at most, in :data:`MODEL_KINDS` order.
    files : ModelFiles
        What they were read into (pass :meth:`prepare_args` to ``prepare``; the proposal's
        "Models used" table describes them).
    client : tuple[str, str]
        The profile path and as-of date they were checked for (a dated benchmark's
        weights are those in force on that date; a target's names are checked against
        that client's screens).
    """

    uploads: tuple[ModelUpload, ...] = ()
    files: ModelFiles = field(default_factory=ModelFiles)
    client: tuple[str, str] = ("", "")

    @property
    def key(self) -> str:
        """A fingerprint of the files' kinds, names and content (``""``: packaged models).

        Two uploads with the same name and bytes share the engine's cached results;
        anything else (one byte, another name: a custom benchmark is named after its
        file) is computed afresh.
        """
        if not self.uploads:
            return ""
        h = hashlib.sha256()
        for u in self.uploads:
            for part in (u.kind.encode(), u.name.encode(), u.content):
                h.update(len(part).to_bytes(8, "big"))
                h.update(part)
        return h.hexdigest()[:20]

    @property
    def packaged(self) -> bool:
        """True when no file is used (pma_lab's own risk model, benchmark and target)."""
        return not self.uploads

    def upload(self, kind: str) -> ModelUpload | None:
        """The file of ``kind`` in use, if any."""
        return next((u for u in self.uploads if u.kind == kind), None)

    def prepare_args(self) -> dict[str, object]:
        """Keyword arguments for :func:`~pma_lab.optimize.engine.prepare` (files given only)."""
        return self.files.prepare_args()

    def fits(self, client: Client) -> bool:
        """Whether these models can be used for ``client`` (always, for the packaged)."""
        return self.packaged or self.checked_for(client)

    def checked_for(self, client: Client) -> bool:
        """Whether these models were checked for ``client`` (its profile and date)."""
        return self.client == _model_client(client)


def _model_client(client: Client) -> tuple[str, str]:
    return str(client.profile.path), str(client.as_of)


def safe_file_name(name: str, default: str = "model.csv") -> str:
    """An uploaded file's name made safe for a private temporary folder (suffix kept)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).lstrip(".") or default


def read_model_uploads(uploads: tuple[ModelUpload, ...] | list[ModelUpload],
                       client: Client, covered: Collection[str] | None = None
                       ) -> DashboardModels:
    """Check uploaded model files for ``client`` with :func:`~pma_lab.io.models.read_models`.

    Each file's bytes go to a private temporary folder under a name made safe from the
    upload's (the reader picks the format from the suffix) and are removed again. The
    files are read together, so a benchmark or a target is checked against a risk model
    uploaded with it.

    Parameters
    ----------
    uploads : sequence of ModelUpload
        At most one per kind (an empty sequence: the packaged models).
    client : Client
        Its date picks a dated benchmark's weights; its screens, a target's names.
    covered : Collection[str] | None
        The names pma_lab's own risk model covers at the client's date, when it is known:
        without a risk-model file, every name a benchmark or target file weights must be
        one of them (``prepare`` would refuse the file; here the row is named).

    Returns
    -------
    DashboardModels

    Raises
    ------
    ModelFileError
        Every problem of the first bad file, each naming the uploaded file (not the
        temporary one), its row, column, value and fix.
    SettingsError
        When two files of one kind are given.
    """
    ordered = tuple(sorted(uploads, key=lambda u: MODEL_KINDS.index(u.kind)))
    kinds = [u.kind for u in ordered]
    if len(set(kinds)) != len(kinds):
        raise SettingsError(f"read_model_uploads: one file per kind, got {kinds}")
    if not ordered:
        return DashboardModels(client=_model_client(client))
    tmp = Path(tempfile.mkdtemp(prefix="pma-models-"))
    shown: dict[str, str] = {}
    try:
        args: dict[str, Path] = {}
        for u in ordered:
            (tmp / u.kind).mkdir()
            path = tmp / u.kind / safe_file_name(u.name, f"{u.kind}.csv")
            path.write_bytes(u.content)
            args[_READ_ARG[u.kind]] = path
            shown[str(path)] = Path(u.name).name or path.name
        try:
            files = read_models(as_of=client.as_of, client=client,
                                kept_today=kept_weights_today, **args)
        except ModelFileError as e:
            def named(text: str) -> str:
                for old, new in shown.items():
                    text = text.replace(old, new)
                return text.replace(str(tmp), "upload")

            issues = [Issue(named(i.file), i.row, i.column, i.value, named(i.message),
                            named(i.fix), i.severity, i.code) for i in e.issues]
            raise type(e)(named(e.source), issues, e.kind) from None
        if covered is not None and files.risk is None:
            for kind, w in (("benchmark", None if files.benchmark is None
                             else files.benchmark.weights), ("target", files.target)):
                if w is not None:
                    _check_packaged_risk(args[kind], shown[str(args[kind])], kind, w,
                                         set(covered), client)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # the files' names as uploaded (the models are described by them), not the temporary paths
    names = {k: Path(shown[str(p)]) for k, p in files.files.items()}
    files = replace(files, files=names)
    if files.benchmark is not None:  # a custom benchmark is named after its file
        tmp_stem, stem = args["benchmark"].stem, names["benchmark"].stem
        name = str(files.benchmark.name)
        if name.startswith(tmp_stem):
            files = replace(files, benchmark=replace(files.benchmark,
                                                     name=stem + name[len(tmp_stem):]))
    return DashboardModels(ordered, files, _model_client(client))


def _check_packaged_risk(path: Path, shown: str, kind: str, weights: pd.Series,
                         covered: set[str], client: Client) -> None:
    """Every weighted name of a benchmark or target file is in the packaged risk model.

    ``weights``: what was read (a dated benchmark: the weights in force at the client's
    date); the file is read again only to name the rows.
    """
    bad = {t for t, w in weights.items() if w > 0 and t not in covered}
    if not bad:
        return
    df = read_benchmark_weights(path)  # already checked by read_models: for the rows only
    df = df[df.ticker.isin(bad)]
    if df.date.notna().any():
        df = df[df.date <= pd.Timestamp(client.as_of)]
        df = df[df.date == df.date.max()]
    issues = [Issue(shown, int(r.row), "ticker", r.ticker,
                    f"{r.ticker} is not in pma_lab's risk model at {client.as_of} (too "
                    "little price history before that date)",
                    "remove it from the weights (pma_lab does not drop names and rescale "
                    "the rest), or upload a risk model that covers it", code="not_in_risk_model")
              for r in df.itertuples()]
    what = "benchmark weights" if kind == "benchmark" else "target weights"
    err = BenchmarkFileError if kind == "benchmark" else ModelFileError
    raise err(shown, issues, None if err is BenchmarkFileError else what)


class _LRU:
    """A tiny thread-safe LRU mapping."""

    def __init__(self, size: int):
        self.size = size
        self._d: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
            return None

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._d

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()


class _KeyLocks:
    """One lock per key, kept while a thread holds or waits for it.

    ``with locks(key):`` serialises the threads that use the same key; threads with other
    keys do not wait. The lock of a key nobody uses is dropped, so the table stays small.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, list] = {}  # key -> [lock, threads using it]

    @contextmanager
    def __call__(self, key: Hashable) -> Iterator[None]:
        with self._guard:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]


@dataclass
class ProposalEngine:
    """Cached engine calls for one dashboard (one kernel, one user).

    Parameters
    ----------
    settings : DashboardSettings
    market : MarketData | None
        The market data (default: loaded on first use).

    Attributes
    ----------
    calls : dict[str, int]
        How many times each engine call actually ran (cache misses), for tests and the
        status line.

    Notes
    -----
    Safe to call from several threads: a result is computed once (the others asking for
    it wait for it), and different results are computed concurrently (one lock per
    cache key, none held across keys). The risk model of a date is estimated once.
    """

    settings: DashboardSettings = field(default_factory=DashboardSettings.from_proposal)
    market: MarketData | None = None
    calls: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.settings.cache_size
        self._risk: dict = {}
        self._setups = _LRU(n)
        self._frontiers = _LRU(n)
        self._trades = _LRU(4 * n)
        self._transitions = _LRU(4 * n)
        self._lock = threading.Lock()  # the call counts and the market data
        self._key_locks = _KeyLocks()

    # ------------------------------------------------------------------ helpers
    def _count(self, what: str) -> None:
        with self._lock:
            self.calls[what] = self.calls.get(what, 0) + 1

    def _market(self) -> MarketData:
        with self._lock:
            if self.market is None:
                self.market = load_market()
            return self.market

    def key(self, client: Client, models: DashboardModels | None = None) -> str:
        """The cache key of a client (see :func:`client_key`) with the models it uses.

        With the packaged models (``models`` ``None`` or without files) it is the client's
        fingerprint alone; with the researcher's files, the fingerprint and the files'
        (:attr:`DashboardModels.key`), so results are never shared across model files.
        """
        k = client_key(client)
        return k if models is None or models.packaged else f"{k}+{models.key}"

    def is_cached(self, client: Client, plan: str, models: DashboardModels | None = None
                  ) -> bool:
        """True when every result for ``client`` and ``plan`` is already cached."""
        k = self.key(client, models)
        setup = self._setups.get(k)
        return (setup is not None
                and self._frontier_key(client, plan, models, setup) in self._frontiers
                and (k, plan) in self._trades
                and self.has_transition(client, plan, models))

    def cached_trades(self, client: Client, plan: str, models: DashboardModels | None = None
                      ) -> tuple[ClientSetup, RebalanceResult] | None:
        """The set-up and today's trades for ``client`` and ``plan`` if both are cached.

        Never computes and never waits (a result being computed counts as not cached), so
        the dashboard can show today's trades of a prefetched or revisited input at once,
        on the UI thread, and leave the rest of the update to its worker threads.
        """
        k = self.key(client, models)
        setup = self._setups.get(k)
        fy = self._trades.get((k, plan)) if setup is not None else None
        return (setup, fy) if fy is not None else None  # type: ignore[return-value]

    def has_transition(self, client: Client, plan: str,
                       models: DashboardModels | None = None) -> bool:
        """True when the plan comparison for ``client`` and ``plan`` is cached."""
        return self._transition_key(client, plan, models) in self._transitions

    def transition_key(self, client: Client, plan: str,
                       models: DashboardModels | None = None) -> tuple:
        """The cache key of the plan comparison for ``client`` and ``plan``.

        Two inputs with the same key share one comparison (the dashboard stops a running
        comparison only when the inputs now on screen need another key).
        """
        return self._transition_key(client, plan, models)

    def _transition_key(self, client: Client, plan: str,
                        models: DashboardModels | None = None) -> tuple:
        """The plans the comparison runs, as run_transition completes the list.

        The client's own plan is added when no plan of the list is the same, so choosing
        any plan of the proposal's list, or the client's own, shares one run.
        """
        plans = self.settings.plan_list(plan)
        mine = client_plan(SimpleNamespace(client=client)).name  # type: ignore[arg-type]
        if not any(_same_plan(mine, p) for p in plans):
            plans.append(mine)
        return self.key(client, models), tuple(plans)

    def clear(self) -> None:
        """Forget every cached result (the risk models and market data stay)."""
        for c in (self._setups, self._frontiers, self._trades, self._transitions):
            c.clear()

    def _cached(self, cache: _LRU, key: Hashable, what: str,
                make: Callable[[], object]) -> tuple[object, bool]:
        hit = cache.get(key)
        if hit is not None:
            return hit, True
        with self._key_locks((what, key)):  # only the threads asking for this result wait
            hit = cache.get(key)
            if hit is not None:
                return hit, True
            value = make()
            self._count(what)
            cache.put(key, value)
            return value, False

    # ------------------------------------------------------------------ stages
    def risk_for(self, client: Client) -> RiskModel | None:
        """The cached risk model at the client's date, if one was estimated."""
        return self._risk.get(client.as_of)

    def setup(self, client: Client, models: DashboardModels | None = None
              ) -> tuple[ClientSetup, bool]:
        """``prepare(client)``, sharing the risk model across clients at the same date.

        ``models``: the researcher's files (:class:`DashboardModels`), passed to ``prepare``;
        without a risk-model file the packaged one of the date is shared as well (a file's
        risk model is never cached as the date's). Returns the setup and whether it came
        from the cache.
        """
        own = models.prepare_args() if models is not None else {}

        def make() -> ClientSetup:
            market = self._market()
            if "risk" in own:
                return prepare(client, market=market, **own)  # type: ignore[arg-type]
            risk = self._risk.get(client.as_of)
            if risk is not None:
                return prepare(client, market=market, risk=risk, **own)  # type: ignore[arg-type]
            # the first client at this date estimates the risk model; another client at the
            # same date waits for it rather than estimating it again
            with self._key_locks(("risk", client.as_of)):
                s = prepare(client, market=market, risk=self._risk.get(client.as_of),
                            **own)  # type: ignore[arg-type]
                self._risk.setdefault(client.as_of, s.risk)
                return s

        return self._cached(self._setups, self.key(client, models), "prepare", make)  # type: ignore[return-value]

    def frontier(self, client: Client, setup: ClientSetup,
                 models: DashboardModels | None = None,
                 plan: str | None = None) -> tuple[Frontier, bool]:
        """The tax vs tracking-error frontier of the first taxable account.

        With ``plan`` (its text, as :meth:`first_year` reads it; default the profile's
        plan), every point is on the account that plan trades today: its withdrawal (or
        addition) and its gift of lots to charity made first, as in the proposal
        (:func:`pma_lab.report.proposal.frontier`), so the plan's marker and the points
        share one account value. Plans with the same cash flow and gift share one
        frontier.
        """
        p = self._plan(setup, plan) if plan is not None else None

        def make() -> Frontier:
            return report.frontier(setup, self.settings.frontier_points, plan=p)

        return self._cached(self._frontiers, self._frontier_key(client, plan, models, setup),
                            "frontier", make)  # type: ignore[return-value]

    def _frontier_key(self, client: Client, plan: str | None,
                      models: DashboardModels | None = None,
                      setup: ClientSetup | None = None) -> Hashable:
        """The frontier cache key: the client's, with the plan's cash flow and gift.

        The plan is ``plan``'s text read with the profile's gift (:meth:`_plan`), or the
        profile's plan without one; a gift's key names the lots it may give (the
        concentrated position as the plan treats it). No flow and no gift: the client's
        key alone.
        """
        k = self.key(client, models)
        try:
            p = client_plan(setup) if plan is None and setup is not None else \
                self._plan(setup, plan) if setup is not None else parse_plan(plan or "")
        except PmaLabError:
            return k
        flow, gift = float(p.flow), float(p.gift)
        if not flow and not gift:
            return k
        skip = tuple(sorted(set().union(*_concentrated(setup, p)))) \
            if gift and setup is not None else ()
        return (k, flow, gift, skip)

    @staticmethod
    def _plan(setup: ClientSetup, plan: str):
        """``plan``'s text parsed as :meth:`first_year` and ``run_transition`` parse it."""
        prof = setup.client.profile
        return parse_plan(plan, prof.charity.annual_gift if prof.charity else 0.0)

    def first_year(self, client: Client, setup: ClientSetup, plan: str,
                   models: DashboardModels | None = None) -> tuple[RebalanceResult, bool]:
        """The trades the plan makes today (its first step), as the proposal reads them.

        The plan run's own first step (``first_trades(..., run=)``), never a step solved
        apart from it: the expected-path run of the plan comparison when it is cached (as
        the proposal's :func:`~pma_lab.report.proposal.todays_trades` reads it), else the
        plan's brief run (:func:`~pma_lab.plan.transition.first_step_run`: its first plan
        year, so the trades show before the comparison). ``first_trades`` solves the step
        only when the run did not (a step that failed raises its error as before) or
        could not be made (a later step of the brief run refused: the comparison says why).
        """
        def make() -> RebalanceResult:
            # parsed as run_transition parses plan text: with the profile's annual gift
            prof = setup.client.profile
            gift = prof.charity.annual_gift if prof.charity else 0.0
            p = parse_plan(plan, gift)
            s = self.settings.transition_settings()
            an = self._transitions.get(self._transition_key(client, plan, models))
            run = next((r for r in an.runs if r.path == "expected" and r.plan == p), None) \
                if an is not None else None  # type: ignore[attr-defined]
            if run is None:
                # a later step's refusal (a year-2 withdrawal the account cannot pay) is
                # the comparison's to say; today's step is then solved, as before
                with contextlib.suppress(PmaLabError):
                    run = first_step_run(setup, p, s)
            return first_trades(setup, p, s, run=run)

        return self._cached(self._trades, (self.key(client, models), plan), "first_trades",
                            make)  # type: ignore[return-value]

    def transition(self, client: Client, setup: ClientSetup, plan: str,
                   cancel: threading.Event | None = None,
                   models: DashboardModels | None = None) -> tuple[TransitionAnalysis, bool]:
        """The proposal's plans, the chosen one and the references (hold, the client's).

        ``cancel`` set while the plans are compared (the dashboard's user chose another
        client): :class:`~pma_lab.errors.CancelledError` is raised, the plan workers are
        killed and nothing is cached, so a later call computes the comparison again.
        """
        def make() -> TransitionAnalysis:
            return run_transition(setup, self.settings.plan_list(plan),
                                  self.settings.transition_settings(), cancel=cancel)

        return self._cached(self._transitions, self._transition_key(client, plan, models),
                            "transition", make)  # type: ignore[return-value]


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """Call ``fn`` and return its result and the wall time in seconds."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0
