"""The ``ehc`` command: dev, worker, api, timescales, users, store."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import get_args

from ehc.logging import configure_logging
from ehc.settings import OfficerFlag, Settings, get_settings
from ehc.statutory import Anchor, NoRuleVersion
from ehc.timescales_view import TimescalesView, timescales_view

OFFICER_FLAGS = get_args(OfficerFlag)  # the SEN2 header's DMO and DCO answers


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
    sub.add_parser(
        "payload-key", help="print a new Temporal payload encryption key (for EHC_PAYLOAD_KEYS)"
    )

    ts = sub.add_parser("timescales", help="print every statutory due date for a Day 0")
    ts.add_argument("--received-on", type=_date, required=True, metavar="YYYY-MM-DD")
    ts.add_argument("--anchor", choices=[a.value for a in Anchor], default=Anchor.REQUEST.value)
    ts.add_argument("--json", action="store_true", help="print JSON")

    users = sub.add_parser("users", help="manage API users").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser("create", help="create a user and print its token once")
    create.add_argument("--role", required=True, help="caseworker, manager, team or admin")
    create.add_argument("--name", required=True)
    create.add_argument("--team", help="the team a `team` user answers for")
    create.add_argument(
        "--expires-in-days", type=int, metavar="N", help="the token stops working after N days"
    )
    create.add_argument(
        "--email", help="also let the user sign in to the web pages (prints a password once)"
    )
    users.add_parser("list", help="list users (never their tokens)")
    revoke = users.add_parser("revoke", help="revoke a user's token at once")
    revoke.add_argument("user_id", type=int)

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
    import_cases.add_argument(
        "--concurrency", type=int, default=32, help="cases in flight (until each is in the store)"
    )

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
        "--dmo", choices=OFFICER_FLAGS, help="the SEN2 header's DMO answer (default EHC_SEN2_DMO)"
    )
    export.add_argument(
        "--dco", choices=OFFICER_FLAGS, help="the SEN2 header's DCO answer (default EHC_SEN2_DCO)"
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
    if args.command == "payload-key":
        from ehc.codec import new_key

        print(new_key())
        return 0
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
    if args.command in ("api", "worker") and (problems := settings.production_problems()):
        print("ehc: refusing to start in production with development defaults:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    if args.command == "api":
        return _run_api(settings)
    if args.command == "worker":
        import worker

        asyncio.run(worker.run(settings))
        return 0
    if args.command == "dev":
        from ehc_cli import devstack

        return devstack.run_dev(settings, prepare=lambda: _prepare_dev(settings))
    if args.command == "users":
        return _users(args, settings)
    if args.command == "store":
        return _store(args, settings)
    if args.command == "import":
        from ehc_cli import bulk_import

        if not args.file.exists():
            print(f"ehc: {args.file} does not exist", file=sys.stderr)
            return 2
        return asyncio.run(bulk_import.run(settings, args.file, args.concurrency))
    if args.command == "teams":
        return _teams(args, settings)
    if args.command in ("sen2", "report"):
        from ehc.reports import commands

        return commands.dispatch(args, settings)
    return 2


def _prepare_dev(settings: Settings) -> None:
    """Migrate the store and make sure a development caseworker exists."""
    from ehc.temporal import payload_codec
    from ehc_cli import store_admin

    payload_codec(settings)  # the development key ring, made before the worker and API read it
    asyncio.run(store_admin.migrate(settings))
    asyncio.run(store_admin.load_teams(settings, only_if_empty=True))
    token = asyncio.run(store_admin.dev_caseworker_token(settings))
    print(f"Development caseworker token: {token}", flush=True)
    email, password = asyncio.run(store_admin.dev_caseworker_sign_in(settings, token))
    url = f"http://{settings.api_host}:{settings.api_port}/sign-in"
    print(f"Sign in at {url} as {email} with password {password}", flush=True)


def _users(args: argparse.Namespace, settings: Settings) -> int:
    from ehc_cli import store_admin

    asyncio.run(store_admin.migrate(settings))
    return asyncio.run(_users_command(args, settings))


async def _users_command(args: argparse.Namespace, settings: Settings) -> int:
    from ehc.store import repository
    from ehc.store.db import store_session
    from ehc_cli import store_admin

    now = datetime.now(UTC)
    async with store_session(settings.effective_database_url) as session:
        if args.users_command == "list":
            for row in await repository.list_users(session):
                state = "active"
                if row.revoked_at is not None:
                    state = f"revoked {row.revoked_at:%Y-%m-%d}"
                elif row.expires_at is not None:
                    expired = row.expires_at <= now
                    state = f"{'expired' if expired else 'expires'} {row.expires_at:%Y-%m-%d}"
                print(
                    f"{row.id:>5}  {row.role:<10}  {row.team or '-':<24}  {state:<18}  {row.name}"
                )
            return 0
        if args.users_command == "revoke":
            revoked = await repository.revoke_user(session, user_id=args.user_id, now=now)
            if revoked is None:
                print(f"ehc: there is no user {args.user_id}", file=sys.stderr)
                return 2
            await session.commit()
            print(f"Revoked user {revoked.id} ({revoked.name}); the token no longer works.")
            return 0
        problem = await repository.user_problem(session, role=args.role, team=args.team)
        if problem is None and args.expires_in_days is not None and args.expires_in_days < 1:
            problem = "--expires-in-days must be at least 1."
        if problem is not None:
            print(f"ehc: {problem}", file=sys.stderr)
            return 2
        expires = now + timedelta(days=args.expires_in_days) if args.expires_in_days else None
        user, token = await repository.create_user(
            session, name=args.name, role=args.role, team=args.team, expires_at=expires
        )
    if args.email:
        try:
            password = await store_admin.set_web_password(settings, user.id, args.email)
        except ValueError as exc:
            print(f"ehc: {exc}", file=sys.stderr)
            return 2
        print(f"Web sign-in: {args.email.strip().lower()} with password {password} (shown once)")
    until = f", expires {expires:%Y-%m-%d}" if expires else ""
    print(f"Created {user.role} user {user.id}{until}. Token (shown once, keep it safe):")
    print(token)
    return 0


def _teams(args: argparse.Namespace, settings: Settings) -> int:
    from ehc_cli import store_admin

    asyncio.run(store_admin.migrate(settings))
    try:
        count = asyncio.run(store_admin.load_teams(settings, args.file, only_if_empty=False))
    except ValueError as exc:
        print(f"ehc: {exc}", file=sys.stderr)
        return 2
    print(f"Loaded {count} teams into the store.")
    return 0


def _store(args: argparse.Namespace, settings: Settings) -> int:
    from ehc_cli import store_admin

    if args.store_command == "migrate":
        asyncio.run(store_admin.migrate(settings))
        print("The case store is up to date.")
        return 0
    report = asyncio.run(store_admin.rebuild(settings))
    print("\n".join(report.lines()), file=sys.stderr if report.unreadable else sys.stdout)
    return 1 if report.unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
