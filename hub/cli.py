"""wasm-hub serve | migrate | gc | user create | token create | org create."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

from hub.config import ConfigError, Settings
from hub.storage import StorageError


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from hub import server
    from hub.app import NotMigrated, build_services
    from hub.db.engine import is_sqlite, make_engine
    from hub.db.migrate import pending, upgrade

    # Check everything before forking workers, so a wrong setting stops startup once, clearly.
    engine = make_engine(settings.database_url)
    if is_sqlite(engine) and pending(engine):
        logging.getLogger("hub").info("migrating the SQLite database at start-up")
        upgrade(engine)
    engine.dispose()
    try:
        build_services(settings).engine.dispose()
    except NotMigrated as exc:
        print(f"wasm-hub: {exc}", file=sys.stderr)
        return 2
    server.run(
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        proxy_headers=True,
        timeout_keep_alive=30,
        # uvicorn's own `Server` header is noise; the registry announces its API version.
        server_header=False,
    )
    return 0


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from hub.db.engine import check_reachable, make_engine
    from hub.db.migrate import upgrade

    engine = make_engine(settings.database_url)
    check_reachable(engine)
    upgrade(engine)
    print("database is at the current schema")
    return 0


def _cmd_gc(args: argparse.Namespace, settings: Settings) -> int:
    from hub.app import build_services
    from hub.artifacts.gc import collect

    services = build_services(settings)
    report = collect(services, dry_run=args.dry_run)
    print(report)
    return 0


def _cmd_user_create(args: argparse.Namespace, settings: Settings) -> int:
    from sqlmodel import Session, select

    from hub.app import build_services
    from hub.auth.passwords import hash_password
    from hub.db.models import User

    password = args.password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        password = getpass.getpass(f"password for {args.username}: ")
    services = build_services(settings)
    with Session(services.engine) as session:
        if session.exec(select(User).where(User.username == args.username)).first():
            print(f"wasm-hub: user {args.username!r} already exists", file=sys.stderr)
            return 1
        session.add(
            User(
                username=args.username,
                email=args.email,
                password_hash=hash_password(password),
                is_admin=args.admin,
            )
        )
        session.commit()
    print(f"created user {args.username}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wasm-hub", description="WebAssembly Hub registry")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default=os.environ.get("HUB_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("HUB_PORT", "5000")))
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("HUB_WORKERS", "0")) or (os.cpu_count() or 1),
        help="worker processes (default: one per CPU)",
    )
    serve.add_argument("--log-level", default=os.environ.get("HUB_LOG_LEVEL", "info"))
    serve.set_defaults(run=_cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=_cmd_migrate)
    gc = sub.add_parser("gc", help="remove unreferenced blobs and abandoned uploads")
    gc.add_argument("--dry-run", action="store_true")
    gc.set_defaults(run=_cmd_gc)
    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    create = user.add_parser("create", help="create a user with a password")
    create.add_argument("username")
    create.add_argument("--email")
    create.add_argument("--password", help="prefer --password-stdin; argv is visible to others")
    create.add_argument("--password-stdin", action="store_true")
    create.add_argument("--admin", action="store_true")
    create.set_defaults(run=_cmd_user_create)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        result: int = args.run(args, settings)
        return result
    except (ConfigError, StorageError) as exc:
        print(f"wasm-hub: configuration error: {exc}", file=sys.stderr)
        return 2
