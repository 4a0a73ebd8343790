"""Deploy options: the query parameters of GET /api/v1/deploy and the flags of `wasm-hub
deploy`, with the same names. Each target lists the options it accepts (OptionSpec); anything
else, and any value of the wrong type or outside the allowed ones, is a BadOption that names
what would be valid."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from hub.deploy.base import HTTP_FILTER, NETWORK_FILTER, BadOption

if TYPE_CHECKING:
    from hub.deploy.base import Target

# Kubernetes object names (DNS-1123 subdomain) and namespaces (DNS-1123 label).
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Label keys: optional DNS prefix and "/", then a name of up to 63 characters.
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_ROOT_ID = re.compile(r"^[^\s]{1,256}$")
_VERSION = re.compile(r"^v?(\d{1,3})\.(\d{1,3})(?:\.(\d{1,4}))?$")
MAX_CONFIG_CHARS = 64 * 1024


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, raw: str) -> Version:
        found = _VERSION.match(raw.strip())
        if not found:
            raise ValueError(f"{raw!r} is not a version like 1.24 or 1.24.3")
        return cls(int(found[1]), int(found[2]), int(found[3] or 0))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + (f".{self.patch}" if self.patch else "")


@dataclass(frozen=True)
class TargetRef:
    kind: str
    name: str
    group: str  # "" is the core group


@dataclass(frozen=True)
class Config:
    """The plugin configuration as given (JSON or YAML text), parsed."""

    value: Any

    def as_string(self) -> str:
        """What the plugin receives: a string stays as it is (the add_header example takes a
        bare header value); anything else becomes compact JSON, as Istio does with
        pluginConfig."""
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, separators=(",", ":"))

    def as_object(self, target: str) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            raise BadOption(
                f"config for {target} must be a mapping (a JSON object), "
                f"not {type(self.value).__name__}",
                {"option": "config"},
            )
        return self.value


@dataclass(frozen=True)
class Options:
    name: str | None = None
    namespace: str | None = None
    selector: dict[str, str] = field(default_factory=dict)
    target_refs: tuple[TargetRef, ...] = ()
    root_id: str | None = None
    config: Config | None = None
    phase: str | None = None
    priority: int | None = None
    fail_open: bool | None = None
    pull_secret: str | None = None
    ports: tuple[int, ...] = ()
    type: str = HTTP_FILTER
    version: Version | None = None
    form: str | None = None
    hub_service: str | None = None
    mesh: str | None = None

    @property
    def k8s_name(self) -> str:
        assert self.name is not None, "the service fills in the default name"
        return self.name


@dataclass(frozen=True)
class OptionSpec:
    name: str  # the query parameter; also the Options field unless `attr` says otherwise
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    repeatable: bool = False
    attr: str | None = None

    @property
    def field(self) -> str:
        return self.attr or self.name


def _bad(option: str, message: str, raw: str | None = None) -> BadOption:
    detail: dict[str, Any] = {"option": option}
    if raw is not None:
        detail["value"] = raw
    return BadOption(f"{option}: {message}", detail)


def _k8s_name(raw: str) -> str:
    if len(raw) > 253 or not _SUBDOMAIN.match(raw):
        raise ValueError("must be a lower-case DNS-1123 name (a-z, 0-9, '-', '.')")
    return raw


def _k8s_label(raw: str) -> str:
    if len(raw) > 63 or not _LABEL.match(raw):
        raise ValueError("must be a lower-case DNS-1123 label (a-z, 0-9, '-'; 63 at most)")
    return raw


def _selector(raw: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for part in raw.split(","):
        key, sep, value = part.strip().partition("=")
        key, value = key.strip(), value.strip()
        prefix, slash, base = key.rpartition("/")
        if (
            not sep
            or not base
            or len(base) > 63
            or not _LABEL_NAME.match(base)
            or (slash and not _SUBDOMAIN.match(prefix))
            or len(value) > 63
            or not _LABEL_NAME.match(value)
        ):
            raise ValueError("must be label pairs like app=reviews,version=v2")
        labels[key] = value
    return labels


def _root_id(raw: str) -> str:
    if not _ROOT_ID.match(raw):
        raise ValueError("must be a non-empty string without spaces")
    return raw


def _config(raw: str) -> Config:
    if len(raw) > MAX_CONFIG_CHARS:
        raise ValueError(f"is over {MAX_CONFIG_CHARS} characters")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValueError(f"is neither JSON nor YAML: {exc}".splitlines()[0]) from None
    if value is None:
        raise ValueError("is empty")
    # YAML timestamps and the like would not survive JSON; the plugin only ever gets JSON.
    try:
        json.dumps(value)
    except TypeError:
        raise ValueError("must hold only JSON values (strings, numbers, lists, maps)") from None
    return Config(value)


def _int32(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("must be an integer") from None
    if not -(2**31) <= value < 2**31:
        raise ValueError("must fit in 32 bits")
    return value


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _ports(raw: str) -> tuple[int, ...]:
    ports: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= 65535:
            raise ValueError("must be port numbers 1-65535, comma-separated")
        ports.append(int(part))
    return tuple(dict.fromkeys(ports))


def _choice(choices: Sequence[str]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw in choices:
            return raw
        upper = {c.upper(): c for c in choices}
        if raw.upper() in upper:
            return upper[raw.upper()]
        raise ValueError(f"must be one of {', '.join(choices)}")

    return parse


# ---- option specs, shared by the targets ------------------------------------------------

NAME = OptionSpec("name", "resource name (default: the repository's last component)", _k8s_name)
ROOT_ID = OptionSpec(
    "root_id", "the filter's root id (default: the first one its runtime config names)", _root_id
)
CONFIG = OptionSpec("config", "plugin configuration, JSON or YAML text", _config)
PRIORITY = OptionSpec("priority", "ordering within the phase (int32)", _int32)
FAIL_OPEN = OptionSpec("fail_open", "let traffic through when the plugin fails", _bool)
PULL_SECRET = OptionSpec(
    "pull_secret", "Secret with registry credentials (private repositories)", _k8s_name
)
SELECTOR = OptionSpec("selector", "workload labels, e.g. app=reviews,version=v2", _selector)
PORTS = OptionSpec("ports", "port numbers, comma-separated", _ports, default=())
HUB_SERVICE = OptionSpec(
    "hub_service",
    "Consul service name through which proxies reach the hub",
    _k8s_label,
    default="wasm-hub",
)
MESH = OptionSpec("mesh", "the Kuma mesh", _k8s_label, default="default")


def namespace(default: str | None) -> OptionSpec:
    suffix = f" (default {default})" if default else ""
    return OptionSpec("namespace", f"namespace{suffix}", _k8s_label, default=default)


def phase(choices: Sequence[str]) -> OptionSpec:
    return OptionSpec("phase", f"one of {', '.join(choices)}", _choice(choices))


def filter_type(choices: Sequence[str] = (HTTP_FILTER, NETWORK_FILTER)) -> OptionSpec:
    return OptionSpec("type", f"one of {', '.join(choices)}", _choice(choices), default=HTTP_FILTER)


def form(choices: Sequence[str]) -> OptionSpec:
    return OptionSpec(
        "form",
        f"one of {', '.join(choices)} (default {choices[0]})",
        _choice(choices),
        default=choices[0],
    )


def version(product: str, low: str, high: str | None = None) -> OptionSpec:
    lo, hi = Version.parse(low), Version.parse(high) if high else None
    span = f"{low}–{high}" if high else f"{low} or later"

    def parse(raw: str) -> Version:
        found = Version.parse(raw)
        # A patch release belongs to its minor line: 1.11.8 is within "1.9–1.11".
        minor = Version(found.major, found.minor)
        if minor < lo or (hi is not None and minor > hi):
            raise ValueError(f"{product} {found} is outside {span}")
        return found

    return OptionSpec("version", f"{product} version, {span}", parse)


def target_ref(kinds: Mapping[str, str]) -> OptionSpec:
    """Repeatable Kind/name; `kinds` maps each allowed kind to its API group."""

    def parse(raw: str) -> TargetRef:
        kind, sep, name = raw.partition("/")
        canonical = {k.lower(): k for k in kinds}.get(kind.strip().lower())
        if not sep or canonical is None:
            raise ValueError(f"must be Kind/name with Kind one of {', '.join(kinds)}")
        if not name or len(name) > 253 or not _SUBDOMAIN.match(name):
            raise ValueError("the name after the slash must be a DNS-1123 name")
        return TargetRef(canonical, name, kinds[canonical])

    return OptionSpec(
        "target_ref",
        f"Kind/name, repeatable; Kind one of {', '.join(kinds)}",
        parse,
        default=(),
        repeatable=True,
        attr="target_refs",
    )


# Every option name any target knows, for the CLI's flags.
def all_option_names(targets: Sequence[Target]) -> list[str]:
    return list(dict.fromkeys(spec.name for t in targets for spec in t.options))


def parse_options(target: Target, raw: Mapping[str, Sequence[str]]) -> Options:
    """Check and convert raw option values (a list per name, as query strings have)."""
    specs = {spec.name: spec for spec in target.options}
    unknown = sorted(set(raw) - set(specs))
    if unknown:
        raise BadOption(
            f"target {target.name} does not take {', '.join(unknown)}; "
            f"its options are {', '.join(specs)}",
            {"unknown": unknown, "valid": list(specs)},
        )
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        given = list(raw.get(name, ()))
        if not given:
            if spec.default is not None:
                values[spec.field] = spec.default
            continue
        if len(given) > 1 and not spec.repeatable:
            raise _bad(name, "is given more than once; it takes one value")
        parsed: list[Any] = []
        for value in given:
            if value == "":
                raise _bad(name, f"has no value; it takes {spec.help}")
            try:
                parsed.append(spec.parse(value))
            except ValueError as exc:
                raise _bad(name, str(exc), value) from None
        values[spec.field] = tuple(parsed) if spec.repeatable else parsed[0]
    options = Options(**values)
    if options.selector and options.target_refs:
        raise BadOption(
            "give selector or target_ref, not both (the meshes accept one of the two)",
            {"option": "selector"},
        )
    return options
