"""Rules as pluggy plugins: hook specs, plugin manager factory, built-in rule types, rule-set compilation. Imports only itsm_align.scoring."""
