"""The ``ehc`` command: dev, worker, api, timescales, users, store."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from ehc.logging import configure_logging
from ehc.settings import Settings, get_settings
from ehc.statutory import Anchor, NoRuleVersion
from ehc.timescales_view import TimescalesView, timescales_view


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a real date; use YYYY-MM-DD") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ehc", description="EHC needs assessment deadlines")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dev", help="run Temporal, the worker and the API in the foreground")
    sub.add_parser("worker", help="run the Temporal worker")
    sub.add_parser("api", help="run the HTTP API")

    ts = sub.add_parser("timescales", help="print every statutory due date for a Day 0")
    ts.add_argument("--received-on", type=_date, required=True, metavar="YYYY-MM-DD")
    ts.add_argument("--anchor", choices=[a.value for a in Anchor], default=Anchor.REQUEST.value)
    ts.add_argument("--json", action="store_true", help="print JSON")

    users = sub.add_parser("users", help="manage API users").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser("create", help="create a user and print its token once")
    create.add_argument("--role", choices=["caseworker", "manager", "team", "admin"], required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--team", help="the team a `team` user answers for")

    store = sub.add_parser("store", help="the case store").add_subparsers(
        dest="store_command", required=True
    )
    teams = sub.add_parser("teams", help="the team directory").add_subparsers(
        dest="teams_command", required=True
    )
    load_teams = teams.add_parser("load", help="load teams from a YAML file into the store")
    load_teams.add_argument("file", nargs="?", type=Path, help="default: EHC_TEAMS_FILE")

    imports = sub.add_parser("import", help="import an existing caseload").add_subparsers(
        dest="import_command", required=True
    )
    import_cases = imports.add_parser(
        "cases",
        help="start each case of a CSV (one row per case) with its history so far",
        description="Bad rows are listed on stderr with their reasons and skipped. Run the "
        "same command again to resume: cases already imported (FILE.done) are skipped.",
    )
    import_cases.add_argument("file", type=Path, help="the CSV; columns in the README")
    import_cases.add_argument("--concurrency", type=int, default=20, help="cases at once")

    store.add_parser("migrate", help="bring the database schema up to date")
    store.add_parser("rebuild", help="rebuild the store's projection from the workflows")

    sen2 = sub.add_parser("sen2", help="the SEN2 statutory return").add_subparsers(
        dest="sen2_command", required=True
    )
    export = sen2.add_parser(
        "export",
        help="write the SEN2 XML for a collection year to stdout",
        description="SEN2 YYYY covers requests active in calendar year YYYY-1. Cases that "
        "cannot be exported are listed on stderr and the exit code is 1.",
    )
    export.add_argument(
        "--year",
        type=int,
        required=True,
        metavar="YYYY",
        help="collection year (SEN2 2025 covers 2024)",
    )
    export.add_argument("--la", metavar="NNN", help="DfE LA number (default EHC_LA_NUMBER)")
    export.add_argument(
        "--dmo", choices=["Y", "N", "R"], help="the SEN2 header's DMO answer (default EHC_SEN2_DMO)"
    )
    export.add_argument(
        "--dco", choices=["Y", "N", "R"], help="the SEN2 header's DCO answer (default EHC_SEN2_DCO)"
    )
    report = sub.add_parser("report", help="timeliness reports").add_subparsers(
        dest="report_command", required=True
    )
    timeliness = report.add_parser(
        "timeliness", help="DfE's timeliness measures for a period (JSON or CSV)"
    )
    timeliness.add_argument("--from", dest="start", type=_date, required=True, metavar="YYYY-MM-DD")
    timeliness.add_argument("--to", dest="end", type=_date, required=True, metavar="YYYY-MM-DD")
    timeliness.add_argument("--format", choices=["json", "csv"], default="json")
    timeliness.add_argument(
        "--section",
        default="timeliness_20_week",
        choices=["requests", "assessments", "timeliness_20_week", "advice"],
        help="the table printed as CSV (JSON always holds every section)",
    )
    timeliness.add_argument("--la", metavar="NNN", help="DfE LA number for the geography columns")
    return parser


def print_timescales(view: TimescalesView, as_json: bool) -> None:
    if as_json:
        print(view.model_dump_json(indent=2))
        return
    print(f"Day 0: {view.received_on:%a %d %b %Y} ({view.anchor.value}); rules {view.rule_version}")
    for limit in view.limits:
        print(f"  {limit.limit:<20} {limit.due_on:%a %d %b %Y}  {limit.regulation}")
    print("Targets (not statutory):")
    for target in view.targets:
        print(f"  {target.target:<20} {target.due_on:%a %d %b %Y}  {target.basis}")


def _run_api(settings: Settings) -> int:
    import uvicorn

    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        log_config=None,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = get_settings()
    if args.command == "timescales":
        try:
            print_timescales(timescales_view(args.received_on, Anchor(args.anchor)), args.json)
        except NoRuleVersion as exc:
            print(f"ehc: {exc}", file=sys.stderr)
            return 2
        return 0
    fmt = "console" if args.command == "dev" else settings.log_format
    configure_logging(fmt=fmt, level=settings.log_level)
    return _dispatch(args, settings)


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "api":
        return _run_api(settings)
    if args.command == "worker":
        import worker

        asyncio.run(worker.run(settings))
        return 0
    if args.command == "dev":
        import devstack

        return devstack.run_dev(settings, prepare=lambda: _prepare_dev(settings))
    if args.command == "users":
        return _users(args, settings)
    if args.command == "store":
        return _store(args, settings)
    if args.command == "import":
        import bulkimport

        if not args.file.exists():
            print(f"ehc: {args.file} does not exist", file=sys.stderr)
            return 2
        return asyncio.run(bulkimport.run(settings, args.file, args.concurrency))
    if args.command == "teams":
        return _teams(args, settings)
    if args.command in ("sen2", "report"):
        from ehc.reports import commands

        return commands.dispatch(args, settings)
    return 2


def _prepare_dev(settings: Settings) -> None:
    """Migrate the store and make sure a development caseworker exists."""
    import casestore

    asyncio.run(casestore.migrate(settings))
    asyncio.run(casestore.load_teams(settings, only_if_empty=True))
    token = asyncio.run(casestore.dev_caseworker_token(settings))
    print(f"Development caseworker token: {token}", flush=True)


def _users(args: argparse.Namespace, settings: Settings) -> int:
    import casestore

    if args.role == "team" and not args.team:
        print("ehc: a team user needs --team (the team it answers for)", file=sys.stderr)
        return 2
    asyncio.run(casestore.migrate(settings))
    user, token = asyncio.run(casestore.create_user(settings, args.name, args.role, args.team))
    print(f"Created {user.role} user {user.id}. Token (shown once, keep it safe):")
    print(token)
    return 0


def _teams(args: argparse.Namespace, settings: Settings) -> int:
    import casestore

    asyncio.run(casestore.migrate(settings))
    try:
        count = asyncio.run(casestore.load_teams(settings, args.file, only_if_empty=False))
    except ValueError as exc:
        print(f"ehc: {exc}", file=sys.stderr)
        return 2
    print(f"Loaded {count} teams into the store.")
    return 0


def _store(args: argparse.Namespace, settings: Settings) -> int:
    import casestore

    if args.store_command == "migrate":
        asyncio.run(casestore.migrate(settings))
        print("The case store is up to date.")
        return 0
    count, unreadable = asyncio.run(casestore.rebuild(settings))
    print(f"Rebuilt the projection of {count} assessments from their workflows.")
    for workflow_id in unreadable:
        print(f"ehc: could not read {workflow_id} (is a worker running?)", file=sys.stderr)
    return 1 if unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
