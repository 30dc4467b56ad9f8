"""A throwaway certificate authority so a loopback HTTPS fake verifies like the real service."""

from __future__ import annotations

import os
import ssl
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LoopbackTls", "install_test_ca", "make_loopback_tls"]

_HOST = "127.0.0.1"


@dataclass(frozen=True)
class LoopbackTls:
    """A CA (its PEM file trusted through ``SSL_CERT_FILE``) and a server certificate for 127.0.0.1."""

    ca: Any
    server_cert: Any
    ca_file: Path

    def server_context(self) -> ssl.SSLContext:
        """The TLS context the fake server listens with."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        return context


def install_test_ca(directory: str | Path | None = None) -> LoopbackTls:
    """Create a CA and a 127.0.0.1 certificate, and point ``SSL_CERT_FILE`` at the CA.

    Must run before ``aiohttp`` is first imported in the process: aiohttp builds its default
    verifying TLS context at import time, and azure-core's aiohttp transport uses that context.
    """
    if "aiohttp" in sys.modules:
        raise RuntimeError(
            "install_test_ca() must run before aiohttp is imported (aiohttp reads SSL_CERT_FILE once, at import); "
            "call it first thing in conftest.py, or run the HTTPS client in a fresh process."
        )
    tls = make_loopback_tls(directory)
    os.environ["SSL_CERT_FILE"] = str(tls.ca_file)
    return tls


def make_loopback_tls(directory: str | Path | None = None) -> LoopbackTls:
    """Create a CA (written to ``<directory>/ca.pem``) and a 127.0.0.1 certificate; change no setting.

    For a fake served in this process to clients in other processes: start them with
    ``SSL_CERT_FILE`` set to ``ca_file``.
    """
    import trustme  # type: ignore[import-not-found, unused-ignore]

    ca = trustme.CA()
    server_cert = ca.issue_cert(_HOST)
    folder = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="af-history-foundry-ca-"))
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return LoopbackTls(ca=ca, server_cert=server_cert, ca_file=ca_file)
