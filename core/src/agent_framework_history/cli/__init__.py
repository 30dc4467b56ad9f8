"""The ``af-history`` command line: backends, sessions, show, export / import, migrate, check, delete, prune.

``main()`` is the console script; ``app`` is the click group (for ``click.testing.CliRunner``).
The export format is described in :mod:`agent_framework_history.cli._interchange` and the CLI reference.
"""

from __future__ import annotations

from . import _remove as _remove  # registers the delete and prune commands on app
from ._app import app, main
from ._interchange import (
    FORMAT,
    FORMAT_VERSION,
    InterchangeError,
    import_records,
    read_records,
    write_header,
    write_session,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "InterchangeError",
    "app",
    "import_records",
    "main",
    "read_records",
    "write_header",
    "write_session",
]
