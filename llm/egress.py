"""Where a worker may send an LLM request, and the HTTP client every LLM call goes through.

A project endpoint's URL is the choice of a project admin, so a site admin bounds it (PROJECT_ENDPOINT_HOSTS with
their ports) and the check is made again when the request is sent: the host is resolved then, every address that is
not public must be one a site admin listed (an IP entry of PROJECT_ENDPOINT_HOSTS or a PROJECT_ENDPOINT_NETWORKS
network), and the connection goes to the very address that was checked (no second lookup a DNS rebinding could
answer differently). No LLM client follows a redirect, and no reply is read past LLM_MAX_REPLY_BYTES.

An endpoint's timeout bounds each request as a whole (connect, headers and body), not each read: a server dripping
a byte now and then would otherwise hold a shared worker for as long as it liked.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore2
import httpx2
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

DEFAULT_PORTS = {"http": 80, "https": 443}


class EgressRefused(Exception):
    """The request may not go there; the message is ours and names no remote content."""


class RedirectRefused(Exception):
    def __init__(self, status: int):
        super().__init__(f"the endpoint answered a redirect ({status}); redirects are not followed")
        self.status = status


class ReplyTooLarge(Exception):
    def __init__(self, status: int, head: bytes, limit: int):
        super().__init__(f"the reply was longer than LLM_MAX_REPLY_BYTES ({limit} bytes); reading stopped there")
        self.status = status
        self.head = head


class EncodedReply(Exception):
    def __init__(self, status: int, encoding: str):
        super().__init__(f"the endpoint answered with Content-Encoding {encoding[:40]!r} though identity was asked")
        self.status = status


# --- the site admin's allow-list ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostRule:
    host: str  # lower case; IPv6 in brackets; ".example.com" for its subdomains
    ports: frozenset[int] | None  # None: any port

    def matches(self, host: str, port: int) -> bool:
        if self.host.startswith("."):
            named = host.endswith(self.host)
        else:
            named = host == self.host
        return named and (self.ports is None or port in self.ports)


def _ports(values: list[str], setting: str) -> frozenset[int] | None:
    ports = set()
    for value in values:
        if value == "*":
            return None
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ImproperlyConfigured(f"{setting}: {value!r} is not a port (1-65535) or *")
        ports.add(int(value))
    return frozenset(ports)


def host_rules() -> list[HostRule]:
    """PROJECT_ENDPOINT_HOSTS entries: host, .domain, [v6], each with an optional :port or :* (any port); an entry
    without a port allows the ports of PROJECT_ENDPOINT_PORTS."""
    default_ports = _ports(list(settings.PROJECT_ENDPOINT_PORTS), "PROJECT_ENDPOINT_PORTS")
    rules = []
    for entry in settings.PROJECT_ENDPOINT_HOSTS:
        entry = entry.strip().lower()
        host, port = entry, None
        if entry.startswith("["):
            host, _, rest = entry.partition("]")
            host += "]"
            port = rest[1:] if rest.startswith(":") else None
        elif entry.count(":") == 1:
            host, _, port = entry.partition(":")
        elif ":" in entry:  # a bare IPv6 address
            host = f"[{entry}]"
        ports = default_ports if port is None else _ports([port], "PROJECT_ENDPOINT_HOSTS")
        rules.append(HostRule(host=host, ports=ports))
    return rules


def _host_and_port(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port  # ValueError for a port past 65535
    if port is None:
        port = DEFAULT_PORTS.get(parts.scheme, 0)
    if not 0 < port < 65536:  # ":0" was once taken for the scheme's default port
        raise ValueError(f"port {port}")
    return host, port


def url_problem(base_url: str) -> str | None:
    """Why a project endpoint may not point at `base_url`, or None when a site admin allowed its host and port."""
    if urlsplit(base_url).scheme not in DEFAULT_PORTS:
        return _("enter an http:// or https:// URL")
    try:
        host, port = _host_and_port(base_url)
    except ValueError:
        return _("that URL's port is not a number from 1 to 65535")
    rules = host_rules()
    if any(rule.matches(host, port) for rule in rules):
        return None
    if any(rule.matches(host, rule_port) for rule in rules for rule_port in (rule.ports or {port})):
        return _("port %(port)s of that host is not one a site admin allowed for project endpoints") % {"port": port}
    listed = ", ".join(settings.PROJECT_ENDPOINT_HOSTS) or _("none")
    return _("that host is not one a site admin allowed for project endpoints (%(listed)s)") % {"listed": listed}


# --- the addresses a project endpoint may reach ---------------------------------------------------------------------


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(value.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _listed_networks(port: int) -> list:
    """The networks whose addresses a project endpoint may reach on `port`: IP entries of PROJECT_ENDPOINT_HOSTS
    allow their own address on their own ports only; PROJECT_ENDPOINT_NETWORKS on any port (the URL's port is
    bounded by its host's entry)."""
    networks = []
    for rule in host_rules():
        if rule.ports is not None and port not in rule.ports:
            continue
        try:
            networks.append(ipaddress.ip_network(rule.host.strip("[]")))
        except ValueError:
            continue  # a name, not an address
    for entry in settings.PROJECT_ENDPOINT_NETWORKS:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"PROJECT_ENDPOINT_NETWORKS: {entry!r} is not a network") from None
    return networks


