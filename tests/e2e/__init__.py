"""End-to-end tests: the product over real sockets (sandboxes, service, worker, a real browser)."""
