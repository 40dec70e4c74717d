"""ServiceNow adapter (PySNC)."""
