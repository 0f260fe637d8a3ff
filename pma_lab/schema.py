"""Names in one place: canonical columns, the aliases custodians use, and issue codes.

Ingestion maps a file's header onto the canonical fields below through the alias table
(case, spaces, punctuation and ``#`` are ignored when comparing), validates every row once,
and returns typed objects; nothing downstream looks at a raw header again.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

__all__ = [
    "Field",
    "LOT_FIELDS",
    "BLOTTER_FIELDS",
    "header_key",
    "RESTRICTION_CATEGORIES",
    "GICS_SECTORS",
    "ISSUE_CODES",
    "Limits",
    "LIMITS",
    "ReadPolicy",
    "WITHDRAWAL_INPUT",
    "WITHDRAWAL_WHEN",
    "withdrawal_word",
]


def header_key(name: object) -> str:
    """Comparison key of a header cell: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@dataclass(frozen=True)
class Field:
    """A canonical column: its name, whether it is required, and accepted header aliases."""

    name: str
    required: bool
    aliases: tuple[str, ...]
    help: str

    def keys(self) -> set[str]:
        """Header keys that map to this field."""
        return {header_key(a) for a in (self.name, *self.aliases)}


LOT_FIELDS: tuple[Field, ...] = (
    Field("lot_id", False, ("lot", "lot id", "lot number", "lot no", "tax lot id", "lotid"),
          "unique id of the lot; generated from the file row when absent"),
    Field("account", False, ("account id", "account number", "account name", "acct",
                             "portfolio"),
          "account id as declared in the profile's [[accounts]]; default: the profile's "
          "lots.default_account"),
    Field("ticker", True, ("symbol", "security symbol", "ticker symbol", "security id",
                           "stock symbol"),
          "exchange ticker, e.g. AAPL or BRK.B"),
    Field("acquired", True, ("acquisition date", "date acquired", "acquired date", "open date",
                             "trade date", "purchase date", "date", "opened",
                             "acquired/open date", "open/acquired date"),
          "trade date the lot was acquired (YYYY-MM-DD preferred)"),
    Field("shares", True, ("quantity", "qty", "units", "share quantity", "shares held",
                           "quantity held"),
          "number of shares in the lot, > 0"),
    Field("cost_per_share", False, ("cost basis per share", "basis per share", "unit cost",
                                    "cost/share", "price paid", "purchase price",
                                    "cost per share", "average cost", "acquisition price"),
          "cost basis per share in USD (give this or cost_total)"),
    Field("cost_total", False, ("cost basis", "cost basis total", "total cost", "cost",
                                "total cost basis", "basis", "cost basis ($)"),
          "total cost basis of the lot in USD (give this or cost_per_share)"),
    Field("inherited", False, ("step up", "stepped up", "inherited lot"),
          "yes/no: inherited lot (basis already stepped up; always long-term)"),
    Field("gift_date", False, ("date of gift", "gift date", "date gifted", "gifted date",
                               "gift received date", "date received as gift"),
          "for a lot received as a gift: the day it was received (then 'acquired' is the "
          "donor's acquisition date and the cost basis the donor's); blank otherwise"),
    Field("fmv_at_gift", False, ("fmv at gift", "gift fmv", "fmv on gift date",
                                 "fmv at date of gift", "fair market value at gift",
                                 "fair market value on date of gift", "gift date fmv",
                                 "gift date value", "value at gift", "fmv at gift total"),
          "for a gift lot: the total fair market value of its shares on the gift date in "
          "USD (below the donor's basis it is the basis for a loss, IRC §1015)"),
    Field("fmv_per_share_at_gift", False, (
        "fmv per share at gift", "fmv per share", "gift fmv per share",
        "fmv per share on gift date", "fmv per share at date of gift", "fmv/share at gift",
        "per share fmv at gift", "fair market value per share at gift",
        "fair market value per share on date of gift", "gift date fmv per share",
        "gift date price", "price on gift date", "price at gift", "value per share at gift",
        "unit fmv at gift", "gift fmv/share"),
          "for a gift lot, instead of fmv_at_gift: the fair market value of one share on the "
          "gift date in USD (times the shares, it is the lot's FMV at the gift); give one of "
          "the two, or both if they agree"),
)
"""Columns of a tax-lots file."""

