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
from ehc.reports.service import sen2_export, timeliness_report
from ehc.reports.settings import get_report_settings
from ehc.reports.timeliness import to_csv
from ehc.settings import Settings
from ehc.store.db import make_engine, sessionmaker


def run_sen2(
    args: argparse.Namespace,
    settings: Settings,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    config = get_report_settings()
    la = args.la or config.la_number
    dmo = args.dmo or config.sen2_dmo
    dco = args.dco or config.sen2_dco
    missing = [
        name
        for name, value in (
            ("--la (or EHC_LA_NUMBER)", la),
            ("--dmo (or EHC_SEN2_DMO)", dmo),
            ("--dco (or EHC_SEN2_DCO)", dco),
        )
        if not value
    ]
    if missing:
        print("ehc: the SEN2 header needs " + ", ".join(missing), file=err)
        return 2
    if not (la and dmo and dco and la.isdigit() and len(la) == 3):
        print("ehc: --la must be DfE's 3-digit LA number, for example 390", file=err)
        return 2

    async def export() -> tuple[bytes | None, str, int]:
        engine = make_engine(settings.effective_database_url)
        try:
            async with sessionmaker(engine)() as session:
                result = await sen2_export(session, year=args.year, la_number=la, dmo=dmo, dco=dco)
        finally:
            await engine.dispose()
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
    la = args.la or get_report_settings().la_number

    async def build() -> str:
        engine = make_engine(settings.effective_database_url)
        try:
            async with sessionmaker(engine)() as session:
                report = await timeliness_report(
                    session, start=args.start, end=args.end, la_code=la
                )
        finally:
            await engine.dispose()
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
