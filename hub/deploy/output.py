"""YAML output: comment lines, then one `---` document per resource. Multi-line strings (Kuma's
embedded Envoy YAML, configurations) are written as literal blocks so they stay readable;
`flow` documents are written as JSON, which is YAML too."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

from hub.deploy.base import Document


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def _comment(lines: Sequence[str]) -> str:
    return "".join(f"# {line}".rstrip() + "\n" for text in lines for line in text.splitlines())


def dump(body: dict[str, Any], flow: bool = False) -> str:
    if flow:
        return json.dumps(body, indent=2) + "\n"
    text: str = yaml.dump(
        body,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=1000,
        allow_unicode=True,
    )
    return text


def to_yaml(header: Sequence[str], documents: Sequence[Document]) -> str:
    parts = [_comment(header)]
    for doc in documents:
        parts.append("---\n")
        parts.append(_comment(doc.comments))
        parts.append(dump(doc.body, doc.flow))
    return "".join(parts)
