"""Test helpers: a loopback HTTPS fake of the Foundry storage API, its CA, and a static credential.

Needs the ``test`` extra (``trustme``, ``aiohttp``). Call :func:`install_test_ca` before aiohttp
is first imported in the process.
"""

from __future__ import annotations

from ._credential import StaticTokenCredential
from ._fake import FakeFoundryStorage, Fault, Operation, RecordedRequest
from ._tls import LoopbackTls, install_test_ca, make_loopback_tls

__all__ = [
    "FakeFoundryStorage",
    "Fault",
    "LoopbackTls",
    "Operation",
    "RecordedRequest",
    "StaticTokenCredential",
    "install_test_ca",
    "make_loopback_tls",
]