BLOTTER_FIELDS: tuple[Field, ...] = (
    Field("date", True, ("trade date", "transaction date", "run date"), "trade date"),
    Field("account", True, ("account id", "account number", "acct"),
          "account id (a file without one is read with the profile's lots.default_account)"),
    Field("account_type", True, ("acct type", "type of account", "registration"),
          "taxable or ira (a file without one is read with the profile, whose [[accounts]] "
          "give each account's type)"),
    Field("ticker", True, ("symbol",), "exchange ticker"),
    Field("side", True, ("action", "buy/sell", "transaction", "b/s"),
          "buy or sell (an activity export's YOU BOUGHT / YOU SOLD / REINVESTMENT words too)"),
    Field("shares", True, ("quantity", "qty"),
          "shares traded, > 0 (a sale's quantity may be written negative, as activity "
          "exports do)"),
    Field("price", True, ("trade price", "execution price", "price per share"),
          "price per share in USD, >= 0"),
    Field("lot_id", False, ("lot", "lot id", "versus lot"),
          "sell: the lot to relieve (specific identification); buy: id for the new lot"),
    Field("method", False, ("lot method", "relief method", "cost basis method"),
          "fifo, hifo, specific or min_tax (default: fifo, or specific when lot_id is set)"),
    Field("fees", False, ("fee", "fees & comm", "fees & commissions",
                          "fees and commissions"), "fees in USD (added to the commission)"),
    Field("commission", False, ("commissions",), "commission in USD (added to the fees)"),
    Field("time", False, ("trade time", "execution time", "time of trade"),
          "time of day HH:MM[:SS] (24-hour); orders a day's trades (default: file order)"),
    Field("acquired", False, ("date acquired", "acquired date", "acquisition date",
                              "open date", "date opened"),
          "sell of shares bought before the blotter: the sold lot's acquisition date (with "
          "cost_basis)"),
    Field("cost_basis", False, ("cost basis", "cost basis total", "total cost basis",
                                "cost basis ($)"),
          "sell of shares bought before the blotter: the shares' total cost basis in USD "
          "(with acquired)"),
)
"""Columns of a trade blotter."""

RESTRICTION_CATEGORIES: tuple[str, ...] = (
    "fossil_fuels",
    "controversial_weapons",
    "civilian_firearms",
    "alcohol",
    "tobacco",
    "gambling",
    "adult_entertainment",
    "catholic_values",
    "shariah",
    "human_rights",
)
"""Identifiers of the category and theme screens a profile may name."""

GICS_SECTORS: tuple[str, ...] = (
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
)
"""The eleven GICS sectors (2023 structure)."""

@dataclass(frozen=True)
class Limits:
    """Plausibility bounds every number and date read from a user file must meet.

    They are far outside anything a real account holds, so they never reject real data;
    they stop overflow (``1e308``, 400-digit cells), absurd typos and Excel's day zero
    (1899-12-30/31) before they reach the arithmetic.

    Attributes
    ----------
    max_shares : float
        Largest share count of one lot or trade (1e9: more than the float of most S&P 500
        companies).
    min_shares : float
        Smallest positive share count (1e-6, a micro-share; custodians report at most 6
        decimals).
    max_price : float
        Largest price or cost per share in USD (1e7; the dearest US share is below 1e6).
    max_amount : float
        Largest dollar amount (total cost, fee, income, budget, cash): 1e12 USD.
    earliest_date, latest_date : datetime.date
        Dates outside this window are input errors whatever the as-of date.
    basis_band : float
        A lot's cost per share may be at most this factor above or below the (split- and
        dividend-adjusted) market close of the acquisition day; see
        :func:`pma_lab.io.ingest.read_lots`.
    """

    max_shares: float = 1e9
    min_shares: float = 1e-6
    max_price: float = 1e7
    max_amount: float = 1e12
    earliest_date: dt.date = dt.date(1900, 1, 1)
    latest_date: dt.date = dt.date(2100, 12, 31)
    basis_band: float = 20.0


LIMITS = Limits()
"""The bounds in force (one instance, used by ingestion and profile validation)."""


@dataclass(frozen=True)
class ReadPolicy:
    """Opt-ins that relax ingestion checks for one client (``[lots]`` keys of the profile).

    Attributes
    ----------
    allow_hidden : bool
        Read hidden (or filtered-out) rows and columns and hidden sheets of a workbook as data
        (reported as warnings). Default: hidden content is an error, since a reader cannot
        see what the file says.
    allow_before_market_data : bool
        Accept lots acquired before the packaged prices start (2000-01-03 for stocks,
        1993-01-29 for ETFs); their basis cannot be checked against the market, which is
        reported as a warning. Default: such dates are errors.
    """

    allow_hidden: bool = False
    allow_before_market_data: bool = False


