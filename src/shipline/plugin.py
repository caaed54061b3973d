"""Named implementations of one kind of thing (a drift method, a trigger kind, a serving
protocol, a model flavour), chosen by name and extended without editing shipline.

A registry holds three sources, looked up in this order:

1. implementations registered in-process with ``register`` (a notebook, a test, a plug-in
   package's import hook);
2. shipline's own implementations, given as ``"module:attribute"`` and imported on first use,
   so that naming one in ``shipline.yaml`` costs nothing until it runs;
3. installed packages' entry points in the registry's group (``shipline.drift_methods`` ...),
   read only when a name is not found above, so the scan of installed packages is paid only
   by those who use third-party plug-ins.

Every implementation has a ``name``; that name is what configuration and APIs refer to.
"""

from __future__ import annotations

__all__ = ["Plugin", "PluginRegistry"]

import importlib
from collections.abc import Iterator, Mapping
from typing import Generic, Protocol, TypeVar, cast

from shipline.errors import UsageError


class Plugin(Protocol):
    """What every plug-in has: the name it is chosen by."""

    @property
    def name(self) -> str:
        """The name configuration and APIs use."""
        ...


P = TypeVar("P", bound=Plugin)


class PluginRegistry(Generic[P]):
    """The implementations of one kind, by name."""

    def __init__(self, group: str, noun: str, builtins: Mapping[str, str]) -> None:
        self.group = group
        self.noun = noun
        self._builtins = dict(builtins)
        self._loaded: dict[str, P] = {}
        self._registered: dict[str, P] = {}
        self._entry_points_read = False

    def register(self, plugin: P) -> P:
        """Add an implementation; its name must not be taken. Returns it (usable as a decorator)."""
        name = plugin.name
        if not name or not isinstance(name, str):
            raise UsageError(f"a {self.noun} needs a non-empty name, got {name!r}")
        if name in self._registered or name in self._builtins:
            raise UsageError(f"{self.noun} {name!r} is already registered")
        self._registered[name] = plugin
        return plugin

    def unregister(self, name: str) -> None:
        """Remove an implementation added with ``register``."""
        self._registered.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def get(self, name: str) -> P:
        """The implementation called ``name``, or a UsageError listing the known names."""
        found = self._find(name)
        if found is None:
            known = ", ".join(self.names())
            raise UsageError(f"unknown {self.noun} {name!r}; expected one of: {known}")
        return found

    def names(self) -> tuple[str, ...]:
        """Every known name: registered, built in and installed."""
        self._read_entry_points()
        return tuple(sorted({*self._registered, *self._builtins, *self._loaded}))

    def __iter__(self) -> Iterator[P]:
        return iter([self.get(name) for name in self.names()])

    def _find(self, name: str) -> P | None:
        if name in self._registered:
            return self._registered[name]
        if name in self._loaded:
            return self._loaded[name]
        if name in self._builtins:
            self._loaded[name] = self._import(self._builtins[name], name)
            return self._loaded[name]
        if not self._entry_points_read:
            self._read_entry_points()
            return self._loaded.get(name)
        return None

    def _import(self, target: str, name: str) -> P:
        module, _, attribute = target.partition(":")
        plugin = cast(P, getattr(importlib.import_module(module), attribute))
        if plugin.name != name:
            raise UsageError(f"{self.noun} at {target} is named {plugin.name!r}, not {name!r}")
        return plugin

    def _read_entry_points(self) -> None:
        if self._entry_points_read:
            return
        self._entry_points_read = True
        from importlib.metadata import entry_points

        for point in entry_points(group=self.group):
            if point.name not in self._builtins and point.name not in self._registered:
                self._loaded.setdefault(point.name, self._import(point.value, point.name))
