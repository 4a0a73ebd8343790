"""What every deploy target shares: the artifact being deployed, the rendered documents, the
Target protocol, and the explicit map of targets (an unknown name fails loudly, naming the
choices — DESIGN.md habit 4).

A target turns one stored filter into the configuration its mesh expects (FORMATS.md section 4).
Targets are pure: no database, no HTTP; hub.deploy.service gathers the facts and the options.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from hub.deploy.compat import Compatibility
    from hub.deploy.options import Options, OptionSpec

HTTP_FILTER = "HTTP"
NETWORK_FILTER = "NETWORK"


class DeployError(Exception):
    """A request the deploy renderer cannot serve (the API answers 400)."""

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class UnknownTarget(DeployError):
    pass


class BadOption(DeployError):
    pass


class NotAFilter(DeployError):
    pass


@dataclass(frozen=True)
class DeployArtifact:
    """One stored Wasm filter, pinned by digest, and where the hub serves it."""

    repository: str
    ref: str  # as asked: a tag or a digest
    manifest_digest: str  # "sha256:<hex>"
    variant: str  # hub.wasm.formats: wasme-oci | compat | cncf | wasm-to-oci
    module_sha256: str  # hex of the .wasm bytes
    module_size: int
    root_ids: tuple[str, ...]
    declared_abi: tuple[str, ...]  # wasme ABI strings from the runtime config
    module_abi: tuple[str, ...]  # the module's own proxy-wasm ABI: "0.2.0", "unversioned"
    istio_pullable: bool  # Istio's image fetcher would take the module from this manifest
    base_url: str  # HUB_BASE_URL, no trailing slash
    private: bool = False

    @property
    def tag(self) -> str | None:
        return None if ":" in self.ref else self.ref

    @property
    def registry_host(self) -> str:
        """host[:port] of HUB_BASE_URL: what image references start with."""
        return urlsplit(self.base_url).netloc

    @property
    def manifest_hex(self) -> str | None:
        """The manifest digest hex when it is sha256 (the meshes' `sha256` field for oci://)."""
        algorithm, _, hex_ = self.manifest_digest.partition(":")
        return hex_ if algorithm == "sha256" else None

    def image_ref(self) -> str:
        """host/repo@sha256:... — digest-pinned, never a tag."""
        return f"{self.registry_host}/{self.repository}@{self.manifest_digest}"

    def oci_url(self) -> str:
        return f"oci://{self.image_ref()}"

    def http_url(self) -> str:
        """The hub's plain download of the module by the sha256 of its bytes (hub.api.v1)."""
        return f"{self.base_url}/api/v1/modules/{self.module_sha256}"


@dataclass(frozen=True)
class ModuleSource:
    """How a target fetches the module: an oci:// URL pinned by manifest digest, a plain image
    reference (Gloo), or the hub's HTTP URL pinned by the module's own sha256."""

    kind: str  # "oci" | "image" | "http"
    url: str
    sha256: str | None  # the meshes' `sha256` field: manifest hex for oci, module hex for http

    @classmethod
    def oci(cls, artifact: DeployArtifact) -> ModuleSource:
        return cls("oci", artifact.oci_url(), artifact.manifest_hex)

    @classmethod
    def image(cls, artifact: DeployArtifact) -> ModuleSource:
        return cls("image", artifact.image_ref(), artifact.manifest_hex)

    @classmethod
    def http(cls, artifact: DeployArtifact) -> ModuleSource:
        return cls("http", artifact.http_url(), artifact.module_sha256)


@dataclass(frozen=True)
class Document:
    """One YAML document. Comments are written above it (YAML only; JSON drops them).
    `flow` writes the body as JSON, which is YAML too: for tools that only read JSON
    (`consul config write`)."""

    body: dict[str, Any]
    comments: tuple[str, ...] = ()
    flow: bool = False


@dataclass
class Rendered:
    documents: list[Document]
    warnings: list[str] = field(default_factory=list)


class Target(Protocol):
    """A mesh that can run the filter."""

    @property
    def name(self) -> str:
        """The target's name in URLs and on the command line."""
        ...

    @property
    def summary(self) -> str:
        """One line for listings and comments."""
        ...

    @property
    def options(self) -> Sequence[OptionSpec]:
        """The options (query parameters) this target accepts."""
        ...

    def source(self, artifact: DeployArtifact) -> ModuleSource | None:
        """How this target would fetch the module; None when it cannot fetch this variant."""
        ...

    def compatibility(self, artifact: DeployArtifact, options: Options) -> Compatibility:
        """Whether the module's ABI and variant suit this target at the asked version."""
        ...

    def render(self, artifact: DeployArtifact, options: Options) -> Rendered:
        """The documents to apply, with warnings worth a reader's attention."""
        ...


# name -> module holding TARGET. Explicit, so a typo is an error and not a silent default.
TARGET_MODULES = {
    "istio": "hub.deploy.istio",
    "istio_legacy": "hub.deploy.istio_legacy",
    "envoy": "hub.deploy.envoy",
    "gloo": "hub.deploy.gloo",
    "envoy_gateway": "hub.deploy.envoy_gateway",
    "consul": "hub.deploy.consul",
    "kuma": "hub.deploy.kuma",
    "higress": "hub.deploy.higress",
}


def target(name: str) -> Target:
    """The target called `name`; UnknownTarget naming the choices otherwise."""
    module_name = TARGET_MODULES.get(name)
    if module_name is None:
        raise UnknownTarget(
            f"unknown target {name!r}; choose one of {', '.join(TARGET_MODULES)}",
            {"target": name, "valid": list(TARGET_MODULES)},
        )
    found: Target = importlib.import_module(module_name).TARGET
    if found.name != name:  # a wiring mistake, not a user error
        raise RuntimeError(f"{module_name}.TARGET is named {found.name!r}, not {name!r}")
    return found


def all_targets() -> list[Target]:
    return [target(name) for name in TARGET_MODULES]


_DNS_LABEL = re.compile(r"[^a-z0-9-]+")


def default_name(repository: str) -> str:
    """A Kubernetes name from the repository's last component: 'acme/Add_Header' ->
    'add-header'."""
    last = repository.rsplit("/", 1)[-1].lower()
    name = _DNS_LABEL.sub("-", last).strip("-")[:63].strip("-")
    return name or "wasm-filter"


def metadata(name: str, namespace: str | None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update({k: v for k, v in extra.items() if v})
    return meta
