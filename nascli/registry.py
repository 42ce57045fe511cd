"""Named registries of things the language and the CLI can refer to by name.

One `Registry` per kind (ops today; datasets use the same mechanism later):
built-ins register when their module is imported, plugins when they are
loaded (`nascli.plugins`). Entries are plain declarations; nothing here
imports torch.
"""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

from .errors import NasError

T = TypeVar("T")


class RegistryError(NasError):
    """An entry registered twice, or a name nothing registered."""


class Registry(Generic[T]):
    """Entries of one kind by name, in registration order."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise RegistryError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self._entries) or "none"
            raise RegistryError(f"unknown {self.kind} '{name}'; known: {known}") from None

    def remove(self, name: str) -> None:
        """Forget an entry (tests register throw-away plugins)."""
        self._entries.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def values(self) -> list[T]:
        return list(self._entries.values())
