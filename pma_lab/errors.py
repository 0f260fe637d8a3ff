"""One error tree for pma_lab.

Every exception raised on purpose by pma_lab derives from :class:`PmaLabError`. Messages say
what is wrong *and* how to fix it. Each class docstring says whether retrying with corrected
input can help.

Input problems found while reading a file are collected as :class:`Issue` records (file,
row, column, value, message, fix) and raised together in one :class:`InputError`, so a user
sees every problem in a file at once rather than one per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = [
    "PmaLabError",
    "DataError",
    "SettingsError",
    "ConstraintError",
    "InputError",
    "LotDataError",
    "ProfileError",
    "ClientFilesError",
    "BlotterError",
    "LotsBlotterError",
    "ModelFileError",
    "BenchmarkFileError",
    "PriceDataError",
    "MarketDataError",
    "LedgerError",
    "InsufficientSharesError",
    "RestrictionError",
    "OptimizationError",
    "InfeasibleError",
    "WithdrawalBudgetError",
    "UnboundedError",
    "SolverFailedError",
    "NotDPPError",
    "ProposalFailedError",
    "OutputPathError",
    "CancelledError",
    "Severity",
    "Issue",
]


class PmaLabError(Exception):
    """Root of every error pma_lab raises on purpose."""


class DataError(PmaLabError, ValueError):
    """Input data is wrong. Recoverable: fix the data named in the message and retry."""


class SettingsError(DataError):
    """A settings or model value is out of range, unknown or inconsistent.

    Raised when a settings object is built (``__post_init__``), so a bad value never reaches
    a solver. The message names the field, the value and the accepted values. Recoverable:
    change the named field and build the settings again.
    """


class ConstraintError(SettingsError):
    """A constraint given to ``RebalanceProblem.add_constraint`` cannot be used.

    Raised when the constraint is added (a function is called with the problem then, a
    constraint object compiled), never later at solve: the function does not take the
    problem, raised (e.g. a ticker the account neither holds nor targets), returned
    something other than cvxpy constraints, mixed shapes, wrote a constraint that is not
    convex or not DPP, or used another problem's variables. The message says what was
    wrong, what the function receives and must return, with an example. Recoverable: fix
    the constraint and add it again (the problem is unchanged).
    """


class Severity(StrEnum):
    """How serious an input finding is."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    """One finding about an input file.

    Attributes
    ----------
    file : str
        The file the finding is about (as given by the user).
    row : int | None
        The row in the file as a spreadsheet shows it (header = row 1), or ``None`` when the
        finding is about the whole file or a profile key.
    column : str | None
        The column name as it appears in the file, or the profile key path (``tax.st_rate``).
    value : str | None
        The offending value, as text.
    message : str
        What is wrong.
    fix : str
        How to fix it.
    severity : Severity
        ``ERROR`` stops the load; ``WARNING`` is reported but the load goes on.
    code : str
        A stable machine-readable code (``missing_column``, ``non_positive_shares`` ...),
        used by tests and by the dashboard's error panel.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str
    fix: str
    severity: Severity = Severity.ERROR
    code: str = "invalid"

    def format(self) -> str:
        """Render the finding as one human-readable line."""
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        val = "" if self.value is None else f" (value: {self.value!r})"
        tag = "warning" if self.severity is Severity.WARNING else "error"
        return f"{', '.join(where)}: {tag}: {self.message}{val}. Fix: {self.fix}"


