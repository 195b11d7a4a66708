"""Page numbers for the GOV.UK Design System pagination component (``govukPagination``).

The first and last pages, the current page and its neighbours are links; a gap between
them is one ellipsis, as the Design System shows a long list of pages.
"""

from __future__ import annotations

from typing import Any


def page_number(raw: str | None) -> int | None:
    """The page asked for in ``?page=``: a whole number from 1 (absent is page 1), or
    None for anything else (letters, 0, a sign, an absurdly long number)."""
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        return None
    number = int(raw)
    return number if number >= 1 else None


def shown_pages(page: int, last: int) -> list[int | None]:
    """The page numbers to show, None where an ellipsis stands for the pages left out."""
    keep = sorted({1, last, *(n for n in (page - 1, page, page + 1) if 1 <= n <= last)})
    out: list[int | None] = []
    for number in keep:
        if out and number - (out[-1] or 0) > 1:
            out.append(None)
        out.append(number)
    return out


def pagination(page: int, last: int, href: str, label: str) -> dict[str, Any] | None:
    """``govukPagination``'s parameters for ``page`` of ``last`` (None for a single page).
    ``href`` is the list's address; page N is ``href?page=N``."""
    if last <= 1:
        return None

    def link(number: int) -> str:
        return href if number == 1 else f"{href}?page={number}"

    items: list[dict[str, Any]] = [
        {"ellipsis": True}
        if number is None
        else {"number": number, "href": link(number), "current": number == page}
        for number in shown_pages(page, last)
    ]
    params: dict[str, Any] = {"items": items, "landmarkLabel": label}
    if page > 1:
        params["previous"] = {"href": link(page - 1)}
    if page < last:
        params["next"] = {"href": link(page + 1)}
    return params
