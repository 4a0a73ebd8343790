"""wasm-hub serve | migrate | gc | fsck | quota | user create | token create | org create."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from typing import TYPE_CHECKING

from hub.config import ConfigError, Settings
from hub.storage import StorageError

if TYPE_CHECKING:
    from hub.auth.accounts import AccountService


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import logging.config

    from hub.observability import metrics
    from hub.observability.logging import dict_config

    # Before anything imports prometheus_client: workers share one metrics directory.
    metrics_dir = metrics.prepare_multiprocess(args.workers)
    log_config = dict_config(settings.log_format, args.log_level, args.access_log)
    logging.config.dictConfig(log_config)
    try:
        return _serve(args, settings, log_config)
    finally:
        metrics.remove_multiprocess_dir(metrics_dir)


def _serve(args: argparse.Namespace, settings: Settings, log_config: dict[str, object]) -> int:
    from hub import http_limits, server
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
        access_log=False,  # uvicorn's; the hub writes its own (logger hub.access)
        proxy_headers=True,
        timeout_keep_alive=30,
        # uvicorn's own `Server` header is noise; the registry announces its API version.
        server_header=False,
        log_config=log_config,  # hub.observability.logging: HUB_LOG_FORMAT, request ids
        **http_limits.protocol_options(),  # HUB_MAX_HEADER_BYTES: 431 past it
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
    from datetime import timedelta

    from hub.app import build_services
    from hub.artifacts import gc

    services = build_services(settings)
    grace = timedelta(seconds=args.grace_seconds) if args.grace_seconds is not None else None
    report = gc.run(services, dry_run=args.dry_run, force=args.force, grace=grace)
    print(report)
    for error in report.errors:
        print(f"wasm-hub gc: {error}", file=sys.stderr)
    return 3 if report.skipped else (1 if report.errors else 0)


def _cmd_fsck(args: argparse.Namespace, settings: Settings) -> int:
    from hub.app import build_services
    from hub.artifacts.fsck import check

    services = build_services(settings)
    report = check(services, repair=args.repair, verify=not args.quick)
    print(report.render())
    return 0 if report.ok(after_repair=args.repair) else 1


def _cmd_quota(args: argparse.Namespace, settings: Settings) -> int:
    from hub.db.engine import check_reachable, make_engine
    from hub.limits.quotas import QuotaService, parse_size

    engine = make_engine(settings.database_url)
    check_reachable(engine)
    quotas = QuotaService(engine)
    if args.action == "set":
        try:
            limit = parse_size(args.size)
        except ValueError as exc:
            print(f"wasm-hub: {exc}", file=sys.stderr)
            return 1
        usage = quotas.set(args.namespace, limit)
    else:
        usage = quotas.usage(args.namespace)
    if usage is None:
        print(f"wasm-hub: namespace {args.namespace!r} does not exist", file=sys.stderr)
        return 1
    limit_text = "unlimited" if usage.quota is None else f"{usage.quota} bytes"
    print(f"{usage.namespace}: uses {usage.used} bytes; quota {limit_text}")
    return 0


def _accounts(settings: Settings) -> AccountService:
    from hub.app import build_services

    return build_services(settings).accounts


def _cmd_user_create(args: argparse.Namespace, settings: Settings) -> int:
    password = args.password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        password = getpass.getpass(f"password for {args.username}: ")
    from hub.auth.accounts import AccountError

    try:
        _accounts(settings).create_user(
            args.username, password=password, email=args.email, admin=args.admin
        )
    except AccountError as exc:
        print(f"wasm-hub: {exc}", file=sys.stderr)
        return 1
    print(f"created user {args.username} with the namespace {args.username}")
    return 0


def _cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    from hub.auth.accounts import AccountError, expiry

    try:
        created = _accounts(settings).create_token(
            args.user, args.name, args.scope, args.namespace, expiry(args.expires_days), None
        )
    except AccountError as exc:
        print(f"wasm-hub: {exc}", file=sys.stderr)
        return 1
    print(f"token {created.token.id} for {args.user} (scopes {created.token.scopes}):")
    print(created.plaintext)  # the last line: scripts take it with `tail -n1`
    return 0


def _cmd_org_create(args: argparse.Namespace, settings: Settings) -> int:
    from hub.auth.accounts import AccountError

    try:
        ns = _accounts(settings).create_org(args.name, args.owner)
    except AccountError as exc:
        print(f"wasm-hub: {exc}", file=sys.stderr)
        return 1
    print(f"created organisation {ns.name} owned by {args.owner}")
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
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("HUB_ACCESS_LOG", "true").lower() in ("1", "true", "yes", "on"),
        help="a log line per request (logger hub.access, at info level; default on, or "
        "HUB_ACCESS_LOG); --no-access-log when a proxy in front logs requests already",
    )
    serve.set_defaults(run=_cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=_cmd_migrate)
    gc = sub.add_parser("gc", help="remove unreferenced blobs and abandoned uploads")
    gc.add_argument("--dry-run", action="store_true", help="report, remove nothing")
    gc.add_argument(
        "--grace-seconds",
        type=float,
        help="spare what was touched this recently (default HUB_GC_GRACE_SECONDS)",
    )
    gc.add_argument(
        "--force", action="store_true", help="run even while another replica holds the gc lease"
    )
    gc.set_defaults(run=_cmd_gc)
    fsck = sub.add_parser(
        "fsck", help="check stored bytes against the database (exit 1 on problems)"
    )
    fsck.add_argument(
        "--repair",
        action="store_true",
        help="drop rows of missing or corrupt blobs (so they can be pushed again) and "
        "remove orphaned storage objects",
    )
    fsck.add_argument("--quick", action="store_true", help="compare sizes, do not hash")
    fsck.set_defaults(run=_cmd_fsck)
    quota = sub.add_parser("quota", help="per-namespace storage quotas").add_subparsers(
        dest="action", required=True
    )
    qset = quota.add_parser("set", help="set a namespace's quota (e.g. 500MiB, 2GB, none)")
    qset.add_argument("namespace")
    qset.add_argument("size")
    qset.set_defaults(run=_cmd_quota)
    qshow = quota.add_parser("show", help="a namespace's usage and quota")
    qshow.add_argument("namespace")
    qshow.set_defaults(run=_cmd_quota)
    user = sub.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    create = user.add_parser("create", help="create a user with a password")
    create.add_argument("username")
    create.add_argument("--email")
    create.add_argument("--password", help="prefer --password-stdin; argv is visible to others")
    create.add_argument("--password-stdin", action="store_true")
    create.add_argument("--admin", action="store_true")
    create.set_defaults(run=_cmd_user_create)
    token = sub.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True
    )
    tcreate = token.add_parser("create", help="create an API token (printed as the last line)")
    tcreate.add_argument("--user", required=True)
    tcreate.add_argument("--scope", default="pull", help="comma-separated: pull, push, admin")
    tcreate.add_argument("--namespace", help="limit the token to one namespace")
    tcreate.add_argument("--name", default="cli")
    tcreate.add_argument("--expires-days", type=int)
    tcreate.set_defaults(run=_cmd_token_create)
    org = sub.add_parser("org", help="manage organisations").add_subparsers(
        dest="action", required=True
    )
    ocreate = org.add_parser("create", help="create an organisation")
    ocreate.add_argument("name")
    ocreate.add_argument("--owner", required=True)
    ocreate.set_defaults(run=_cmd_org_create)
    from hub.deploy.cli import add_parser as add_deploy_parser

    add_deploy_parser(sub)  # wasm-hub deploy: the deploy endpoint's output (hub.deploy)
    from hub.playground.cli import add_parser as add_run_parser

    add_run_parser(sub)  # wasm-hub run: the filter playground (hub.playground)
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
