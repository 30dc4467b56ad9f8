"""Reading ``--older-than`` durations: ``90d``, ``12h``, ``1w2d``, ``30m``, ``45s``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

import click

__all__ = ["Duration"]

_UNITS: Final = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_PART: Final = re.compile(r"(\d+)([wdhms])")
_WHOLE: Final = re.compile(r"(?:\d+[wdhms])+")


class Duration(click.ParamType[timedelta]):
    """A click parameter type: a positive span such as ``90d`` or ``1d12h`` (weeks, days, hours, minutes, seconds)."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip().lower().replace(" ", "")
        if not _WHOLE.fullmatch(text):
            self.fail(
                f"{value!r} is not a duration; write a number and a unit, such as 90d, 12h, 30m, 45s, 2w or 1d12h",
                param,
                ctx,
            )
        try:
            span = sum((timedelta(**{_UNITS[unit]: int(number)}) for number, unit in _PART.findall(text)), timedelta())
        except OverflowError:
            self.fail(f"{value!r} is longer than any date can go back", param, ctx)
        if span <= timedelta():
            self.fail(f"{value!r} is no time at all; give a duration above zero", param, ctx)
        return span