def address_allowed(address: str, port: int) -> bool:
    """Public unicast addresses are; private, loopback, link-local, reserved and multicast ones only when listed
    (an IP entry of PROJECT_ENDPOINT_HOSTS for its ports, or a PROJECT_ENDPOINT_NETWORKS network)."""
    ip = _ip(address)
    if ip.is_global and not ip.is_multicast:
        return True
    return any(ip.version == net.version and ip in net for net in _listed_networks(port))


def resolve_checked(host: str, port: int) -> str:
    """One address of `host` that a project endpoint may reach (the one to connect to), or EgressRefused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # maybe passing: a connection error, retried like one
        raise httpcore2.ConnectError(f"the endpoint's host {host[:100]!r} does not resolve") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        if address_allowed(address, port):
            return address
    raise EgressRefused(
        f"the endpoint's host {host[:100]!r} resolves to {addresses[0] if addresses else 'nothing'}, an address "
        f"that is not public and that no site admin allowed on port {port} (PROJECT_ENDPOINT_HOSTS, "
        "PROJECT_ENDPOINT_NETWORKS)"
    )


# --- one deadline per request ----------------------------------------------------------------------------------------

# When the request now being sent must be complete (time.monotonic()); set by the client's request hook. A context
# variable, so each worker thread has its own, whatever clients the threads share.
_deadline: ContextVar[float | None] = ContextVar("llm_request_deadline", default=None)
DEADLINE_MESSAGE = "the endpoint's request_timeout_s passed before its reply was complete"


def _within_deadline(timeout: float | None, error: type[Exception]) -> float | None:
    """The timeout for one network operation: the smaller of its own and what is left of the request's deadline."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error(DEADLINE_MESSAGE)
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore2.NetworkStream):
    """A connection whose every read and write ends by the deadline of the request using it."""

    def __init__(self, inner: httpcore2.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within_deadline(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within_deadline(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        timeout = _within_deadline(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore2.SyncBackend):
    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        timeout = _within_deadline(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(super().connect_tcp(host, port, timeout, local_address, socket_options))


class PinnedBackend(DeadlineBackend):
    """Connects to the address resolve_checked approved; TLS still names (SNI) and verifies the host itself,
    and the Host header is the URL's."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = resolve_checked(host, port)
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class _Transport(httpx2.HTTPTransport):
    def __init__(self, *, backend: httpcore2.SyncBackend, trust_env: bool):
        super().__init__(trust_env=trust_env)
        # httpx has no public way to give its pool a network backend: swap in a pool that uses ours.
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=trust_env), network_backend=backend
        )


# --- replies ---------------------------------------------------------------------------------------------------------


class _CappedStream(httpx2.SyncByteStream):
    def __init__(self, inner, *, status: int, limit: int):
        self._inner, self._status, self._limit = inner, status, limit

    def __iter__(self) -> Iterator[bytes]:
        head, size = [], 0
        try:
            for chunk in self._inner:
                # the connection's reads end by the deadline already; this also bounds a proxy's (trust_env)
                _within_deadline(None, httpx2.ReadTimeout)
                size += len(chunk)
                if size > self._limit:
                    head.append(chunk[: len(chunk) - (size - self._limit)])
                    raise ReplyTooLarge(self._status, b"".join(head), self._limit)
                head.append(chunk)
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        self._inner.close()


def _guard_reply(response: httpx2.Response) -> None:
    """A response hook, run before any of the body is read: no redirect, no encoding, no body past the cap."""
    if 300 <= response.status_code < 400:
        raise RedirectRefused(response.status_code)
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise EncodedReply(response.status_code, encoding)  # a small gzip body may unpack to gigabytes
    response.stream = _CappedStream(response.stream, status=response.status_code, limit=settings.LLM_MAX_REPLY_BYTES)


def http_client(*, project_endpoint: bool, timeout: float) -> httpx2.Client:
    """The httpx client an openai client is given; `timeout` bounds each request as a whole. Project endpoints
    connect only to checked addresses and never through a proxy from the environment (a proxy would resolve the
    host itself)."""

    def start_deadline(request: httpx2.Request) -> None:  # run as each request is sent, redirects refused
        _deadline.set(time.monotonic() + timeout)

    options = {
        "timeout": timeout,
        "follow_redirects": False,
        "headers": {"Accept-Encoding": "identity"},
        "event_hooks": {"request": [start_deadline], "response": [_guard_reply]},
    }
    if project_endpoint:
        return httpx2.Client(transport=_Transport(backend=PinnedBackend(), trust_env=False), trust_env=False, **options)
    return httpx2.Client(transport=_Transport(backend=DeadlineBackend(), trust_env=True), **options)