class InputError(DataError):
    """A user input file has one or more problems; ``issues`` lists all of them.

    Recoverable: correct the file as each issue's ``fix`` says and load it again.
    """

    kind = "input"
    #: how many files ``kind`` names (the profile and lots files are two): the plural
    files = 1
    max_lines = 40

    def __init__(self, source: str, issues: Sequence[Issue]):
        self.source = source
        self.issues: tuple[Issue, ...] = tuple(issues)
        errors = [i for i in self.issues if i.severity is Severity.ERROR]
        head = (
            f"{source}: {len(errors)} problem{'s' if len(errors) != 1 else ''} found in the "
            f"{self.file_words}; nothing was loaded"
        )
        shown = sorted(self.issues, key=lambda i: (i.severity is not Severity.ERROR,
                                                   i.row if i.row is not None else -1))
        lines = [head] + ["  - " + i.format() for i in shown[:self.max_lines]]
        if len(shown) > self.max_lines:
            lines.append(f"  ... and {len(shown) - self.max_lines} more (see .issues)")
        super().__init__("\n".join(lines))

    def __reduce__(self):
        # picklable across processes (batch workers, process pools)
        return (type(self), (self.source, self.issues))

    @property
    def file_words(self) -> str:
        """The file or files the problems are in (``kind`` and ``files``).

        ``"lots file"``, ``"profile and lots files"``.
        """
        return f"{self.kind} file{'s' * (self.files > 1)}"

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of the error-severity issues, in file order."""
        return tuple(i.code for i in self.issues if i.severity is Severity.ERROR)


class LotDataError(InputError):
    """A tax-lots file (CSV/XLSX) is malformed. Fix the named rows and columns."""

    kind = "lots"


class ProfileError(InputError):
    """A client profile (TOML) is malformed. Fix the named keys.

    ``lots``: what :func:`pma_lab.io.profile.load_profile` could read of the profile's
    ``[lots]`` section, accounts and date despite the errors (``None`` if nothing), so the
    lots files can still be checked and their errors reported with the profile's.
    """

    kind = "profile"
    lots: object | None = None


class ClientFilesError(ProfileError):
    """A profile and its lots files both have problems, every one listed.

    Each names its file, row, column and fix (:func:`pma_lab.io.client.load_client`), so
    fixing the profile does not only reveal the lots' errors on the next run. A
    :class:`ProfileError`, so whatever handles a profile's errors handles these.
    """

    kind = "profile and lots"
    files = 2


class BlotterError(InputError):
    """A trade blotter (CSV/XLSX) is malformed. Fix the named rows and columns."""

    kind = "blotter"


class LotsBlotterError(BlotterError):
    """A lots file and the recent-trades blotter disagree about a lot (its basis).

    Each issue names the lots file's row and column and the blotter's row
    (:meth:`pma_lab.io.client.Client.ledger`); a :class:`BlotterError`, so whatever
    handles a blotter's errors handles these.
    """

    kind = "lots and blotter"
    files = 2


class ModelFileError(InputError):
    """A researcher's model file is malformed: a risk model, a benchmark or a target.

    Read by :func:`pma_lab.io.models.read_models` (``--risk-model``, ``--benchmark``,
    ``--target``). Every problem is listed with its file, row, column and fix: an unknown
    ticker, weights not summing to 1 (never renormalised), a covariance that is not
    symmetric or not positive semidefinite, duplicate rows, missing columns or files.
    Recoverable: correct the file as each issue says and run again.
    """

    kind = "model"

    def __init__(self, source: str, issues: Sequence[Issue], kind: str | None = None,
                 files: int = 1):
        if kind is not None:
            self.kind = kind
        self.files = files  # several files' problems at once (read_models): the plural
        super().__init__(source, issues)

    def __reduce__(self):
        return (type(self), (self.source, self.issues, self.kind, self.files))


class BenchmarkFileError(ModelFileError):
    """A benchmark weights file (CSV/XLSX) is malformed. Fix the named rows and columns."""

    kind = "benchmark weights"


class MarketDataError(DataError):
    """The packaged market data is missing or inconsistent.

    Not recoverable by the user's input: rebuild ``data/samples/market`` with
    ``scripts/build_market_data.py`` or point ``PMA_LAB_DATA`` at a complete copy.
    """


class PriceDataError(DataError):
    """No usable price for a ticker at a date (outside coverage, or a data gap).

    Recoverable: choose another ``as_of`` date, or supply the price explicitly.
    """


class LedgerError(PmaLabError):
    """A transaction cannot be applied to the tax-lot ledger as asked.

    For example selling a lot that does not exist. Recoverable by correcting the transaction.

    Attributes
    ----------
    column : str | None
        The blotter column to correct (``shares``, ``lot_id``, ``date``), when known.
    fix : str | None
        How to correct it, when the message does not already say.
    problems : tuple[tuple[int | None, str | None, str | None, str, str], ...]
        Set by :func:`pma_lab.tax.ledger.replay`: every sale of the blotter that could not
        be applied, as ``(row, column, value, message, fix)``, in the order replayed.
    """

    def __init__(self, message: str, *, column: str | None = None, fix: str | None = None,
                 problems: Sequence[tuple[int | None, str | None, str | None, str, str]] = ()):
        super().__init__(message)
        self.column = column
        self.fix = fix
        self.problems = tuple(problems)

    def __reduce__(self):
        return (_ledger_error, (type(self), str(self), self.column, self.fix, self.problems))


def _ledger_error(cls: type[LedgerError], message: str, column: str | None, fix: str | None,
                  problems: tuple) -> LedgerError:
    return cls(message, column=column, fix=fix, problems=problems)


class InsufficientSharesError(LedgerError):
    """A sale asks for more shares than the account holds in that ticker (or lot)."""


class RestrictionError(DataError):
    """A restriction or screen is unknown or contradictory. Fix the profile's restrictions."""


