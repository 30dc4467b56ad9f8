"""The ``af-history`` command: inspect, export, import, migrate and check conversation histories."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Coroutine, Generator, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar, cast

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._keys import SessionKey
from .._plugins import available_backends
from .._selector import resolve_target
from .._store import HistoryStore
from .._version import __version__
from ._check import check_sessions
from ._errors import CliError, ErrorHandlingGroup, ProblemsFound
from ._file_history import FileHistorySource, is_file_history
from ._interchange import decode_lines, import_records, read_records, write_header, write_session
from ._migrate import Migration, SessionOutcome, Source, StoreSource, migrate
from ._repair import backend_check
from ._stores import ConsoleRun, collect_sessions, describe_target, key_json, opened, partition, session_key
from ._transcript import transcript

__all__ = ["app", "main"]

T = TypeVar("T")

_PIPE_WIDTH = 200

_ROLE_STYLES = {"user": "bold cyan", "assistant": "bold green", "tool": "bold magenta", "system": "bold yellow"}


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _console(stream: TextIO, *, stderr: bool = False) -> Console:
    """A console for a terminal; piped output gets room for wide tables and unwrapped lines."""
    if stream.isatty() or os.environ.get("COLUMNS"):
        return Console(stderr=stderr, highlight=False)
    return Console(stderr=stderr, width=_PIPE_WIDTH, soft_wrap=True, highlight=False)


def _out() -> Console:
    return _console(sys.stdout)


def _err() -> Console:
    return _console(sys.stderr, stderr=True)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _split(args: tuple[str, ...], *, names: tuple[str, ...]) -> tuple[str | None, ...]:
    """Optional leading STORE: ``args`` holds the trailing ``names`` and maybe a store before them."""
    if len(args) == len(names):
        if "://" in args[0]:
            raise click.UsageError(f"{args[0]!r} looks like a store URL; give {' '.join(names)} after it")
        return (None, *args)
    if len(args) == len(names) + 1:
        return args
    wanted = " ".join(names)
    raise click.UsageError(f"expected [STORE] {wanted}, got {len(args)} argument(s): {' '.join(args) or '(none)'}")


def _session_or_all(args: tuple[str, ...], everything: bool, verb: str) -> tuple[str | None, str | None]:
    """``[STORE] SESSION``, or with ``--all`` just an optional ``[STORE]`` (the session is then ``None``)."""
    if everything:
        if len(args) > 1:
            raise click.UsageError("with --all, give at most a STORE, no SESSION")
        return (args[0] if args else None), None
    if not args:
        raise click.UsageError(f"give a SESSION to {verb}")
    store, session_id = _split(args, names=("SESSION",))
    return store, session_id


def _label(target: str | None) -> str:
    return describe_target(target) if target is not None else f"{describe_target(None)} (the default store)"


user_option = click.option("--user", help="The user of the partition (leave out for the anonymous partition).")
chat_option = click.option("--chat", help="The chat of the partition (leave out for the anonymous partition).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table.")


@click.group(cls=ErrorHandlingGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="af-history")
def app() -> None:
    """Inspect, export, import, migrate and check agent-framework conversation histories.

    STORE is a store URL (sqlite:///history.db, jsonl:///dir, memory://, foundry://,
    postgresql://…) or a backend name; left out, the store the selector chooses
    (AF_HISTORY_STORE, af-history.toml, then the embedded default) is used.
    """


@app.command()
@json_option
def backends(as_json: bool) -> None:
    """List the installed backends (and load errors)."""
    infos = available_backends()
    if as_json:
        _echo_json(
            [
                {
                    "name": i.name,
                    "distribution": i.distribution,
                    "version": i.version,
                    "schemes": list(i.schemes),
                    "description": i.description,
                    "error": i.error,
                }
                for i in infos
            ]
        )
        return
    if not infos:
        _out().print("No history backend is installed; try 'pip install agent-framework-history-sqlite'.")
        return
    table = Table(title="History backends")
    for column in ("name", "distribution", "version", "schemes", "status"):
        table.add_column(column, overflow="fold")
    for i in infos:
        status = "[green]ok[/green]" if i.ok else f"[red]{escape(i.error or '')}[/red]"
        schemes = ", ".join(f"{s}://" for s in i.schemes)
        table.add_row(i.name, i.distribution or "—", i.version or "—", schemes, status)
    _out().print(table)


@app.command()
def which() -> None:
    """Print the store used when STORE is left out, and why."""
    selection = resolve_target()
    click.echo(f"{selection.target}\t(chosen by {selection.source})")


@app.command()
@click.argument("store", required=False)
@user_option
@chat_option
@click.option(
    "--all-partitions", "every", is_flag=True, help="List every partition (fields given by --user/--chat still filter)."
)
@json_option
def sessions(store: str | None, user: str | None, chat: str | None, every: bool, as_json: bool) -> None:
    """List the sessions of a partition.

    Without --user / --chat this is the anonymous partition; --all-partitions lists every
    partition (a --user or --chat given alongside still filters that field).
    """
    where = partition(user, chat, every=every)

    async def run() -> list[Any]:
        async with opened(store, existing=True) as opened_store:
            return await collect_sessions(opened_store, where, label=_label(store))

    keys = _run(run())
    if as_json:
        _echo_json({"store": describe_target(store), "sessions": [key_json(k) for k in keys]})
        return
    if not keys:
        _err().print(f"No sessions in {escape(_label(store))} for this partition.")
        return
    table = Table(title=f"Sessions in {escape(describe_target(store))}")
    for column in ("session", "user", "chat"):
        table.add_column(column, overflow="fold")
    for key in keys:
        table.add_row(escape(key.session_id), escape(key.user or "—"), escape(key.chat or "—"))
    _out().print(table)


@app.command()
@click.argument("args", nargs=-1, metavar="[STORE] SESSION")
@user_option
@chat_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Show only the latest N items (grown back to a message, call or approval boundary).",
)
@json_option
def show(args: tuple[str, ...], user: str | None, chat: str | None, limit: int | None, as_json: bool) -> None:
    """Print a session's transcript.

    Roles, text, tool calls and their results, approval requests and answers, one line per item.
    """
    store, session_id = _split(args, names=("SESSION",))
    assert session_id is not None
    key = session_key(session_id, user, chat)

    async def run() -> list[Any]:
        async with opened(store, existing=True) as opened_store:
            return await opened_store.load(key, limit=limit)

    items = _run(run())
    if not items:
        raise CliError(
            f"No session {session_id!r} in partition user={user!r}, chat={chat!r} of {_label(store)}; "
            "'af-history sessions --all-partitions' lists what is there."
        )
    entries = transcript(items)
    if as_json:
        _echo_json(
            {
                "store": describe_target(store),
                "session": key_json(key),
                "count": len(items),
                "transcript": [e.to_json() for e in entries],
                "items": items,
            }
        )
        return
    console = _out()
    console.print(f"[dim]session {escape(session_id)} · user={user!r} · chat={chat!r} · {len(items)} items[/dim]")
    for entry in entries:
        style = _ROLE_STYLES.get(entry.role, "bold")
        kind = "" if entry.kind == "message" else f" [dim]({escape(entry.kind)})[/dim]"
        console.print(f"[{style}]{escape(entry.role)}[/{style}]{kind}: {escape(entry.text)}")


_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _existing_mode(final: Path) -> int | None:
    """The permission bits of the regular file at ``final`` (``None`` when absent); refuses anything else."""
    try:
        info = final.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISREG(info.st_mode):
        return stat.S_IMODE(info.st_mode)
    kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
    raise CliError(
        f"Refusing to write the export to {str(final)!r}: it is {kind}, and -o only creates or replaces a "
        "regular file. Give the path of a new or regular file, or leave -o out to write to standard output."
    )


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _check_output(path: str) -> int | None:
    """Refuse an ``-o`` target that is not a new or regular file in an existing folder; its mode if it exists."""
    final = Path(path)
    mode = _existing_mode(final)
    if not final.parent.is_dir():
        raise CliError(f"Cannot write the export to {path!r}: the directory {str(final.parent)!r} does not exist.")
    return mode


@contextmanager
def _output(path: str | None) -> Generator[TextIO, None, None]:
    """stdout, or a regular file written next to its final place and renamed over it when complete.

    Only a new file or an existing regular file is written (keeping its permissions); a symlink,
    FIFO, device, socket or directory at ``path`` is refused before anything is written.
    """
    if path is None or path == "-":
        yield sys.stdout
        return
    final = Path(path)
    mode = _check_output(path)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed into place below
        "w", encoding="utf-8", dir=final.parent, prefix=f".{final.name}.", delete=False
    )
    try:
        with handle:
            yield cast(TextIO, handle)
            os.fchmod(handle.fileno(), _new_file_mode() if mode is None else mode)
        _existing_mode(final)  # still a regular file (or absent): it may have been swapped meanwhile
        os.replace(handle.name, final)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


@app.command()
@click.argument("args", nargs=-1, metavar="[STORE] [SESSION]")
@click.option("--all", "everything", is_flag=True, help="Export every session (narrowed by --user / --chat if given).")
@user_option
@chat_option
@click.option("-o", "--output", "output", help="Write to this file instead of stdout.")
def export(args: tuple[str, ...], everything: bool, user: str | None, chat: str | None, output: str | None) -> None:
    """Write sessions in the JSONL interchange format.

    A header line {"format": "agent-framework-history", "version": 1}, then one line per item:
    {"session": {"session_id": ..., "user": ..., "chat": ...}, "item": {...}}. --all exports
    every session of every partition (narrowed by --user / --chat when given).
    """
    store, session_id = _session_or_all(args, everything, "export, or --all")
    if output not in (None, "-"):
        _check_output(output)  # before the store is opened (which may create it)

    async def run() -> tuple[int, int]:
        async with opened(store, existing=True) as opened_store:
            if session_id is None:
                keys = await collect_sessions(opened_store, partition(user, chat, every=True), label=_label(store))
            else:
                keys = [session_key(session_id, user, chat)]
            count = 0
            with _output(output) as out:
                write_header(out)
                for key in keys:
                    items = await opened_store.load(key)
                    if session_id is not None and not items:
                        raise CliError(f"No session {session_id!r} (user={user!r}, chat={chat!r}) in {_label(store)}.")
                    write_session(out, key, items)
                    count += len(items)
            return len(keys), count

    sessions_count, items_count = _run(run())
    if output not in (None, "-"):
        _err().print(f"Exported {_n(items_count, 'item')} of {_n(sessions_count, 'session')} to {escape(str(output))}.")


@app.command(name="import")
@click.argument("args", nargs=-1, metavar="[STORE] FILE")
def import_(args: tuple[str, ...]) -> None:
    """Import an interchange file into STORE.

    The whole file is validated first; items a session already holds are skipped, so importing
    the same file twice changes nothing. FILE may be - for standard input.
    """
    store, file = _split(args, names=("FILE",))
    assert file is not None
    if file == "-":
        buffered = sys.stdin.buffer.readlines()
        where = "standard input"

        def lines() -> Iterator[str]:
            yield from decode_lines(buffered, where)
    else:
        path = Path(file)
        if not path.is_file():
            kind = "a directory" if path.is_dir() else "no such file" if not path.exists() else "not a regular file"
            raise CliError(f"Cannot import {file!r}: {kind}; give the path of an export file (- for standard input).")
        where = file

        def lines() -> Iterator[str]:
            with path.open("rb") as handle:
                yield from decode_lines(handle, where)

    for _ in read_records(lines(), where):  # a first pass validates the whole file before anything is written
        pass

    async def run() -> Any:
        async with opened(store, persistent=True) as opened_store:
            return await import_records(opened_store, read_records(lines(), where))

    result = _run(run())
    _err().print(
        f"Imported {_n(result.read, 'item')} of {_n(result.sessions, 'session')} into {escape(_label(store))}: "
        f"{result.stored} new, {result.read - result.stored} already there."
    )


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err(),
        disable=not show,
    )


async def _source_keys(store: HistoryStore, source_url: str, user: str | None, chat: str | None) -> list[SessionKey]:
    keys = await collect_sessions(store, partition(user, chat, every=True), label=source_url)
    if not keys:
        narrowed = f" for user={user!r}" if user is not None else ""
        narrowed += f" chat={chat!r}" if chat is not None else ""
        raise CliError(
            f"The source {source_url} holds no sessions{narrowed}; nothing to migrate. Check the URL "
            "('af-history sessions URL --all-partitions' lists what a store holds)."
        )
    return keys


def _file_source(source_url: str, user: str | None, chat: str | None, allow_skipped: bool) -> FileHistorySource:
    source = FileHistorySource(source_url, user=user, chat=chat)
    for note in source.skipped:
        _err().print(f"[yellow]skipped[/yellow] {escape(note)}")
    if not source.sessions() and not (allow_skipped and source.skipped):
        raise CliError(
            f"{source_url} holds no FileHistoryProvider session files (*.jsonl, *.msgpack) that can be read; "
            "nothing to migrate."
        )
    return source


async def _migrate(
    source_url: str, destination_url: str, user: str | None, chat: str | None, show: bool, allow_skipped: bool
) -> tuple[Migration, list[str]]:
    async with AsyncExitStack() as stack:
        skipped: list[str] = []
        if is_file_history(source_url):
            file_source = _file_source(source_url, user, chat, allow_skipped)
            skipped = file_source.skipped
            source: Source = file_source
        else:
            source_store = await stack.enter_async_context(opened(source_url, existing=True))
            source = StoreSource(source_store, await _source_keys(source_store, source_url, user, chat))
        destination = await stack.enter_async_context(opened(destination_url, persistent=True))
        total = len(source.sessions())
        with _progress(show) as progress:
            sessions_task = progress.add_task("sessions", total=total)
            items_task = progress.add_task("items", total=None)

            def on_items(count: int) -> None:
                progress.advance(items_task, count)

            def on_session(outcome: SessionOutcome) -> None:
                progress.advance(sessions_task)
                done = progress.tasks[items_task].completed
                progress.update(items_task, total=done)

            return await migrate(source, destination, on_session=on_session, on_items=on_items), skipped
    raise AssertionError("unreachable")  # pragma: no cover - the with block returns


@app.command(name="migrate")
@click.option("--from", "source_url", required=True, help="Store URL to copy from, or file-history:///dir.")
@click.option("--to", "destination_url", required=True, help="Store URL to copy to.")
@click.option("--user", help="Copy only this user's sessions (for file-history://: the user to file them under).")
@click.option("--chat", help="Copy only this chat's sessions (for file-history://: the chat to file them under).")
@click.option("--progress/--no-progress", "show", default=True, help="Show progress bars (default: on).")
@click.option(
    "--allow-skipped",
    is_flag=True,
    help="Exit 0 even when file-history:// files were skipped (their session id cannot be recovered).",
)
def migrate_command(
    source_url: str, destination_url: str, user: str | None, chat: str | None, show: bool, allow_skipped: bool
) -> None:
    """Copy every session from one store to another.

    Re-running resumes: items the destination holds are skipped. Each session is verified
    afterwards (every source item id must be in the destination). --from also takes
    file-history:///dir, a directory written by agent_framework.FileHistoryProvider.
    """
    if source_url.strip() == destination_url.strip():
        raise CliError(f"--from and --to are the same store ({source_url!r}); nothing to do.")
    if user == "" or chat == "":
        raise CliError("--user and --chat must not be empty.")
    if is_file_history(destination_url):
        raise CliError("file-history:// can only be read (--from); write to a store URL such as sqlite:///history.db.")
    result, skipped = _run(_migrate(source_url, destination_url, user, chat, show, allow_skipped))
    console = _err()
    failed = result.failed
    console.print(
        f"Migrated {_n(len(result.sessions), 'session')}, {_n(result.items, 'item')}: {result.stored} newly stored, "
        f"{result.items - result.stored} already there. Verified {len(result.sessions) - len(failed)}/"
        f"{len(result.sessions)} sessions."
    )
    for outcome in result.sessions:
        if outcome.destination_items != outcome.source_items and outcome.ok:
            console.print(
                f"[yellow]note[/yellow] session {escape(outcome.key.session_id)!r}: the destination holds "
                f"{outcome.destination_items} items, the source {outcome.source_items} (it had items of its own)."
            )
    for outcome in failed:
        console.print(
            f"[red]not verified[/red] session {escape(outcome.key.session_id)!r} (user={outcome.key.user!r}, "
            f"chat={outcome.key.chat!r}): {outcome.missing} of {outcome.source_items} items are missing "
            "from the destination."
        )
    if failed:
        raise ProblemsFound(f"{len(failed)} sessions did not verify; run the same command again to retry.")
    if skipped and not allow_skipped:
        raise ProblemsFound(
            f"{_n(len(skipped), 'file')} of {source_url} skipped (listed above); copy them by hand, or pass "
            "--allow-skipped to leave them behind on purpose."
        )


@app.command()
@click.argument("store", required=False)
@click.option("--repair", is_flag=True, help="Repair what can be repaired safely (torn tails of JSONL files).")
def check(store: str | None, repair: bool) -> None:
    """Verify every session loads; report (and repair) damaged files.

    Backends with their own scan (jsonl) also report torn or corrupt lines; --repair cuts torn
    tails off JSONL files.
    """

    async def run() -> Any:
        async with opened(store, existing=True) as opened_store:
            extra = await backend_check(opened_store, repair=repair)
            report = await check_sessions(opened_store, label=_label(store))
            if extra is not None:
                report.problems[:0] = extra.problems
                report.repaired.extend(extra.repaired)
            return report

    report = _run(run())
    console = _out()
    for fixed in report.repaired:
        console.print(f"[green]repaired[/green] {escape(fixed)}")
    for problem in report.problems:
        hint = " [dim](repairable with --repair)[/dim]" if problem.repairable and not repair else ""
        console.print(f"[red]problem[/red] {escape(problem.where)}: {escape(problem.what)}{hint}")
    console.print(
        f"Checked {_n(report.sessions, 'session')}, {_n(report.items, 'item')} in {escape(describe_target(store))}: "
        + ("no problems." if report.ok else f"{_n(len(report.problems), 'problem')}.")
    )
    if not report.ok:
        raise ProblemsFound(f"{_n(len(report.problems), 'problem')} found.")


class _LogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"af-history: {record.levelname.lower()}: {record.getMessage()}"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``af-history`` console script."""
    # The agent-server SDK logs a notice per experimental class it builds (the Foundry store uses several);
    # for someone reading their histories it is noise between them and the one line that matters.
    os.environ.setdefault("AZURE_AI_AGENTSERVER_DISABLE_EXPERIMENTAL_WARNING", "true")
    handler = logging.StreamHandler()
    handler.setFormatter(_LogFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    app.main(args=argv, prog_name="af-history", obj=ConsoleRun())
