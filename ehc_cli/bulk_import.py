"""`ehc import cases FILE.csv`: start each case of an existing caseload with its history.

Every row is checked first (``ehc.importer``, with the workflow's own validators, event
by event on a copy of the case's facts); a bad row is listed with its reason and skipped,
nothing of it written. Each good case goes through the API's own opening path
(``temporal_gateway.opening_view`` and ``start_recorded``: the child and the case's first
row in the store, then a plain start) with its whole history in the workflow's input: the
workflow applies every event at once, each checked and recorded by its own update's code,
and projects the case once (issue 14). No update, and no wait for the worker, per case.

A case is written to the journal (``FILE.csv.done``) once its workflow is started: a run
that was interrupted is resumed by running the same command again; it skips the journal's
cases, and a case it had begun finds its child stored and its workflow started or not
(the start is made once: the workflow id is the case's). Finally the importer waits until
every imported case's workflow has projected its history into the store.
"""

from __future__ import annotations

import asyncio
import csv
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api import temporal_gateway
from api.errors import ApiError
from ehc.importer import ENTERED_BY, ImportRow, RowProblem, parse_row
from ehc.models import AssessmentInput
from ehc.statutory import london_date
from ehc.store import repository

CONCURRENCY = 32  # starts in flight (store write + start); see docs/performance.md
START_ATTEMPTS = 3  # a start the server did not confirm in time is tried again
START_SECONDS = 60.0  # a busy server may take a while to confirm a start: not a bad row
PROJECTION_POLL_SECONDS = 0.25
PROJECTION_WAIT_SECONDS = 120.0  # a case not projected by then frees its slot all the same


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0  # already in the journal
    bad: list[tuple[int, str, str]] = field(default_factory=list)  # (line, case_ref, reason)
    seconds: float = 0.0  # until every case's history was in the store
    not_projected: int = 0  # started, but not in the store within PROJECTION_WAIT_SECONDS


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".done")


def read_rows(
    path: Path, today: Any, report: ImportReport, **case: Any
) -> tuple[list[ImportRow], set[str]]:
    """The good rows, every bad one recorded in ``report``; and the refs already done."""
    journal = journal_path(path)
    done = set(journal.read_text().split()) if journal.exists() else set()
    rows: list[ImportRow] = []
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line, raw in enumerate(csv.DictReader(handle), start=2):
            ref = (raw.get("case_ref") or "").strip()
            if ref in seen:
                report.bad.append((line, ref, "the case_ref appears twice in the file"))
                continue
            seen.add(ref)
            try:
                row = parse_row(raw, line, today, **case)
            except RowProblem as exc:
                report.bad.append((line, ref, str(exc)))
                continue
            if ref in done:
                report.skipped += 1
            else:
                rows.append(row)
    return rows, done


async def import_cases(
    path: Path,
    *,
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    clock: Callable[[], datetime],
    case_settings: dict[str, Any] | None = None,
    concurrency: int = CONCURRENCY,
    progress: TextIO | None = None,
    wait_for_projection: bool = True,
) -> ImportReport:
    report = ImportReport()
    started = time.perf_counter()
    rows, _ = read_rows(path, london_date(clock()), report, **(case_settings or {}))
    journal = journal_path(path).open("a", encoding="utf-8")
    gate = asyncio.Semaphore(concurrency)
    total = len(rows)
    last_shown = 0.0

    def show(final: bool = False) -> None:
        nonlocal last_shown
        now = time.perf_counter()
        if progress is None or (not final and now - last_shown < 1.0):
            return
        last_shown = now
        rate = report.imported / max(now - started, 1e-9)
        bar = "#" * int(30 * report.imported / total) if total else ""
        progress.write(
            f"\rimporting [{bar:<30}] {report.imported}/{total} cases, "
            f"{rate:.1f}/s, {len(report.bad)} bad rows" + ("\n" if final else "")
        )
        progress.flush()

    watch = ProjectionWatch(sessions)

    async def one(row: ImportRow) -> None:
        async with gate:
            try:
                await _import_one(row, client, sessions, task_queue, clock)
            except ApiError as exc:
                report.bad.append((row.line, row.case.case_ref, exc.detail))
                return
            journal.write(row.case.case_ref + "\n")
            journal.flush()
            report.imported += 1
            # The slot is held until the store holds the case's history: the worker never
            # has more cases to do than the importer's concurrency, so its workflow tasks
            # do not queue past their timeout on a busy machine.
            if wait_for_projection and not await watch.projected(
                row.case.case_ref, 1 + len(row.steps)
            ):
                report.not_projected += 1
            show()

    tasks = [asyncio.ensure_future(one(row)) for row in rows]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        # Interrupted: stop the other cases where they are (a rerun resumes them).
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        watch.stop()
        journal.close()
        report.seconds = time.perf_counter() - started
        show(final=True)
    return report


