"""Turning user mistakes into one clear line and a non-zero exit instead of a traceback."""

from __future__ import annotations

import sys
from typing import Any, Final

import click

from .._errors import HistoryStoreError

__all__ = ["EXIT_FAILED", "EXIT_PROBLEMS", "CliError", "ErrorHandlingGroup", "ProblemsFound"]

EXIT_FAILED: Final = 1
"""The command could not do its job (bad store URL, unreadable file, …)."""

EXIT_PROBLEMS: Final = 3
"""The command ran and found problems (``check`` found damage, ``migrate`` could not verify a session)."""


class CliError(click.ClickException):
    """A failure the user can fix; printed as ``af-history: error: <message>``."""

    exit_code = EXIT_FAILED

    def show(self, file: Any = None) -> None:
        click.echo(f"af-history: error: {self.format_message()}", file=file or sys.stderr)


class ProblemsFound(CliError):
    """The command finished and found problems it listed above (exit status 3)."""

    exit_code = EXIT_PROBLEMS


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class ErrorHandlingGroup(click.Group):
    """A click group whose commands report library and OS errors as one line (exit status 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (HistoryStoreError, ValueError, OSError) as exc:
            raise CliError(_one_line(exc)) from exc
