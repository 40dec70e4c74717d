"""The top floor: the ``itsm-align`` command (main.py assembles it), the YAML
config loader (config.py) and the composition root (compose.py), which builds
settings, adapters, engine and app for every command."""