class ProjectionWatch:
    """Cases started whose history is not in the store yet, looked up together."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.waiting: dict[str, tuple[int, asyncio.Future[None]]] = {}
        self.poller: asyncio.Task[None] | None = None

    async def projected(self, case_ref: str, events: int) -> bool:
        """Wait (boundedly) until the store holds ``events`` events of the case entered by
        the import: its opening and one per imported event. False if it did not in time
        (no worker running, say): the case is started and its worker will project it."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting[case_ref] = (events, done)
        if self.poller is None or self.poller.done():
            self.poller = asyncio.create_task(self._poll())
        try:
            async with asyncio.timeout(PROJECTION_WAIT_SECONDS):
                await done
        except TimeoutError:
            return False
        finally:
            self.waiting.pop(case_ref, None)
        return True

    async def _poll(self) -> None:
        while self.waiting:
            await asyncio.sleep(PROJECTION_POLL_SECONDS)
            refs = list(self.waiting)
            async with self.sessions() as session:
                counts = await repository.count_events_entered_by(
                    session, case_refs=refs, entered_by=ENTERED_BY
                )
            for ref in refs:
                events, done = self.waiting.get(ref, (0, None))
                if done is not None and not done.done() and counts.get(ref, 0) >= events:
                    done.set_result(None)

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.cancel()


async def _import_one(
    row: ImportRow,
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
    task_queue: str,
    clock: Callable[[], datetime],
) -> None:
    """The API's opening path (``temporal_gateway``): the child, the case's first row and its
    pending start in one transaction, then a plain start carrying the whole history. A
    workflow already started (by an interrupted run, or the worker's sweep) is the case's:
    nothing is asked of it. A start the server did not confirm in time is tried again."""
    ref = row.case.case_ref
    now = clock()
    start = row.start(now)
    async with sessions() as session:
        outcome = await repository.save_child(
            session, case_ref=ref, child=row.child, fingerprint=f"import:{ref}"
        )
        if outcome == "conflict":
            raise ApiError(409, "case_ref_taken", "the case_ref is already used for another child")
        if outcome == "created":
            await repository.record_opened_case(
                session,
                view=temporal_gateway.opening_view(start, now),
                start=start.model_dump(mode="json"),
                at=now,
            )
        else:  # begun by an interrupted run: start it as it was recorded then
            recorded = await repository.pending_start(session, case_ref=ref)
            if recorded is not None:
                start = AssessmentInput.model_validate(recorded)
        await session.commit()
    for attempt in range(1, START_ATTEMPTS + 1):
        temporal_gateway.start_budget(START_SECONDS)
        try:
            await temporal_gateway.start_assessment(client, start, task_queue)
        except WorkflowAlreadyStartedError:
            return
        except RPCError:
            if attempt == START_ATTEMPTS:
                raise temporal_gateway.START_NOT_CONFIRMED from None
        else:
            return


def print_report(report: ImportReport, out: TextIO = sys.stderr) -> None:
    for line, ref, reason in report.bad:
        out.write(f"line {line} ({ref or 'no case_ref'}): {reason}; skipped\n")
    rate = report.imported / report.seconds if report.seconds else 0.0
    out.write(
        f"Imported {report.imported} cases in {report.seconds:.1f} s ({rate:.1f} a second); "
        f"{report.skipped} already imported; {len(report.bad)} bad rows skipped.\n"
    )
    if report.not_projected:
        out.write(
            f"{report.not_projected} imported cases were not yet in the store when the import "
            "finished: is `ehc worker` running? They appear once it projects them.\n"
        )


async def run(settings: Any, path: Path, concurrency: int) -> int:
    """The CLI's entry: connect, import, report; exit code 1 if any row was bad."""
    from datetime import UTC

    from ehc.store.db import make_engine, sessionmaker
    from ehc.store.migrate import upgrade
    from ehc.temporal import connect

    url = settings.effective_database_url
    await upgrade(url)
    engine = make_engine(url)
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    try:
        report = await import_cases(
            path,
            client=client,
            sessions=sessionmaker(engine),
            task_queue=settings.temporal_task_queue,
            clock=lambda: datetime.now(UTC),
            case_settings={
                "at_risk_days": settings.at_risk_days,
                "close_grace_days": settings.case_close_grace_days,
            },
            concurrency=concurrency,
            progress=sys.stderr,
        )
    finally:
        await engine.dispose()
    print_report(report)
    return 1 if report.bad else 0
