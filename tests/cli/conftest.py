"""CLI tests share the config fixtures (tmp_path config files, no ITSM_ALIGN_CONFIG leak)."""
from tests.cli.config.conftest import _no_config_env, write_config  # noqa: F401  (fixtures)
