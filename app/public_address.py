"""The address browsers open this service at, and whether web sign-in can work there.

The sign-in cookies are `__Host-` cookies. Being `Secure`, browsers keep them only
over https or at a loopback address (127.0.0.1, localhost, ::1); being host-only, a
sign-in must start and finish at one address. A wildcard bind address (0.0.0.0, ::)
is where the server listens, never an address to open: browsers drop the cookies there.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 (names them, binds nothing)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_wildcard(host: str) -> bool:
    """A bind address meaning "every address of this machine"."""
    return host.strip("[]") in WILDCARD_HOSTS


def is_loopback(host: str) -> bool:
    """An address browsers treat as this computer (and so as secure over plain http)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """`host` as a URL writes it: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def reachable_host(host: str) -> str:
    """Where this machine reaches a server bound to `host`: loopback for a wildcard bind."""
    name = host.strip("[]")
    if is_wildcard(name):
        return "::1" if name == "::" else "127.0.0.1"
    return name


def served_base_url(host: str, port: int) -> str:
    """The address a browser on this machine opens for a server bound to `host`:`port`.

    A wildcard bind answers on every address; of those, loopback is the one where
    browsers keep the sign-in cookies over plain http.
    """
    suffix = "" if port == _DEFAULT_PORTS["http"] else f":{port}"
    return f"http://{url_host(reachable_host(host))}{suffix}"


def keeps_sign_in_cookie(base_url: str) -> bool:
    """Whether browsers keep `Secure` cookies at this address: https, or loopback http."""
    parts = urlsplit(base_url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or ""))


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else _DEFAULT_PORTS.get(scheme)


def same_server_at_public_address(request_url: str, public_base_url: str) -> str | None:
    """`request_url` at the public address, when the request reached this same server by
    another local name for it (localhost for 127.0.0.1, or 0.0.0.0) on the same port.

    None otherwise: another port may be a forwarded one (a container's published port),
    and another machine's name may not reach the public address at all; a redirect there
    could lead nowhere, or back here behind a proxy.
    """
    here, public = urlsplit(request_url), urlsplit(public_base_url)
    here_host, public_host = here.hostname or "", public.hostname or ""
    if (
        public.scheme != "http"
        or not is_loopback(public_host)
        or public.path.strip("/")
        or here.scheme != "http"
        or not (is_loopback(here_host) or is_wildcard(here_host))
        or here_host == public_host
        or _port(here.scheme, here.port) != _port(public.scheme, public.port)
    ):
        return None
    return urlunsplit((public.scheme, public.netloc, here.path, here.query, ""))


def machine_addresses() -> list[str]:
    """Names other computers may reach this one by: its host name and its outward IPv4
    address (the one a route out would use; nothing is sent to find it)."""
    names = [socket.gethostname()]
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 9))  # UDP: picks a route, sends nothing
            address = str(probe.getsockname()[0])
    except OSError:
        address = ""
    if address and not is_loopback(address) and not is_wildcard(address):
        names.append(address)
    return [name for name in names if name and not is_loopback(name)]
