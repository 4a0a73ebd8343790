"""`wasm-hub run <repository>:<tag> | <repository>@<digest>`: the playground on the command
line. It reads the configured database and storage (HUB_* settings) and runs the filter in a
sandbox worker through the same PlaygroundService as POST /api/v1/playground, so --json
prints what the API answers.

    wasm-hub run acme/auth:v1 --config '{"header":"x-api-key"}' --header x-api-key=s3cret \\
        --response-header content-type=text/plain --json"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.config import Settings


def add_parser(sub: Any) -> None:
    cmd: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run a stored filter in the proxy-wasm sandbox against one request",
        description="Run a stored filter in the playground's proxy-wasm 0.2.x sandbox.",
    )
    cmd.add_argument("reference", help="namespace/name:tag or namespace/name@sha256:...")
    cmd.add_argument("--config", default="", help="the plugin configuration (text or JSON)")
    cmd.add_argument("--root-id", help="root id (default: the module's first)")
    cmd.add_argument("--method", default="GET")
    cmd.add_argument("--path", default="/")
    cmd.add_argument("--header", action="append", default=[], metavar="NAME=VALUE")
    cmd.add_argument("--body", default="", help="the request body")
    cmd.add_argument("--status", type=int, default=200, help="the upstream's response status")
    cmd.add_argument("--response-header", action="append", default=[], metavar="NAME=VALUE")
    cmd.add_argument("--response-body", default="")
    cmd.add_argument("--json", action="store_true", help="print the API's JSON answer")
    cmd.set_defaults(run=run)


def split_reference(reference: str) -> tuple[str, str]:
    if "@" in reference:
        repository, digest = reference.split("@", 1)
        return repository, digest
    head, _, tail = reference.rpartition(":")
    if head and "/" not in tail:
        return head, tail
    return reference, "latest"


def _pairs(values: list[str], flag: str) -> list[list[str]]:
    pairs = []
    for value in values:
        name, sep, text = value.partition("=")
        if not sep:
            raise ValueError(f"{flag} {value!r}: write NAME=VALUE")
        pairs.append([name.strip(), text])
    return pairs


def body_from_args(args: argparse.Namespace) -> dict[str, Any]:
    repository, ref = split_reference(args.reference)
    body: dict[str, Any] = {
        "repository": repository,
        "ref": ref,
        "config": args.config,
        "request": {
            "method": args.method,
            "path": args.path,
            "headers": _pairs(args.header, "--header"),
            "body": args.body,
        },
        "response": {
            "status": args.status,
            "headers": _pairs(args.response_header, "--response-header"),
            "body": args.response_body,
        },
    }
    if args.root_id:
        body["root_id"] = args.root_id
    return body


def _show(result: dict[str, Any]) -> None:
    module = result.get("module") or {}
    print(f"{module.get('repository')}@{module.get('digest')} (root id {result.get('root_id')!r})")
    print(f"verdict: {result['verdict']}")
    upstream = result["upstream"]["request"]
    if upstream is not None:
        print(f"upstream got: {upstream['method']} {upstream['path']}")
        for name, value in upstream["headers"]:
            print(f"  {name}: {value}")
    else:
        print("upstream got: nothing")
    response = result["client"]["response"]
    if response is not None:
        print(f"client got: {response['status']}")
        for name, value in response["headers"]:
            print(f"  {name}: {value}")
        if response["body"]:
            print(f"  body: {response['body']!r}")
    for label, key in (("request", "request_headers"), ("response", "response_headers")):
        diff = result["diff"].get(key)
        if not diff:
            continue
        for name, value in diff["added"]:
            print(f"{label} header added: {name}: {value}")
        for name, value in diff["removed"]:
            print(f"{label} header removed: {name}: {value}")
        for change in diff["changed"]:
            print(
                f"{label} header changed: {change['name']}: {change['before']} -> {change['after']}"
            )
    for entry in result["logs"]:
        print(f"log [{entry['level']}] {entry['callback']}: {entry['message']}")
    for metric in result["metrics"]:
        print(f"metric {metric['name']} ({metric['type']}) = {metric['value']}")
    for call in result["calls"]:
        print(
            f"call {call['kind']} in {call['callback']}: "
            + ", ".join(f"{k}={v}" for k, v in call.items() if k not in ("kind", "callback"))
        )
    actions = ", ".join(
        f"{c['callback']}={c.get('action', c.get('returned', '-'))}" for c in result["callbacks"]
    )
    print(f"callbacks: {actions}")
    print(f"time: {result.get('timing', {}).get('total_ms', '?')} ms in the sandbox")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from hub.app import build_services
    from hub.oci.errors import ManifestUnknown, NameUnknown
    from hub.playground.request import PlaygroundError
    from hub.playground.service import Busy

    try:
        body = body_from_args(args)
    except ValueError as exc:
        print(f"wasm-hub run: {exc}", file=sys.stderr)
        return 2
    services = build_services(settings)
    service = services.playground
    try:
        result = service.run(service.parse(body))
    except PlaygroundError as exc:
        print(f"wasm-hub run: {exc.message}", file=sys.stderr)
        return 2
    except NameUnknown:
        print(f"wasm-hub run: repository {body['repository']!r} does not exist", file=sys.stderr)
        return 2
    except ManifestUnknown:
        print(
            f"wasm-hub run: {body['repository']} has no tag or manifest {body['ref']!r}",
            file=sys.stderr,
        )
        return 2
    except Busy as exc:
        print(f"wasm-hub run: {exc}", file=sys.stderr)
        return 3
    finally:
        service.close()
        services.engine.dispose()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _show(result)
    return 0 if result["ok"] else 1
