"""The service: Flask app, signature checks, inbox, worker, history, CLI. May import everything below."""