ISSUE_CODES: dict[str, str] = {
    # file level
    "file_not_found": "the file does not exist",
    "unsupported_format": "the file is not .csv, .txt, .xlsx or .toml",
    "unreadable_file": "the file cannot be opened as the format its name says",
    "unusable_file": "a file that reads cannot be used (e.g. no prices for its date), listed "
                     "with other files' problems; the message says why and how to fix it",
    "empty_file": "the file is empty",
    "header_only": "the file has a header but no data rows",
    "not_utf8": "the file is not UTF-8 text",
    "wrong_delimiter": "the file is not comma-separated and names no known column",
    "detected_delimiter": "the file is separated by semicolons, tabs or pipes (warning)",
    "decimal_comma": "numbers were read with decimal commas (warning)",
    "one_group_number": "a number with one thousands group (1.500, 1,500) read as the file's "
                        "decimal mark says, named with what it would mean otherwise (warning)",
    "mixed_decimal_marks": "numbers use both decimal commas and decimal points",
    "excel_formula": "a cell holds a formula instead of a value",
    "excel_merged_cells": "the sheet has merged cells",
    "excel_sheet_choice": "the workbook has several sheets (warning)",
    "excel_hidden": "a workbook has hidden rows, columns or sheets",
    "excel_no_sheets": "a workbook has no worksheet",
    "encrypted_file": "the file is encrypted (password-protected)",
    "truncated_file": "the file is cut short or corrupt inside",
    # header level
    "missing_column": "a required column is absent",
    "ambiguous_column": "two columns map to the same field",
    "ignored_column": "a column pma_lab does not use (warning)",
    "preamble_skipped": "rows above the header were skipped (warning)",
    "footer_skipped": "text lines after the last data row were skipped (warning)",
    # row level
    "ragged_row": "a row has a different number of fields than the header",
    "missing_value": "a required cell is blank",
    "total_row": "a total or subtotal row was skipped (warning)",
    "total_mismatch": "a total row's shares or cost differ from the sum of its lots",
    "cash_position": "a cash or money-market sweep row belongs in the account's cash",
    "non_numeric": "a number cell does not hold a number",
    "non_finite": "a number is infinite or not-a-number (inf, NaN)",
    "out_of_range": "a number or date is outside the plausible range",
    "ambiguous_number": "a thousands separator could also be a decimal comma",
    "insufficient_shares": "a blotter sale asks for more shares than are held then",
    "ledger_refused": "a blotter sale names a lot that is not open (or not yet acquired)",
    "basis_vs_market": "cost per share is more than 20x off the market close that day",
    "before_market_data": "a lot is dated before the packaged prices start",
    "basis_unchecked": "a lot's basis could not be compared with a market close (warning)",
    "non_positive_shares": "shares are zero or negative",
    "negative_basis": "cost basis is negative",
    "zero_basis": "cost basis is zero (warning)",
    "basis_mismatch": "cost_per_share x shares disagrees with cost_total",
    "unknown_basis": "the custodian wrote the cost basis as unknown (--, N/A)",
    "total_row_skipped": "a blotter's total row was skipped (warning)",
    "as_of_date": "a custodian's 'posted as of' date was read as the trade's date (warning)",
    "sold_lot_after_sale": "a blotter sale's lot is acquired after the sale",
    "sold_lot_incomplete": "a blotter sale gives the sold lot's acquisition date or its cost "
                           "basis, not both (or a buy gives one)",
    "wash_column_read_as_basis": "a custodian's wash-sale column: the basis is read as "
                                 "written, no holding period carried from it (warning)",
    "not_a_trade": "an activity export's row moves no shares (a dividend, interest, a "
                   "transfer of cash) and is not replayed (warning)",
    "cash_sweep": "an activity export's money-market buy or sale is cash, not replayed "
                  "(warning)",
    "unordered_same_day": "a file listed newest first has a day's buy and sale of one name "
                          "without times",
    "unparsable_date": "a date cannot be read",
    "ambiguous_date": "a date can be read as month/day or day/month",
    "date_order_inferred": "slash dates were read in the only order that fits (warning)",
    "future_date": "a date is after the as-of date",
    "invalid_ticker": "a ticker is not shaped like a ticker",
    "unknown_ticker": "a ticker is not in the security master",
    "default_account_used": "a file without an account column was booked to the default "
                            "account while the profile declares others (warning)",
    "same_lot_twice": "two rows are the same lot in every column, without lot ids (warning)",
    "renamed_ticker": "a ticker a security no longer trades under (FB, now META)",
    "no_prices": "a ticker in the security master without packaged prices",
    "ticker_normalized": "a ticker spelling was normalised (warning)",
    "duplicate_lot_id": "a lot id appears more than once",
    "unknown_account": "an account is not declared in the profile",
    "invalid_value": "a value is not one of the allowed values",
    "inconsistent_account_type": "one account has two account types in a blotter",
    "negative_price": "a price is negative",
    "blotter_lot_not_held": "a blotter buy still held is missing from the lots file",
    "opening_lot_after_trade": "an opening lot is dated after the blotter's trades in its group",
    "gift_incomplete": "a gift lot gives its gift date or its FMV at the gift, not both",
    "gift_before_acquired": "a gift lot's gift date is before its (the donor's) acquisition",
    "gift_and_inherited": "a lot is marked both inherited and received as a gift",
    "gift_fmv_mismatch": "a gift lot's FMV per share x shares disagrees with its fmv_at_gift",
    # profile level
    "toml_syntax": "the profile is not valid TOML",
    "unknown_key": "a profile key is not known",
    "missing_key": "a required profile key is absent",
    "wrong_type": "a profile value has the wrong type",
    "rate_out_of_range": "a tax rate is outside [0, 1]",
    "negative_budget": "a capital-gains budget is negative",
    "negative_amount": "an amount that must be >= 0 is negative",
    "unknown_category": "a restriction category is not in the catalog",
    "contradictory": "two settings contradict each other",
    "unsupported_tax_year": "no brackets are tabulated for the tax year",
    "stale_carryforward": "the loss carryforwards are for another tax year than the "
                          "analysis date's",
    "duplicate_account": "an account id is declared twice",
    "duplicate_file": "a lots file is listed twice",
    "toml_too_deep": "the profile nests arrays or tables too deeply",
    "path_outside": "a profile path points outside the profile's folder",
    "not_a_file": "a profile path names something that is not a regular file",
    # benchmark / model-portfolio weights files (pma_lab.market.benchmark.read_benchmark_weights)
    "not_a_number": "a weight is not a number",
    "invalid_weight": "a weight is negative or not finite",
    "weight_above_one": "a weight is above 1 (weights are fractions, not percent)",
    "invalid_date": "a date is not YYYY-MM-DD between 1900 and 2100",
    "duplicate_ticker": "a ticker appears twice for one date",
    "weights_do_not_sum_to_one": "a date's weights do not sum to 1 (never rescaled)",
    "no_weights_at_date": "every date in the weights file is after the as-of date",
    # a researcher's model files (pma_lab.io.models.read_models)
    "missing_file": "a factor model folder lacks one of loadings, factor_cov, specific_var",
    "ambiguous_file": "a factor model folder has both a .csv and an .xlsx of one part",
    "missing_label": "a matrix row or column has no (valid) label",
    "duplicate_column": "a matrix names one ticker or factor in two columns",
    "duplicate_row": "a matrix or variance file has two rows for one ticker or factor",
    "label_mismatch": "a matrix's rows and columns, or a model's parts, name different things",
    "not_finite": "a matrix cell is infinite or NaN",
    "not_symmetric": "a covariance matrix is not symmetric",
    "not_psd": "a covariance matrix is not positive semidefinite (never repaired)",
    "negative_variance": "a variance is negative",
    "implausible_variance": "a variance means a volatility above 200 % (percent squared?)",
    "not_annualised": "the median volatility is below 2 % a year (daily figures?)",
    "missing_ticker": "a ticker has loadings but no specific variance",
    "not_in_risk_model": "a benchmark or target name is not in the risk model given",
    "dated_target": "a target weights file has a date column",
    "screened_out": "a target name is one the client's screens exclude",
    "kept_below_today": "a target weights a kept name below today's weight",
    "not_covered": "an active model's name (in any version the client may hold) has no "
                   "prices, sector or risk-model exposure at the client's date",
}
"""Every issue code ingestion can report, with a one-line meaning."""



