"""Built-in rule types, each a plugin registering itself through ``itsm_align_register_rule_types``."""
