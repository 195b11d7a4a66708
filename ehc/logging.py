"""structlog setup: JSON in production, readable in ``make dev``, personal data redacted.

Every stdlib record (uvicorn, temporalio, sqlalchemy) goes through the same processors.
Context variables carry the request id, case reference and workflow id. Tracebacks never
include local variables, and keys that name personal data are replaced as a safety net:
the first line of defence is never to pass personal data to a logger at all.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.types import EventDict, Processor

PERSONAL_KEYS = frozenset(
    {
        "given_name",
        "family_name",
        "name",
        "full_name",
        "date_of_birth",
        "dob",
        "upn",
        "uln",
        "nhs_number",
        "postcode",
        "address",
        "email",
        "phone",
        "child",
    }
)
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    """Replace personal-data keys anywhere inside nested mappings and sequences."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if str(k).lower() in PERSONAL_KEYS else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def redact_personal_data(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the redaction safety net."""
    redacted: MutableMapping[str, Any] = redact(event_dict)
    return dict(redacted)


def _processors(fmt: str) -> list[Processor]:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_personal_data,
    ]
    if fmt == "json":
        shared.append(
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        )
    return shared


class DropQueryStrings(logging.Filter):
    """uvicorn's access log writes the full request path: keep it, but not its query string
    (the caseworkers' search puts a child's name there)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def configure_logging(*, fmt: str = "json", level: str = "INFO") -> None:
    """Configure structlog and route the standard library's records through it."""
    shared = _processors(fmt)
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("sqlalchemy.engine", "aiosqlite", "asyncio", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, DropQueryStrings) for f in access.filters):
        access.addFilter(DropQueryStrings())


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