class OptimizationError(PmaLabError):
    """An optimisation did not produce a usable answer."""


class InfeasibleError(OptimizationError):
    """The constraints cannot all hold at once.

    The message names the conflicting constraints; relax one of them and retry. Retrying
    unchanged will not help.
    """

    def __init__(self, message: str, conflicts: Iterable[str] = ()):
        self.conflicts = tuple(conflicts)
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (str(self), self.conflicts))


class WithdrawalBudgetError(InfeasibleError):
    """A plan's withdrawal needs more realised gain than its gains budget leaves.

    Raised by a plan's step (:mod:`pma_lab.plan.withdrawal`): the sales of least tax that
    pay ``withdrawal`` USD realise at least ``gains`` USD of net gain, and the budget
    leaves ``allowed`` USD for the year. Fix: a smaller withdrawal or the cap that binds
    (``cap``) larger by ``gains - allowed``. ``spent``: the gains the tax year's earlier sales
    realised against that budget (``budget`` USD; 0: none, or not known); ``carried``: the
    loss carried into the year (0: none), ``carried_st`` and ``carried_lt`` by character;
    ``offset``: the withdrawal's net gain that loss offsets with no tax (the loss less the
    year's loss limit against ordinary income and the year's other net gains), less than
    ``gains`` (a withdrawal whose gains it offsets is paid). ``cap``: the cap that binds,
    a :class:`~pma_lab.optimize.settings.Budgets` field (``"total"``, ``"short_term"`` or
    ``"long_term"``; ``""``: not known), whose value is ``budget`` and which ``gains`` and
    ``allowed`` are counted by (a short-term cap counts the short-term gains alone).
    ``forced``: the part of ``gains`` the restrictions' sales of the same day realise
    (made whatever the tax: a must-sell name, a ``sell_within`` glide's share; 0: none).
    """

    def __init__(self, message: str, conflicts: Iterable[str] = (), withdrawal: float = 0.0,
                 gains: float = 0.0, allowed: float = 0.0, year: int = 0,
                 spent: float = 0.0, budget: float = 0.0, carried: float = 0.0,
                 carried_st: float = 0.0, carried_lt: float = 0.0, offset: float = 0.0,
                 cap: str = "", forced: float = 0.0):
        super().__init__(message, conflicts)
        self.cap = str(cap)
        self.forced = float(forced)
        self.withdrawal, self.gains, self.allowed = float(withdrawal), float(gains), \
            float(allowed)
        self.year = int(year)  # the tax year of the step
        self.spent, self.budget = float(spent), float(budget)
        self.carried = float(carried)
        self.carried_st, self.carried_lt = float(carried_st), float(carried_lt)
        self.offset = float(offset)

    def __reduce__(self):
        return (type(self), (str(self), self.conflicts, self.withdrawal, self.gains,
                             self.allowed, self.year, self.spent, self.budget, self.carried,
                             self.carried_st, self.carried_lt, self.offset, self.cap,
                             self.forced))


class UnboundedError(OptimizationError):
    """The problem is unbounded: a formulation bug, not a data problem."""


class SolverFailedError(OptimizationError):
    """The solver stopped without a reliable answer (numerical trouble or a limit).

    Retrying with the same input will not help; try another solver or rescale.
    """


class ProposalFailedError(PmaLabError):
    """The proposal notebook failed in a cell.

    The executed notebook (with the error in the failing cell) and ``error.txt`` are kept;
    the message names the cell and the error. Recoverable when the error is in the input
    (fix the profile, lots or parameters and render again).
    """

    def __init__(self, message: str, notebook: Path, error_file: Path, ename: str = "",
                 evalue: str = ""):
        self.notebook, self.error_file, self.ename, self.evalue = (notebook, error_file,
                                                                   ename, evalue)
        super().__init__(message)

    def __reduce__(self):
        # picklable across processes (batch workers, process pools)
        return (type(self), (str(self), self.notebook, self.error_file, self.ename,
                             self.evalue))


class OutputPathError(DataError):
    """An output would replace an input, a symbolic link or a folder, so nothing was written.

    Recoverable: choose another output path (or remove the link) and run again.
    """


class CancelledError(PmaLabError):
    """A computation was stopped by its caller before it finished (its ``cancel`` event).

    Raised, for example, by :func:`pma_lab.plan.transition.run_transition` when the
    dashboard's user chose another client while the previous client's plans were being
    compared. Nothing of the stopped work is kept or cached. Recoverable: run it again
    (the dashboard does when the user returns to that client).
    """


class NotDPPError(PmaLabError):
    """A cvxpy problem is not DPP-compliant: a formulation bug, not a data problem."""
