"""The sandboxes' web pages, as a person sees the platform: what both share.

Each sandbox serves, on the port of its API, a few pages under ``/sandbox/``
(list, ticket, create, edit, set the objective by hand). Their changes go
through the sandbox's own control calls as the signed-in person, so they fire
the same webhooks / business-rule events as the API. This package holds the
parts both sandboxes share: sign-in sessions with CSRF tokens, the Jinja
environment, static files and the router that puts the pages in front of the
API (:func:`mount`). Everything is served from the package; no CDN.
"""
from .kit import Pages, Person, mount

__all__ = ["Pages", "Person", "mount"]
