"""Host and port text: the one parser for server addresses and Host headers.

Used by the commands (``--prometheus``, ``--websocket``, ``--allowed-host``), by
the sinks' spec strings (``prometheus:[::1]:9464``) and by the Host/Origin
guard in ``_asgi.py``. Imports nothing heavy, so the CLI can use it before
any server library is loaded::

    "127.0.0.1:9464" "9464" "localhost" "[::1]:9464" "[::1]" "::1"  ─► split_host_port ─► (host, port)
    Host header "LocalHost:9464" / "[::1]:9464" / "example"         ─► host_key ─► "localhost:9464"
"""

from __future__ import annotations

import ipaddress
import urllib.parse

from ..errors import UsageError, quote

DEFAULT_HOST = "127.0.0.1"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def split_host_port(what: str, arg: str, default_port: int | None) -> tuple[str, int | None]:
    """``HOST:PORT``, ``PORT``, ``HOST``, ``[IPv6]:PORT``, ``[IPv6]`` or a bare IPv6 address.

    The host comes back without brackets (``"::1"``), empty host as
    ``DEFAULT_HOST``; a missing port is ``default_port``. Raises UsageError
    (one line naming ``what`` and the text) for anything else, including a
    port outside 0..65535.
    """
    text = arg.strip()
    host, port_text = "", ""
    if text.startswith("["):
        end = text.find("]")
        rest = text[end + 1 :] if end >= 0 else ""
        if end < 0 or (rest and not rest.startswith(":")):
            raise UsageError(f"{what}: bad address {quote(arg)} (expected [IPv6]:PORT)")
        host, port_text = text[1:end], rest[1:]
        if not _is_ipv6(host):
            raise UsageError(f"{what}: bad address {quote(arg)}: {quote(host)} is not an IPv6 address")
        if rest == ":":
            raise UsageError(f"{what}: bad address {quote(arg)}: missing port after ':'")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        if not port_text:
            raise UsageError(f"{what}: bad address {quote(arg)}: missing port after ':'")
    elif text.count(":") > 1:
        if not _is_ipv6(text):
            raise UsageError(f"{what}: bad address {quote(arg)} (write IPv6 as [ADDRESS]:PORT)")
        host = text
    elif text.isdigit():
        port_text = text
    else:
        host = text
    if any(c.isspace() or c in "/@?#[]" for c in host):
        raise UsageError(f"{what}: bad host {quote(host)} in {quote(arg)}")
    if not port_text:
        return host or DEFAULT_HOST, default_port
    if not port_text.isascii() or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"{what}: bad port {quote(port_text)} in {quote(arg)} (expected 0..65535)")
    return host or DEFAULT_HOST, int(port_text)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP (brackets allowed: ``[::1]``)."""
    h = host.strip().lower().removeprefix("[").removesuffix("]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def format_host(host: str) -> str:
    """An address as it appears in a URL or Host header: IPv6 in brackets, names lowercased."""
    h = host.strip().lower().rstrip(".")
    if ":" in h and not h.startswith("["):
        return f"[{h}]"
    return h


def host_key(value: str, default_port: int) -> str | None:
    """A Host header (or allow-list entry) as ``name:port``; None if it is not one.

    Names are lowercased, a trailing dot dropped, IPv6 kept in brackets; a
    value without a port gets ``default_port``.
    """
    v = value.strip()
    if not v or len(v) > 300:
        return None
    try:
        host, port = split_host_port("host", v, default_port)
    except UsageError:
        return None
    if not host or port is None:
        return None
    return f"{format_host(host)}:{port}"


def allowed_host_keys(bound_host: str, port: int, extra: list[str] | tuple[str, ...] = ()) -> frozenset[str]:
    """The Host values a server on ``bound_host:port`` answers to.

    The loopback names with the port, the bound address (unless a wildcard),
    and each ``extra`` entry (``NAME`` means NAME on this port, ``NAME:PORT``
    exactly). Raises UsageError for an entry that is not a host.
    """
    keys = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if bound_host not in ("0.0.0.0", "::", ""):
        keys.add(f"{format_host(bound_host)}:{port}")
    for entry in extra:
        key = host_key(entry, port)
        if key is None:
            raise UsageError(f"allowed_hosts: {quote(entry)} is not a host name or address")
        keys.add(key)
    return frozenset(keys)


def check_http_url(what: str, url: str) -> urllib.parse.SplitResult:
    """An ``http://`` or ``https://`` URL with a host and a valid port (remote write), split;
    UsageError naming ``what`` otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{what}: {quote(url)} is not an http:// or https:// URL")
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        raise UsageError(f"{what}: {quote(url)}: bad port") from None
    return parts
