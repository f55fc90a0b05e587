"""`carrefour` command line: serve, db upgrade and downgrade, manifest build."""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.observability import LogFormat, configure_logging
from bot.settings import ConfigurationError, Settings
from storage.db import SessionFactory

logger = logging.getLogger("carrefour")


def _configure_logging(level: str, log_format: LogFormat = "text") -> None:
    # Lines readable or JSON, each with its turn's correlation id; the SDK's HTTP client and
    # the database drivers stay quiet even at DEBUG, since they would log message bodies and
    # SQL parameters, which hold personal data (bot/observability.py).
    configure_logging(level=level, log_format=log_format)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import create_app
    from storage.db import is_sqlite
    from storage.migrate import current_revision, head_revision

    port = args.port or settings.port
    host = args.host or settings.host
    settings = settings.served_on(host=host, port=port)
    app = create_app(settings)  # refuses a configuration it cannot run before touching the DB
    if current_revision(settings.database_url) != head_revision():
        if not is_sqlite(settings.database_url):
            # Several replicas share PostgreSQL: the operator upgrades once, on purpose.
            logger.error("the database schema is not current: run `carrefour db upgrade` first")
            return 2
        if status := _upgrade_in_a_child(settings):
            return status
    shown_host = "localhost" if host in ("0.0.0.0", "::") else host
    print(
        f"\nCarrefour listens on http://{shown_host}:{port}/api/messages\n"
        "To chat with it locally, in another terminal run:  make playground\n"
        "  (Microsoft 365 Agents Playground, then open http://127.0.0.1:56150 and pick "
        '"Personal Chat").\n'
        "Health: /healthz   Readiness: /readyz   Stop: Ctrl+C\n",
        flush=True,
    )
    web.run_app(app, host=host, port=port, print=None, access_log=None)
    return 0


def _upgrade(settings: Settings, revision: str = "head") -> None:
    from storage.migrate import upgrade

    # Where migration 0007 moves a secret key the database still holds.
    upgrade(
        settings.database_url,
        revision,
        secret_key_file=settings.secret_key_file,
        secret_key_configured=settings.secret_key is not None,
    )


def _upgrade_in_a_child(settings: Settings) -> int:
    """`_upgrade` in a fresh interpreter, as `carrefour db upgrade` would run it (its messages
    on this stderr, its exit status returned): Alembic, Mako and the scripts, 8-11 MB that
    Python keeps once loaded, never enter the serving process."""
    import subprocess

    # This process's import path first, then its settings (built from the environment or by
    # a caller), both on the child's stdin.
    given = pickle.dumps(list(sys.path)) + pickle.dumps(settings)
    child = subprocess.run([sys.executable, "-c", _UPGRADE_CHILD], input=given, check=False)
    return child.returncode


_UPGRADE_CHILD = (
    "import pickle, sys; sys.path[:0] = pickle.load(sys.stdin.buffer); "
    "from bot.cli import _upgrade_from_stdin; sys.exit(_upgrade_from_stdin())"
)


def _upgrade_from_stdin() -> int:
    settings: Settings = pickle.load(sys.stdin.buffer)
    _configure_logging(settings.log_level, settings.log_format)
    try:
        _upgrade(settings)
    except ConfigurationError as error:
        logger.error("%s", error)
        return 2
    return 0


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    _upgrade(settings, args.revision)
    print(f"database schema upgraded to {args.revision}")
    return 0


def _db_downgrade(settings: Settings, args: argparse.Namespace) -> int:
    from alembic import command
    from alembic.util import CommandError

    from storage.migrate import alembic_config

    try:
        command.downgrade(alembic_config(settings.database_url), args.revision)
    except CommandError as error:  # an unknown revision, or one above the current
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"database schema downgraded to {args.revision}")
    return 0


def _manifest_build(settings: Settings, args: argparse.Namespace) -> int:
    from bot.app import REGISTRY
    from bot.manifest import build_package

    app_id = args.app_id or settings.app_id
    if not app_id:
        print("error: --app-id is required (or set MicrosoftAppId)", file=sys.stderr)
        return 2
    try:
        path = build_package(app_id=app_id, commands=REGISTRY.help_entries, out=Path(args.out))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Teams app package written to {path}")
    return 0