WITHDRAWAL_WHEN = ("a plan pays its withdrawal (flow=-<USD> a year) at the start of every "
                   "plan year, the first on the analysis date; another date is not supported")
"""When a plan pays its withdrawal: the fix of a plan option that dates one."""

WITHDRAWAL_INPUT = ("a withdrawal is given to the plans compared, not declared in the "
                    "profile: flow=-<USD> a year in each plan's text (pma-lab transition "
                    "--plans budget:25000:flow=-20000) or the dashboard's withdrawal box; "
                    + WITHDRAWAL_WHEN)
"""How a client's withdrawal is given, and when a plan pays it: the fix of a profile key
that tries to declare one (:func:`withdrawal_word`)."""


def withdrawal_word(key: str, dates: bool = False) -> bool:
    """Whether a profile key or plan option is an attempt at a withdrawal (or its date).

    ``withdrawal``, ``withdrawals``, ``withdrawal_date``, ``withdraw``, ``flow``,
    ``cash_flow``; with ``dates`` (a plan's options) also ``date``, ``when``, ``on``,
    ``day``. :data:`WITHDRAWAL_INPUT` and :data:`WITHDRAWAL_WHEN` say how a withdrawal is
    given and when it is paid.
    """
    k = header_key(key)
    return "withdraw" in k or k in ("flow", "flows", "cashflow", "cashflows") or (
        dates and k in ("date", "when", "on", "day"))
