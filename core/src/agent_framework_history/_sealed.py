"""Read-only messages: what the provider's message cache hands out, shared by every caller.

A sealed message is a ``Message`` (a subclass) whose attributes cannot be set, whose ``contents``
list and ``additional_properties`` dict cannot be changed, and whose contents are sealed the same
way, down to the dicts and lists they hold. Reading works as on any message. ``copy.copy`` gives a
plain, changeable ``Message`` with its own ``contents`` list and ``additional_properties`` dict (what
agent-framework does before it changes a message), ``copy.deepcopy`` and pickling give plain
objects all the way down.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, ClassVar, Final, NoReturn, SupportsIndex

from agent_framework import Content, Message

from ._json import kind_of

__all__ = ["seal_message", "sealed"]

_HINT = (
    "Messages loaded by HistoryStoreProvider are shared with its cache and read-only; "
    "copy.copy(message) gives a message to change (copy.copy(content) a content)."
)


def _refuse(what: str) -> NoReturn:
    raise TypeError(f"{what}: {_HINT}")


class SealedList(list[Any]):
    """A list that refuses every change."""

    def _no(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("this list cannot be changed")

    append = extend = insert = remove = pop = clear = reverse = _no
    __setitem__ = __delitem__ = _no

    def sort(self, *args: Any, **kwargs: Any) -> NoReturn:  # a method: list.sort's overloads type their self
        _refuse("this list cannot be changed")

    def __iadd__(self, other: Iterable[Any]) -> NoReturn:  # type: ignore[misc]
        _refuse("this list cannot be changed")

    def __imul__(self, other: SupportsIndex) -> NoReturn:
        _refuse("this list cannot be changed")

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(value, memo) for value in self]

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (list, (list(self),))


class SealedDict(dict[str, Any]):
    """A dict that refuses every change."""

    def _no(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("this dict cannot be changed")

    __setitem__ = __delitem__ = pop = popitem = clear = _no

    def setdefault(self, *args: Any, **kwargs: Any) -> NoReturn:  # methods: the overloads type their self
        _refuse("this dict cannot be changed")

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse("this dict cannot be changed")

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        _refuse("this dict cannot be changed")

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (dict, (dict(self),))


class SealedContent(Content):
    """A ``Content`` whose attributes cannot be set."""

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        _refuse(f"Content.{name} cannot be set")

    def __delattr__(self, name: str) -> NoReturn:
        _refuse(f"Content.{name} cannot be deleted")

    def __copy__(self) -> Content:
        plain = object.__new__(Content)
        plain.__dict__.update(self.__dict__)
        return plain

    def __deepcopy__(self, memo: dict[int, Any]) -> Content:
        return Content.__deepcopy__(self.__copy__(), memo)

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        plain = self.__copy__()
        return (_restore, (Content, plain.__getstate__()))


class SealedMessage(Message):
    """A ``Message`` whose attributes, contents and additional properties cannot be changed."""

    TYPE: ClassVar[str] = "message"  # serialised as a plain Message

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        _refuse(f"Message.{name} cannot be set")

    def __delattr__(self, name: str) -> NoReturn:
        _refuse(f"Message.{name} cannot be deleted")

    def __copy__(self) -> Message:
        plain = object.__new__(Message)
        plain.__dict__.update(self.__dict__)
        plain.contents = list(self.contents)
        plain.additional_properties = dict(self.additional_properties)
        return plain

    def __deepcopy__(self, memo: dict[int, Any]) -> Message:
        plain = object.__new__(Message)
        memo[id(self)] = plain
        for name, value in self.__dict__.items():
            plain.__dict__[name] = copy.deepcopy(value, memo)
        return plain

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (_restore, (Message, self.__copy__().__getstate__()))


def _restore(cls: type[Any], state: Any) -> Any:
    """Unpickle a sealed object as a plain one of ``cls``."""
    restored = object.__new__(cls)
    setstate = getattr(restored, "__setstate__", None)
    if setstate is not None:
        setstate(state)
    else:
        restored.__dict__.update(state)
    return restored


_NESTED: Final = frozenset({dict, list, Content})
"""The kinds ``sealed`` changes; everything else is returned as it is."""


def sealed(value: Any) -> Any:
    """``value`` with its dicts, lists and ``Content`` objects sealed, recursively (others as they are)."""
    kind = kind_of(value)
    if kind is dict:
        return SealedDict({key: sealed(item) for key, item in value.items()})
    if kind is list:
        return SealedList([sealed(item) for item in value])
    if kind is Content:
        state = value.__dict__
        for name, item in state.items():  # most of a content's fields are None or text: nothing to seal
            if kind_of(item) in _NESTED and name != "raw_representation":
                state[name] = sealed(item)
        value.__class__ = SealedContent
        return value
    return value


def seal_message(message: Message) -> Message:
    """Seal a message made by the conversion (nobody else holds it): in place, returned for convenience."""
    state = message.__dict__
    state["contents"] = SealedList([sealed(content) for content in message.contents])
    state["additional_properties"] = sealed(dict(message.additional_properties))
    if type(message) is Message:
        message.__class__ = SealedMessage
    return message
