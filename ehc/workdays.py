"""Working days in England, from ``govuk-bank-holidays``' bundled data (no network).

Loaded once, when the module is imported (the worker imports it before any workflow runs,
and workflows import it passed through the sandbox), so workflows read a constant and do
no I/O. Rules.md 1 and 8.5: working days are Monday to Friday less bank holidays in
England and Wales; they are used only for scheduling notices, never for statutory dates.
"""

from __future__ import annotations

from datetime import date

from govuk_bank_holidays.bank_holidays import BankHolidays


def _load() -> frozenset[date]:
    holidays = BankHolidays(use_cached_holidays=True)
    return frozenset(
        h["date"] for h in holidays.get_holidays(division=BankHolidays.ENGLAND_AND_WALES)
    )


ENGLAND_BANK_HOLIDAYS: frozenset[date] = _load()


def last_covered_year(holidays: frozenset[date] = ENGLAND_BANK_HOLIDAYS) -> int:
    """The last calendar year the bundled data lists bank holidays for."""
    return max(h.year for h in holidays)
