"""The targets whose Envoy fetches the module over plain HTTP (envoy, istio_legacy, consul,
kuma) share one verdict: before the release whose Envoy took proxy-wasm 0.2.1 (Envoy 1.18,
Istio 1.10), a module built for 0.2.1 alone is refused; from it on, or with no version given,
it is taken. Checked in-process against hub.deploy.compat, without a hub."""

from __future__ import annotations

import pytest

from hub.deploy import consul, envoy, istio_legacy, kuma
from hub.deploy.base import DeployArtifact, Target
from hub.deploy.options import Options, Version


def _artifact(abi: str) -> DeployArtifact:
    return DeployArtifact(
        repository="team/filter",
        ref="v1",
        manifest_digest="sha256:" + "a" * 64,
        variant="compat",
        module_sha256="b" * 64,
        module_size=100,
        root_ids=(),
        declared_abi=(),
        module_abi=(abi,),
        istio_pullable=True,
        base_url="http://hub.example:8080",
    )


@pytest.mark.parametrize(
    ("target", "version", "compatible"),
    [
        (envoy.TARGET, Version(1, 17), False),
        (envoy.TARGET, Version(1, 18), True),
        (envoy.TARGET, None, True),
        (istio_legacy.TARGET, Version(1, 9), False),
        (istio_legacy.TARGET, Version(1, 10), True),
        (consul.TARGET, Version(1, 16), True),
        (kuma.TARGET, Version(2, 0), True),
    ],
)
def test_abi_021_by_release(target: Target, version: Version | None, compatible: bool) -> None:
    result = target.compatibility(_artifact("0.2.1"), Options(version=version))
    assert result.compatible is compatible, result.problems
    assert result.source == "http"
    assert ("0.2.1" in result.supported_abi) is compatible
    # A 0.2.0 module runs on every release of each.
    assert target.compatibility(_artifact("0.2.0"), Options(version=version)).compatible
