"""Checks shared by the ``__post_init__`` of every settings dataclass.

Each check raises :class:`~pma_lab.errors.SettingsError` with a message that names the
settings type, the field, the value given, the range or choices accepted and how to fix
it, e.g. ``RebalanceSettings(spread=-0.01): spread must be >= 0 (a cost per unit of weight
traded, e.g. 0.0005 = 5 bp); pass a value >= 0``. Settings are checked when they are built,
so a bad value never reaches a solver.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields, replace
from enum import Enum
from typing import Any, TypeVar

from pma_lab.errors import SettingsError

__all__ = ["check_number", "check_choice", "check_int", "check_text", "check_series",
           "as_choice", "replace_settings"]

E = TypeVar("E", bound=Enum)
S = TypeVar("S")


def replace_settings(settings: S, changes: dict[str, Any], where: str) -> S:
    """``dataclasses.replace(settings, **changes)``, an unknown setting named with its fix.

    Parameters
    ----------
    settings : dataclass instance
        The settings to change (e.g. a :class:`~pma_lab.optimize.rebalance.RebalanceSettings`).
    changes : dict[str, Any]
        Field overrides.
    where : str
        What was called, for the message (e.g. ``"RebalanceProblem.update"``).

    Raises
    ------
    SettingsError
        For a key that is not a field, with the closest field (``gama_tax``: did you mean
        ``gamma_tax``?) and every valid name; ``replace`` raised a bare ``TypeError``.
        Bad values raise from the settings' own ``__post_init__``.

    >>> from pma_lab.optimize.rebalance import RebalanceSettings
    >>> replace_settings(RebalanceSettings(), {"gama_tax": 1}, "update")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    pma_lab.errors.SettingsError: update(gama_tax=1): gama_tax is not a setting ... 'gamma_tax'? ...
    """
    names = [f.name for f in fields(settings) if f.init]  # type: ignore[arg-type]
    unknown = [k for k in changes if k not in names]
    if unknown:
        import difflib

        parts = []
        for k in unknown:
            close = difflib.get_close_matches(k, names, n=1, cutoff=0.6)
            parts.append(f"{k} is not a setting of {type(settings).__name__}"
                         + (f"; did you mean {close[0]!r}?" if close else "."))
        given = ", ".join(f"{k}={changes[k]!r}" for k in unknown)
        raise SettingsError(f"{where}({given}): {' '.join(parts)} Valid settings: "
                            f"{', '.join(names)}")
    return replace(settings, **changes)  # type: ignore[type-var]


def _where(owner: object, name: str, value: object) -> str:
    return f"{type(owner).__name__}({name}={value!r})"


def _range(value, low: float | None, high: float | None, low_open: bool,  # noqa: ANN001
           high_open: bool) -> tuple[str, object]:
    """The accepted range in words and whether ``value`` falls outside it.

    ``value`` is a number or an array (compared elementwise); the words read e.g.
    ``">= 0 and < 1"``.
    """
    parts = []
    bad = False
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
        bad = bad | (value <= low if low_open else value < low)
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
        bad = bad | (value >= high if high_open else value > high)
    return " and ".join(parts), bad


def check_number(owner: object, name: str, *, low: float | None = None,
                 high: float | None = None, low_open: bool = False, high_open: bool = False,
                 optional: bool = False, meaning: str = "") -> None:
    """Check that ``owner.name`` is a finite real number in the given range.

    Parameters
    ----------
    owner : object
        The settings instance (its type names the error).
    name : str
        The field to check.
    low, high : float | None
        Bounds (``None``: unbounded on that side).
    low_open, high_open : bool
        Whether the bound itself is excluded.
    optional : bool
        Whether ``None`` is allowed (it means "not set").
    meaning : str
        What the number is, in words, for the message (e.g. "a fraction of the account").

    Raises
    ------
    SettingsError
        When the value is not a number, not finite or out of range.
    """
    value = getattr(owner, name)
    if value is None and optional:
        return
    what = f" ({meaning})" if meaning else ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(f"{_where(owner, name, value)}: {name} must be a number{what}"
                            f"{' or None' if optional else ''}; pass a number")
    if not math.isfinite(value):
        raise SettingsError(f"{_where(owner, name, value)}: {name} must be finite{what}"
                            f"{'; use None for no limit' if optional else ''}")
    rng, bad = _range(value, low, high, low_open, high_open)
    if bad:
        raise SettingsError(f"{_where(owner, name, value)}: {name} must be {rng}{what}; "
                            f"pass a value {rng}")


def check_int(owner: object, name: str, *, low: int | None = None, optional: bool = False,
              meaning: str = "") -> None:
    """Check that ``owner.name`` is a whole number (not a bool) of at least ``low``.

    Raises
    ------
    SettingsError
        When the value is not an integer or is below ``low``.
    """
    value = getattr(owner, name)
    if value is None and optional:
        return
    what = f" ({meaning})" if meaning else ""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{_where(owner, name, value)}: {name} must be a whole "
                            f"number{what}{' or None' if optional else ''}; pass an int")
    if low is not None and value < low:
        raise SettingsError(f"{_where(owner, name, value)}: {name} must be >= {low}{what}; "
                            f"pass a whole number >= {low}")


def as_choice(value: object, enum: type[E], where: str) -> E:
    """``value`` as a member of ``enum`` (a member or its string value).

    Parameters
    ----------
    value : object
        The value given.
    enum : type[Enum]
        The accepted choices.
    where : str
        What was called, for the message (e.g. ``"solve(method='two-step')"``).

    Raises
    ------
    SettingsError
        Naming the accepted values (and the closest one when the value looks like a typo).
    """
    try:
        return enum(value)
    except ValueError:
        import difflib

        choices = [str(m.value) for m in enum]
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SettingsError(f"{where}: must be one of {', '.join(repr(c) for c in choices)}"
                            f" (or {enum.__name__}.<member>){hint}") from None


def check_choice(owner: object, name: str, enum: type[E], *, optional: bool = False) -> None:
    """Check ``owner.name`` against an enum's values and store the enum member.

    A string equal to a member's value (``"forbid"``) is accepted and replaced by the
    member (``WashSaleMode.FORBID``); as the enums derive from ``str``, code comparing
    the field with the string keeps working.

    Raises
    ------
    SettingsError
        Naming the accepted values (and the closest one when the value looks like a typo).
    """
    value = getattr(owner, name)
    if value is None and optional:
        return
    object.__setattr__(owner, name, as_choice(value, enum, _where(owner, name, value)))


def check_text(owner: object, name: str, *, pattern: str | None = None,
               allow_empty: bool = True, example: str = "") -> None:
    """Check that ``owner.name`` is a string, optionally matching a regular expression.

    Parameters
    ----------
    owner : object
        The settings instance (its type names the error).
    name : str
        The field to check.
    pattern : str | None
        A regular expression the whole text must match (an empty text is checked by
        ``allow_empty`` instead).
    allow_empty : bool
        Whether ``""`` is accepted.
    example : str
        A valid value, quoted in the message (e.g. ``"#0b3d91"``).

    Raises
    ------
    SettingsError
        When the value is not a string, is empty when it may not be, or does not match.
    """
    value = getattr(owner, name)
    eg = f", e.g. {example!r}" if example else ""
    if not isinstance(value, str):
        raise SettingsError(f"{_where(owner, name, value)}: {name} must be text; pass a "
                            f"string{eg}")
    if not value.strip():
        if allow_empty:
            return
        raise SettingsError(f"{_where(owner, name, value)}: {name} must not be empty; pass "
                            f"a non-empty string{eg}")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise SettingsError(f"{_where(owner, name, value)}: {name} is not in the expected "
                            f"form; pass text matching {pattern}{eg}")


def check_series(owner: object, name: str, *, low: float | None = None,
                 high: float | None = None, low_open: bool = False,
                 meaning: str = "") -> None:
    """Check that ``owner.name`` is a pandas Series of finite numbers in a range, by label.

    Parameters
    ----------
    owner : object
        The settings instance (its type names the error).
    name : str
        The field to check.
    low, high : float | None
        Bounds, inclusive (``low_open``: ``low`` excluded); ``None``: unbounded.
    meaning : str
        What the numbers are, in words, for the message.

    Raises
    ------
    SettingsError
        When the value is not a Series with unique labels, or a value is not a finite
        number in range (naming up to five offending labels).
    """
    import numpy as np
    import pandas as pd

    value = getattr(owner, name)
    where = f"{type(owner).__name__}.{name}"
    what = f" ({meaning})" if meaning else ""
    if not isinstance(value, pd.Series):
        raise SettingsError(f"{where} must be a pandas Series indexed by ticker{what}; got "
                            f"{type(value).__name__}; pass pd.Series(values, index=tickers)")
    if not value.index.is_unique:
        dup = sorted(map(str, value.index[value.index.duplicated()].unique()))[:5]
        raise SettingsError(f"{where} has duplicate labels {', '.join(dup)}; give each "
                            "ticker once")
    num = pd.to_numeric(value, errors="coerce").astype(float).to_numpy()
    rng, out = _range(num, low, high, low_open, False)
    bad = ~np.isfinite(num) | out
    if bad.any():
        rows = ", ".join(f"{k}={v!r}" for k, v in value[bad].head(5).items())
        rng = f" {rng}" if rng else ""
        raise SettingsError(f"{where}: {int(bad.sum())} value(s) are not finite numbers"
                            f"{rng}{what} ({rows}); fix those tickers' values")
