"""Turning every failure into one clear line and a non-zero exit instead of a traceback.

``AF_HISTORY_DEBUG=1`` lets unexpected errors (anything but a usage mistake or an error the library
raises on purpose) through with their traceback, for bug reports.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Final

import click

from .._errors import HistoryStoreError

__all__ = [
    "DEBUG_ENV",
    "EXIT_FAILED",
    "EXIT_PROBLEMS",
    "CliError",
    "ErrorHandlingGroup",
    "ProblemsFound",
    "debugging",
    "one_line",
]

EXIT_FAILED: Final = 1
"""The command could not do its job (bad store URL, unreadable file, …)."""

EXIT_PROBLEMS: Final = 3
"""The command ran and found problems (``check`` found damage, ``migrate`` could not verify a session)."""

DEBUG_ENV: Final = "AF_HISTORY_DEBUG"
"""Set to ``1`` to see the traceback of an unexpected error instead of its one-line summary."""

_MAX_MESSAGE: Final = 800


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _printable(text: str) -> str:
    """``text`` without characters a UTF-8 terminal cannot take (lone surrogates become ``\\udXXX``)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def one_line(text: str) -> str:
    """``text`` folded to one printable line of at most a few hundred characters."""
    folded = _printable(" ".join(text.split()))
    return folded if len(folded) <= _MAX_MESSAGE else folded[: _MAX_MESSAGE - 1] + "…"


class CliError(click.ClickException):
    """A failure the user can fix; printed as ``af-history: error: <message>``."""

    exit_code = EXIT_FAILED

    def show(self, file: Any = None) -> None:
        click.echo(f"af-history: error: {one_line(self.format_message())}", file=file or sys.stderr)


class ProblemsFound(CliError):
    """The command finished and found problems it listed above (exit status 3)."""

    exit_code = EXIT_PROBLEMS


def _describe(exc: BaseException) -> str:
    """What went wrong: the message of an error raised on purpose, the kind and message of any other."""
    text = " ".join(str(exc).split())
    if isinstance(exc, (HistoryStoreError, ValueError, OSError)) and text:
        return text
    kind = type(exc).__name__
    return f"{kind}: {text}" if text else kind


class ErrorHandlingGroup(click.Group):
    """A click group whose commands report every error as one line (exit status 1), never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (HistoryStoreError, ValueError, OSError) as exc:
            raise CliError(_describe(exc)) from exc
        except RecursionError as exc:
            if debugging():
                raise
            raise CliError(
                "the input is nested too deeply to process (a JSON value, or a setting in af-history.toml, with "
                f"thousands of levels of brackets or tables); flatten it. Set {DEBUG_ENV}=1 to see where."
            ) from exc
        except Exception as exc:  # anything else: a bug or a driver's own error, still one line
            if debugging():
                raise
            raise CliError(
                f"{_describe(exc)} (set {DEBUG_ENV}=1 to see the traceback, and report it if it looks like a bug)"
            ) from exc
