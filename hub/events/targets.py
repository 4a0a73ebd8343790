"""Where a webhook may point. The hub POSTs to URLs its users choose, which would let anyone
with a namespace probe the hub's own network (SSRF: cloud metadata at 169.254.169.254, admin
ports on localhost, services on private ranges). So, unless ``HUB_WEBHOOK_ALLOW_PRIVATE`` is
set, only http(s) URLs whose every address is public are accepted, the name is resolved again
at each delivery and the connection goes to the address that was checked (no second lookup a
rebinding DNS server could answer differently), and redirects are not followed."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
MAX_URL = 2048

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(ValueError):
    """The URL may not be a webhook target; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (a name or an address, without brackets)
    port: int


def parse(url: str) -> Target:
    """Check the URL's form: scheme, host, no credentials, a sane length."""
    if len(url) > MAX_URL:
        raise TargetRefused(f"the URL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"{url!r} is not a URL: {exc}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise TargetRefused(
            f"webhook URLs must use http or https, not {parts.scheme or 'no scheme'!r}"
        )
    if not parts.hostname:
        raise TargetRefused(f"{url!r} names no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("put no credentials in the URL; deliveries are signed instead")
    scheme = parts.scheme.lower()
    return Target(scheme, parts.hostname, port or (443 if scheme == "https" else 80))


def refused_reason(address: Address) -> str | None:
    """Why this address is not public, or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("unspecified", address.is_unspecified),
        ("non-public", not address.is_global),  # e.g. 100.64.0.0/10, carrier-grade NAT
    )
    for label, hit in checks:
        if hit:
            return label
    return None


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(url: str, allow_private: bool) -> Target:
    """At creation: the form, and (without resolving names, which may not resolve from here
    yet) the obviously internal targets: address literals and ``localhost``."""
    target = parse(url)
    if allow_private:
        return target
    host = target.host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        raise TargetRefused(
            f"{target.host} is a loopback name; webhooks may not target the hub's own host "
            "(set HUB_WEBHOOK_ALLOW_PRIVATE=true to allow internal targets)"
        )
    literal = _literal(host)
    if literal is not None:
        reason = refused_reason(literal)
        if reason:
            raise TargetRefused(
                f"{target.host} is a {reason} address; webhooks may only target public "
                "addresses (set HUB_WEBHOOK_ALLOW_PRIVATE=true to allow internal targets)"
            )
    return target


def resolve(target: Target, allow_private: bool) -> list[str]:
    """At delivery: the addresses to try, IPv4 first (IPv6 routes are the likelier to be
    missing). Every address the name has must be allowed, so a name cannot mix a public and
    an internal answer."""
    literal = _literal(target.host)
    if literal is not None:
        addresses: list[Address] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TargetRefused(f"cannot resolve {target.host}: {exc}") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses:
            raise TargetRefused(f"{target.host} has no addresses")
    if not allow_private:
        for address in addresses:
            reason = refused_reason(address)
            if reason:
                raise TargetRefused(
                    f"{target.host} resolves to {address}, a {reason} address; webhooks may "
                    "only target public addresses"
                )
    unique = dict.fromkeys(addresses)
    return [str(a) for a in sorted(unique, key=lambda a: a.version)]
