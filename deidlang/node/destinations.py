"""Where the node forwards: a DICOM node (``AE@HOST:PORT``, optionally over TLS) or a DICOMweb
server (an ``http(s)://`` base URL, STOW-RS). Names are resolved when the node starts, so a typo is a
clear error at once rather than an outage later; credentials come from a file, never the command line.
"""

from __future__ import annotations

import socket
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import InputError


@dataclass(frozen=True)
class Destination:
    """A DICOM (DIMSE) destination."""

    ae_title: str
    host: str
    port: int
    tls: ssl.SSLContext | None = None

    @classmethod
    def parse(cls, text: str, tls: ssl.SSLContext | None = None) -> "Destination":
        """``AE@HOST:PORT``."""
        try:
            ae_title, rest = text.split("@", 1)
            host, port = rest.rsplit(":", 1)
            if not ae_title or len(ae_title) > 16 or not host:
                raise ValueError
            return cls(ae_title, host.strip("[]"), int(port), tls)
        except ValueError:
            raise InputError(f"`{text}` is not AE@HOST:PORT (an AE title of 1 to 16 characters)") from None

    def check(self) -> None:
        resolve(self.host)

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}{' (TLS)' if self.tls else ''}"


@dataclass(frozen=True)
class WebDestination:
    """A DICOMweb server: instances are stored with STOW-RS at ``<url>/studies``."""

    url: str
    auth: tuple[str, str] | str | None = None  # (user, password) for basic, a token for bearer
    ca_file: str | None = None
    batch: int = 50

    @classmethod
    def parse(cls, url: str, auth_file: str | None = None, ca_file: str | None = None) -> "WebDestination":
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"`{url}` is not an http(s) URL")
        if parts.username or parts.password:
            raise InputError("credentials in the URL are not accepted: give them in --forward-auth FILE")
        return cls(url.rstrip("/"), read_auth(auth_file) if auth_file else None, ca_file)

    def check(self) -> None:
        resolve(urlsplit(self.url).hostname or "")

    def __str__(self) -> str:
        return self.url


def parse_destination(text: str, *, tls: ssl.SSLContext | None = None, auth_file: str | None = None,
                      ca_file: str | None = None) -> Destination | WebDestination:
    if text.startswith(("http://", "https://")):
        return WebDestination.parse(text, auth_file, ca_file)
    if auth_file:
        raise InputError("--forward-auth is for a DICOMweb destination (an http(s) URL)")
    return Destination.parse(text, tls)


def read_auth(path: str) -> tuple[str, str] | str:
    """``Bearer TOKEN`` or ``USER:PASSWORD`` on the file's first line; the file must be private."""
    file = Path(path)
    try:
        if file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InputError(f"the credentials file `{path}` can be read by other users: chmod 600 {path}")
        line = file.read_text(encoding="utf-8").strip().splitlines()[0].strip() if file.read_bytes().strip() else ""
    except OSError as err:
        raise InputError(f"cannot read the credentials file `{path}`: {err.strerror}") from None
    if line.lower().startswith("bearer "):
        return line[7:].strip()
    user, sep, password = line.partition(":")
    if not sep or not user:
        raise InputError(f"the credentials file `{path}` holds neither `Bearer TOKEN` nor `USER:PASSWORD`")
    return (user, password)


def resolve(host: str) -> list[str]:
    """The addresses of ``host``; a name that does not resolve is a usage error."""
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)})
    except (socket.gaierror, UnicodeError):
        raise InputError(f"the host name `{host}` does not resolve") from None
