"""Jinja2 with the GOV.UK Frontend macros (``govuk-frontend-jinja``) and our templates."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    select_autoescape,
)
from markupsafe import Markup

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SERVICE_NAME = "EHC needs assessments"

env = Environment(
    loader=ChoiceLoader(
        [
            FileSystemLoader(TEMPLATES),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    ),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def long_date(value: date | None) -> str:
    """A date as GOV.UK writes it: 2 September 2024."""
    return f"{value.day} {value:%B %Y}" if value else ""


def words(value: object) -> str:
    """A code as words: ``decision_to_assess`` -> ``Decision to assess``."""
    text = str(getattr(value, "value", value) or "").replace("_", " ")
    return text[:1].upper() + text[1:]


def error_list(errors: list[dict[str, str]]) -> list[dict[str, str]]:
    """Errors for ``govukErrorSummary``: each links to its field."""
    return [{"text": e["text"], "href": f"#{e['field']}"} for e in errors]


_BLANK: dict[tuple[int, str, tuple[tuple[str, str], ...]], Markup] = {}
_BLANK_MAX = 4096


def blank_field(f: Any, prefix: str, choices: list[tuple[str, str]] | None = None) -> Markup:
    """A form field with nothing typed and no error. The GOV.UK macros are the slow part of
    a page (a case page has a form for each lawful step), and a blank field is the same
    every time for the same choices, so each is rendered once per process. ``f`` is one of
    the module-level ``Field`` constants of ``api.pages.forms`` (kept by its id)."""
    key = (id(f), prefix, tuple((v, t) for v, t in choices or []))
    html = _BLANK.get(key)
    if html is None:
        macro = env.get_template("_fields.html").module.field  # type: ignore[attr-defined]
        html = macro(f, {}, {}, choices=choices, prefix=prefix)
        if len(_BLANK) >= _BLANK_MAX:
            _BLANK.clear()
        _BLANK[key] = html
    return html


env.filters["long_date"] = long_date
env.filters["error_list"] = error_list
env.filters["words"] = words
env.globals["service_name"] = SERVICE_NAME
env.globals["uuid_key"] = lambda: uuid.uuid4().hex
env.globals["blank_field"] = blank_field


def render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    page = env.get_template(template)
    html = page.render({"request": request, "path": request.url.path, **context})
    return HTMLResponse(html, status_code=status_code)
