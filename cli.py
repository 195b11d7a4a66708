"""The ``ehc`` command: dev, worker, api, timescales, users, store."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import date

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
    create.add_argument(
        "--role", choices=["caseworker", "manager", "team", "admin"], required=True
    )
    create.add_argument("--name", required=True)
    create.add_argument("--team", help="the team a `team` user answers for")

    store = sub.add_parser("store", help="the case store").add_subparsers(
        dest="store_command", required=True
    )
    store.add_parser("migrate", help="bring the database schema up to date")
    store.add_parser("rebuild", help="rebuild the store's projection from the workflows")
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
    return 2


def _prepare_dev(settings: Settings) -> None:
    """Migrate the store and make sure a development caseworker exists."""
    import casestore

    asyncio.run(casestore.migrate(settings))
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


def _store(args: argparse.Namespace, settings: Settings) -> int:
    import casestore

    if args.store_command == "migrate":
        asyncio.run(casestore.migrate(settings))
        print("The case store is up to date.")
        return 0
    count = asyncio.run(casestore.rebuild(settings))
    print(f"Rebuilt the projection of {count} assessments from their workflows.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
