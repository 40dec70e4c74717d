"""The pluggy markers of the ``itsm_align`` project (spec and implementation)."""
import pluggy

PROJECT = "itsm_align"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