def _schema_is_current(settings: Settings) -> bool:
    from storage.migrate import current_revision, head_revision

    if current_revision(settings.database_url) == head_revision():
        return True
    print("error: the database schema is not current: run `carrefour db upgrade`", file=sys.stderr)
    return False


def _outbox_status(settings: Settings, _args: argparse.Namespace) -> int:
    import asyncio

    if not _schema_is_current(settings):
        return 2
    from storage.db import create_engine, session_factory
    from storage.outbox import counts_by_status

    async def counts() -> dict[str, int]:
        engine = create_engine(settings.database_url)
        try:
            return await counts_by_status(session_factory(engine))
        finally:
            await engine.dispose()

    for status, count in asyncio.run(counts()).items():
        print(f"{status:<14}{count:>8}")
    return 0


def _run_storage(settings: Settings, work: Callable[[SessionFactory], Awaitable[int]]) -> int:
    """Run one unit of work against the database (for operator commands)."""
    import asyncio

    from storage.db import create_engine, session_factory

    if not _schema_is_current(settings):
        return 2

    async def run() -> int:
        engine = create_engine(settings.database_url)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _community_create(settings: Settings, args: argparse.Namespace) -> int:
    from storage import communities
    from storage.db import transaction
    from storage.models import MeetingMode

    draft = communities.CommunityDraft(
        name=args.name.strip(),
        domain=args.domain,
        objectives=list(args.objective),
        theme=args.theme,
        audience=args.audience,
        cadence=args.cadence,
        usual_mode=MeetingMode(args.mode),
        rules=list(args.rule),
    )
    if not 3 <= len(draft.name) <= 200:
        print("error: --name must be 3 to 200 characters", file=sys.stderr)
        return 2

    async def work(sessions: SessionFactory) -> int:
        try:
            async with transaction(sessions) as session:
                community = await communities.create_community(
                    session,
                    draft=draft,
                    animator_id=None,
                    tenant_id=args.tenant_id,
                    team_id=args.team_id,
                    teams_channel_id=args.channel_id,
                )
        except communities.AlreadyExists:
            print("error: that channel already holds a community", file=sys.stderr)
            return 2
        print(f"community {community.id} created: {community.name}")
        return 0

    return _run_storage(settings, work)


def _community_list(settings: Settings, _args: argparse.Namespace) -> int:
    from storage import communities

    async def work(sessions: SessionFactory) -> int:
        async with sessions() as session:
            rows = await communities.joinable_communities(session, tenant_id=None)
        print(f"{'id':>4}  {'members':>7}  {'channel':<40}  name")
        for community, count in rows:
            channel = community.teams_channel_id or "-"
            print(f"{community.id:>4}  {count:>7}  {channel[:40]:<40}  {community.name}")
        return 0

    return _run_storage(settings, work)


def _community_grant(settings: Settings, args: argparse.Namespace) -> int:
    from sqlmodel import or_, select

    from storage import communities
    from storage.db import transaction
    from storage.models import Person, Role

    async def work(sessions: SessionFactory) -> int:
        async with transaction(sessions) as session:
            community = await communities.get_community(session, community_id=args.community)
            person = (
                await session.exec(
                    select(Person).where(
                        or_(
                            Person.teams_user_id == args.person, Person.aad_object_id == args.person
                        )
                    )
                )
            ).first()
            if community is None:
                print(f"error: no community {args.community}", file=sys.stderr)
                return 2
            if person is None:
                print(
                    "error: unknown person; they must have written to the bot once "
                    "(give their Teams user id or Entra object id)",
                    file=sys.stderr,
                )
                return 2
            try:
                member = await communities.change_role(
                    session,
                    community_id=args.community,
                    person_id=person.id or 0,
                    role=Role(args.role),
                    grant=not args.remove,
                    by_person_id=None,
                )
            except communities.NotAllowed as refusal:
                print(f"error: {refusal}", file=sys.stderr)
                return 2
        print(
            f"{person.name or person.teams_user_id}: {', '.join(member.roles)} in {community.name}"
        )
        return 0

    return _run_storage(settings, work)


