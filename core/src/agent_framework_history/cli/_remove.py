"""``af-history delete`` and ``af-history prune``: removing sessions, one, a user's, or the idle ones.

Both list what they are about to remove, remove nothing with ``--dry-run``, and ask before removing
(``--yes`` answers for a script; without it, a run whose standard input is not a terminal is refused).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import click
from rich.markup import escape
from rich.table import Table

from .._keys import SessionKey
from .._store import Capability, HistoryStore, SessionActivity
from ._app import _echo_json, _err, _label, _n, _out, _run, _session_or_all, app, chat_option, json_option, user_option
from ._duration import Duration
from ._errors import CliError
from ._stores import collect_sessions, describe_target, key_json, opened, partition, session_key, sort_key

__all__ = ["delete", "prune"]

dry_run_option = click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (for scripts).")


def interactive() -> bool:
    """Whether a person can answer a question on standard input."""
    return sys.stdin.isatty()


def _confirm(question: str, *, yes: bool) -> None:
    if yes:
        return
    if not interactive():
        raise CliError(
            f"Refusing to {question} without confirmation: standard input is not a terminal. "
            "Check the list with --dry-run, then pass --yes."
        )
    if not click.confirm(f"{question[0].upper()}{question[1:]}? This cannot be undone.", err=True):
        raise CliError("Nothing was removed: not confirmed.")


def _require(store: HistoryStore, capability: Capability, label: str, what: str) -> None:
    if capability not in store.capabilities:
        raise CliError(
            f"The store {label} cannot {what} (its backend lacks the {capability.value} capability); "
            "see the backend's documentation for how its data is removed."
        )


def _table(title: str, keys: Sequence[SessionKey], times: dict[SessionKey, datetime] | None = None) -> None:
    table = Table(title=title)
    columns = ("session", "user", "chat", *(("last active (UTC)",) if times is not None else ()))
    for column in columns:
        table.add_column(column, overflow="fold")
    for key in keys:
        row = [escape(key.session_id), escape(key.user or "—"), escape(key.chat or "—")]
        if times is not None:
            row.append(times[key].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
        table.add_row(*row)
    _out().print(table)


def _whose(user: str | None, chat: str | None) -> str:
    parts = [f"user={user!r}"] if user is not None else []
    parts += [f"chat={chat!r}"] if chat is not None else []
    return " and ".join(parts)


@app.command()
@click.argument("args", nargs=-1, metavar="[STORE] [SESSION]")
@click.option("--all", "everything", is_flag=True, help="Every session of --user (and/or --chat), in every partition.")
@user_option
@chat_option
@dry_run_option
@yes_option
@json_option
def delete(
    args: tuple[str, ...],
    everything: bool,
    user: str | None,
    chat: str | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Delete one session, or with --all every session of a user (a data-protection request).

    SESSION is looked up in the partition of --user / --chat. --all --user U deletes U's sessions in
    every chat (--chat narrows it); --all needs --user or --chat.
    """
    store, session_id = _session_or_all(args, everything, "delete, or --all with --user / --chat")
    if everything and user is None and chat is None:
        raise click.UsageError("--all needs --user and/or --chat: it deletes the sessions of that user or chat")
    label = _label(store)

    async def run() -> tuple[list[SessionKey], list[SessionKey]]:
        async with opened(store, existing=True) as opened_store:
            _require(opened_store, Capability.DELETE, label, "delete sessions")
            if session_id is None:
                keys = await collect_sessions(opened_store, partition(user, chat, every=True), label=label)
            else:
                key = session_key(session_id, user, chat)
                if not await opened_store.load(key, limit=1):
                    raise CliError(
                        f"No session {session_id!r} in partition user={user!r}, chat={chat!r} of {label}; "
                        "'af-history sessions --all-partitions' lists what is there."
                    )
                keys = [key]
            if dry_run or not keys:
                return keys, []
            if not as_json:
                _table(f"Sessions to delete from {escape(describe_target(store))}", keys)
            _confirm(f"delete {_n(len(keys), 'session')} from {label}", yes=yes)
            return keys, [key for key in keys if await opened_store.delete(key)]

    keys, deleted = _run(run())
    if session_id is None and not keys:
        raise CliError(f"No sessions of {_whose(user, chat)} in {label}; nothing to delete.")
    if as_json:
        listed = keys if dry_run else deleted
        _echo_json({"store": describe_target(store), "dry_run": dry_run, "sessions": [key_json(k) for k in listed]})
        return
    if dry_run:
        _table(f"Would delete from {escape(describe_target(store))} (dry run)", keys)
        return
    _err().print(f"Deleted {_n(len(deleted), 'session')} from {escape(label)}.")


def _cutoff(older_than: timedelta) -> datetime:
    try:
        return datetime.now(UTC) - older_than
    except OverflowError:
        raise CliError(f"--older-than {older_than} reaches back before the year 1.") from None


@app.command()
@click.argument("store", required=False)
@click.option(
    "--older-than",
    "older_than",
    type=Duration(),
    required=True,
    help="Remove sessions last appended to longer ago than this: 90d, 12h, 30m, 45s, 2w, 1d12h.",
)
@click.option("--user", help="Only this user's sessions (every user when left out).")
@click.option("--chat", help="Only this chat's sessions (every chat when left out).")
@dry_run_option
@yes_option
@json_option
def prune(
    store: str | None,
    older_than: timedelta,
    user: str | None,
    chat: str | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Remove the sessions nobody appended to for --older-than (retention).

    Every partition unless --user / --chat narrow it. A session appended to between the listing and
    the removal is kept.
    """
    label = _label(store)
    before = _cutoff(older_than)
    where = partition(user, chat, every=True)

    async def run() -> tuple[list[SessionActivity], list[SessionActivity]]:
        async with opened(store, existing=True) as opened_store:
            _require(opened_store, Capability.ACTIVITY, label, "tell when its sessions were last used")
            stale = sorted(
                await opened_store.prune(before, user=where[0], chat=where[1], dry_run=True),
                key=lambda a: sort_key(a.key),
            )
            if dry_run or not stale:
                return stale, []
            if not as_json:
                _table(
                    f"Sessions idle since {before:%Y-%m-%d %H:%M:%S} UTC in {escape(describe_target(store))}",
                    [a.key for a in stale],
                    {a.key: a.last_active for a in stale},
                )
            _confirm(f"remove {_n(len(stale), 'session')} from {label}", yes=yes)
            removed = await opened_store.prune(before, user=where[0], chat=where[1])
            return stale, sorted(removed, key=lambda a: sort_key(a.key))

    stale, removed = _run(run())
    if as_json:
        listed = stale if dry_run else removed
        _echo_json(
            {
                "store": describe_target(store),
                "dry_run": dry_run,
                "before": before.isoformat(),
                "sessions": [{**key_json(a.key), "last_active": a.last_active.isoformat()} for a in listed],
            }
        )
        return
    if dry_run:
        if stale:
            _table(
                f"Would remove from {escape(describe_target(store))} (dry run)",
                [a.key for a in stale],
                {a.key: a.last_active for a in stale},
            )
        else:
            _err().print(f"No session of {escape(label)} is idle since {before:%Y-%m-%d %H:%M:%S} UTC.")
        return
    kept = len(stale) - len(removed)
    note = f"; {_n(kept, 'session')} used meanwhile kept" if kept else ""
    _err().print(
        f"Removed {_n(len(removed), 'session')} idle since {before:%Y-%m-%d %H:%M:%S} UTC from {escape(label)}{note}."
    )
