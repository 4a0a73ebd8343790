"""`wasm-hub deploy`: the deploy endpoint's output on the command line. It reads the database
directly (HUB_* settings) through the same DeployService, so it prints what
GET /api/v1/deploy answers. Options have the endpoint's names: --root_id or --root-id."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from hub.deploy.base import TARGET_MODULES, DeployError, all_targets
from hub.deploy.options import all_option_names

if TYPE_CHECKING:
    from hub.config import Settings


def add_parser(sub: Any) -> None:
    """Register the `deploy` subcommand on wasm-hub's subparsers."""
    targets = all_targets()
    epilog = "targets:\n" + "\n".join(
        f"  {t.name}: {t.summary}; options: {', '.join(o.name for o in t.options)}" for t in targets
    )
    cmd: argparse.ArgumentParser = sub.add_parser(
        "deploy",
        help="print a stored filter's configuration for a mesh",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("--repository", required=True, help="namespace/name")
    cmd.add_argument("--ref", default="latest", help="a tag or a manifest digest")
    cmd.add_argument("--target", required=True, help=", ".join(TARGET_MODULES))
    cmd.add_argument("--output", choices=("yaml", "json"), default="yaml")
    for name in all_option_names(targets):
        flags = [f"--{name}"]
        if "_" in name:
            flags.append(f"--{name.replace('_', '-')}")
        cmd.add_argument(*flags, dest=f"opt_{name}", action="append", metavar="VALUE")
    cmd.set_defaults(run=run, option_names=all_option_names(targets))


def run(args: argparse.Namespace, settings: Settings) -> int:
    from hub.app import build_services
    from hub.deploy.service import DeployService
    from hub.oci.errors import ManifestUnknown, NameUnknown

    raw = {
        name: values for name in args.option_names if (values := getattr(args, f"opt_{name}", None))
    }
    services = build_services(settings)
    try:
        result = DeployService(services.details, settings.base_url).render(
            args.repository, args.ref, args.target, raw
        )
    except DeployError as exc:
        print(f"wasm-hub deploy: {exc.message}", file=sys.stderr)
        return 2
    except NameUnknown:
        print(f"wasm-hub deploy: repository {args.repository!r} does not exist", file=sys.stderr)
        return 1
    except ManifestUnknown:
        print(
            f"wasm-hub deploy: {args.repository} has no tag or manifest {args.ref!r}",
            file=sys.stderr,
        )
        return 1
    finally:
        services.engine.dispose()
    if args.output == "json":
        print(json.dumps(result.to_json(), indent=2))
    else:
        sys.stdout.write(result.to_yaml())
    return 0
