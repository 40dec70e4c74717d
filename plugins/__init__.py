"""Rules as pluggy plugins: hook specs, plugin manager factory, built-in rule types, rule-set compilation. Imports only itsm_align.scoring.

Plugin authors need only ``from itsm_align.plugins import hookimpl`` and, for new rule
types, ``itsm_align.plugins.ruletypes`` (``RuleType`` and the condition nodes).
"""
from .markers import hookimpl

__all__ = ["hookimpl"]