def _demo_seed(settings: Settings, _args: argparse.Namespace) -> int:
    from bot.demo import seed

    async def work(sessions: SessionFactory) -> int:
        print(await seed(sessions, timezone=settings.timezone))
        return 0

    return _run_storage(settings, work)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carrefour",
        description="Carrefour: a Teams bot for communities of practice.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the bot (HTTP on /api/messages)")
    serve.add_argument("--port", type=int, default=None, help="port (default 3978)")
    serve.add_argument(
        "--host", default=None, help="interface (default 127.0.0.1, or CARREFOUR_HOST)"
    )
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="apply migrations (Alembic)")
    upgrade.add_argument("--revision", default="head", help="target revision (default head)")
    upgrade.set_defaults(handler=_db_upgrade)
    downgrade = db_commands.add_parser(
        "downgrade", help="undo migrations down to a revision, before running an older release"
    )
    downgrade.add_argument("revision", help="target revision (e.g. 0019, or base)")
    downgrade.set_defaults(handler=_db_downgrade)

    manifest = commands.add_parser("manifest", help="Teams app package")
    manifest_commands = manifest.add_subparsers(
        dest="manifest_command", required=True, metavar="ACTION"
    )
    build = manifest_commands.add_parser("build", help="write the zip to upload to Teams")
    build.add_argument("--app-id", default=None, help="the bot's Microsoft App ID (a GUID)")
    build.add_argument("--out", default="build/carrefour-teams-app.zip", help="zip to write")
    build.set_defaults(handler=_manifest_build)

    outbox = commands.add_parser("outbox", help="proactive messages")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    status = outbox_commands.add_parser("status", help="count messages by status")
    status.set_defaults(handler=_outbox_status)

    community = commands.add_parser("community", help="communities (operators)")
    community_commands = community.add_subparsers(
        dest="community_command", required=True, metavar="ACTION"
    )
    create = community_commands.add_parser("create", help="create a community")
    create.add_argument("--name", required=True)
    create.add_argument("--domain", default="")
    create.add_argument("--objective", action="append", default=[], help="repeat for several")
    create.add_argument("--theme", default="")
    create.add_argument("--audience", default="")
    create.add_argument("--cadence", default="")
    create.add_argument("--mode", choices=["in_person", "virtual", "hybrid"], default="hybrid")
    create.add_argument("--rule", action="append", default=[], help="repeat for several")
    create.add_argument("--tenant-id", default=None)
    create.add_argument("--team-id", default=None)
    create.add_argument("--channel-id", default=None, help="Teams channel id (19:…@thread.tacv2)")
    create.set_defaults(handler=_community_create)
    listing = community_commands.add_parser("list", help="list communities")
    listing.set_defaults(handler=_community_list)
    grant = community_commands.add_parser("grant", help="give (or --remove) a role")
    grant.add_argument("--community", type=int, required=True, help="community id")
    grant.add_argument("--person", required=True, help="Teams user id or Entra object id")
    grant.add_argument(
        "--role",
        required=True,
        choices=["animator", "coordinator", "mentor", "sponsor", "admin_support", "member"],
    )
    grant.add_argument("--remove", action="store_true", help="remove the role instead")
    grant.set_defaults(handler=_community_grant)

    demo = commands.add_parser("demo", help="demonstration data")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    demo_seed = demo_commands.add_parser(
        "seed", help="fill the database with one realistic community (idempotent)"
    )
    demo_seed.set_defaults(handler=_demo_seed)
    return parser


def _problems(error: ValidationError) -> str:
    """The problems on one line, each after the variable it concerns; never the values given
    (a database URL or a password may be among them)."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        message = problem["msg"].removeprefix("Value error, ")
        names = ".".join(str(part) for part in problem["loc"])
        problems.append(f"{names}: {message}" if names else message)
    return "; ".join(problems)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"error: invalid configuration: {_problems(error)}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level, settings.log_format)
    try:
        return int(args.handler(settings, args))
    except ConfigurationError as error:
        logger.error("%s", error)
        return 2


if __name__ == "__main__":
    sys.exit(main())
