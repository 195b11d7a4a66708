"""``ehc sen2 export`` and ``ehc report timeliness``: the store straight to stdout.

Both read the case store only (no Temporal). Output goes to stdout, problems to stderr, so
``ehc sen2 export --year 2025 --la 390 > sen2.xml`` leaves a clean file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from ehc.reports.sen2 import problems_text
from ehc.reports.service import (
    Sen2HeaderMissing,
    report_la,
    sen2_export,
    sen2_header,
    timeliness_report,
)
from ehc.reports.timeliness import to_csv
from ehc.settings import Settings
from ehc.store.db import store_session


def run_sen2(
    args: argparse.Namespace,
    settings: Settings,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    try:
        header = sen2_header(settings, la=args.la, dmo=args.dmo, dco=args.dco)
    except Sen2HeaderMissing as e:
        needs = ", ".join(f"--{name} (or {variable})" for name, variable in e.missing)
        print("ehc: the SEN2 header needs " + needs, file=err)
        return 2
    except ValueError:
        print("ehc: --la must be DfE's 3-digit LA number, for example 390", file=err)
        return 2

    async def export() -> tuple[bytes | None, str, int]:
        async with store_session(settings.effective_database_url) as session:
            result = await sen2_export(session, year=args.year, header=header)
        return result.xml, problems_text(result.summary), result.summary.skipped

    xml, text, skipped = asyncio.run(export())
    print(text, file=err, end="")
    if xml is None:
        print("ehc: nothing could be exported, so no XML was written", file=err)
        return 1
    out.write(xml.decode("utf-8"))
    out.flush()
    return 1 if skipped else 0


def run_report(
    args: argparse.Namespace,
    settings: Settings,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    if args.end < args.start:
        print("ehc: --to is before --from", file=err)
        return 2
    la = report_la(settings, args.la)

    async def build() -> str:
        async with store_session(settings.effective_database_url) as session:
            report = await timeliness_report(session, start=args.start, end=args.end, la_code=la)
        if args.format == "csv":
            return to_csv(report, args.section)
        return report.model_dump_json(indent=2) + "\n"

    out.write(asyncio.run(build()))
    out.flush()
    return 0


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``ehc sen2 ...`` or ``ehc report ...``."""
    if args.command == "sen2":
        return run_sen2(args, settings)
    return run_report(args, settings)
