"""The plugin manager factory. Built fresh on each call; there is no global manager."""
from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterable

import pluggy

from . import hookspecs
from .markers import PROJECT

#: Entry-point group third-party rule plugins register under.
ENTRY_POINT_GROUP = "itsm_align"

#: Built-in plugins, registered in this order before any third-party plugin.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "itsm_align.plugins.rules.fields",
    "itsm_align.plugins.rules.text",
    "itsm_align.plugins.rules.regex",
    "itsm_align.plugins.default_scoring",
)


class PluginLoadError(RuntimeError):
    """A third-party plugin could not be loaded; the message names its entry point."""


def get_plugin_manager(*, load_entrypoints: bool = True, plugins: Iterable[object] = ()) -> pluggy.PluginManager:
    """A new plugin manager with the hook specs, the built-ins and the installed plugins.

    ``load_entrypoints`` loads every plugin registered under the ``itsm_align`` entry-point
    group; ``plugins`` are extra plugin objects (modules or instances) registered last.
    Raises :class:`PluginLoadError` for an installed plugin that fails to import or register.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if load_entrypoints:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            try:
                pm.register(ep.load(), name=ep.name)
            except Exception as exc:
                dist = getattr(ep.dist, "name", "?")
                raise PluginLoadError(
                    f"plugin {ep.name!r} ({ep.value}, from distribution {dist}) failed to load: "
                    f"{exc}. Fix or uninstall it (pip uninstall {dist})."
                ) from exc
    for plugin in plugins:
        pm.register(plugin)
    return pm
