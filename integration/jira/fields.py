"""Which Jira field is which: names -> ids, contexts and options, cached.

Field ids are looked up by name once (GET /field) and kept for the life of the
adapter; options of our select fields are read once per field when first
needed (bulk edit addresses options by id). ``forget()`` drops the cache
(after setup changed things).
"""
from __future__ import annotations

from typing import Any, Iterator

from itsm_align.integration.base import ConfigurationError, KeyValueStore

from .client import SETUP_HINT, JiraClient
from .mapping import OutputFieldIds
from .settings import JiraSettings

SYSTEM_EFFORT = "timeoriginalestimate"


def option_key(field_id: str, objective_id: str) -> str:
    """KeyValueStore key of the option id that belongs to an objective."""
    return f"jira:option:{field_id}:{objective_id}"


class FieldRegistry:
    def __init__(self, client: JiraClient, settings: JiraSettings, state: KeyValueStore) -> None:
        self.client = client
        self.settings = settings
        self.state = state
        self._fields: list[dict[str, Any]] | None = None
        self._ids: OutputFieldIds | None = None
        self._contexts: dict[str, str] = {}
        self._options: dict[str, list[dict[str, Any]]] = {}

    # ------------------------------------------------------------ fields
    def all_fields(self) -> list[dict[str, Any]]:
        if self._fields is None:
            self._fields = list(self.client.get(self.client.path("field")) or [])
        return self._fields

    def forget(self) -> None:
        self._fields = None
        self._ids = None
        self._contexts.clear()
        self._options.clear()

    def by_name(self, name: str) -> list[dict[str, Any]]:
        """Custom fields called ``name`` (Jira allows duplicates)."""
        return [f for f in self.all_fields() if f.get("name") == name and f.get("custom", True)]

    def resolve(self, name_or_id: str) -> str:
        """A field id from an id or a display name."""
        if name_or_id == SYSTEM_EFFORT or name_or_id.startswith("customfield_"):
            return name_or_id
        for f in self.all_fields():
            if f.get("id") == name_or_id or f.get("name") == name_or_id:
                return str(f["id"])
        raise ConfigurationError("jira", f"no Jira field named {name_or_id!r}; check the name in the config "
                                         "(Jira > Settings > Issues > Custom fields)")

    @property
    def ids_known(self) -> OutputFieldIds | None:
        """The output field ids if already resolved (never triggers a request)."""
        return self._ids

    def output_ids(self) -> OutputFieldIds:
        if self._ids is None:
            names = self.settings.fields
            found: dict[str, str] = {}
            for role in ("objective", "score", "rationale", "nature"):
                name = getattr(names, role)
                matches = self.by_name(name)
                if not matches:
                    raise ConfigurationError("jira", f"the Jira field {name!r} does not exist; {SETUP_HINT}")
                if len(matches) > 1:
                    ids = ", ".join(str(m.get("id")) for m in matches)
                    raise ConfigurationError("jira", f"several Jira fields are named {name!r} ({ids}); rename "
                                                     "the extra ones or set another name under jira.fields")
                found[role] = str(matches[0]["id"])
            self._ids = OutputFieldIds(**found)
        return self._ids

    def name_to_id(self) -> dict[str, str]:
        """Display name -> id of our fields, from what is already known (no request)."""
        names = self.settings.fields
        if self._ids is None:
            return {}
        return {names.objective: self._ids.objective, names.score: self._ids.score,
                names.rationale: self._ids.rationale, names.nature: self._ids.nature}

    # ------------------------------------------------------------ contexts & options
    def contexts(self, field_id: str) -> list[dict[str, Any]]:
        return list(self._paged(self.client.path(f"field/{field_id}/context")))

    def global_context(self, field_id: str) -> str | None:
        if field_id not in self._contexts:
            contexts = self.contexts(field_id)
            chosen = next((c for c in contexts if c.get("isGlobalContext")), None)
            if chosen is None:
                return None
            self._contexts[field_id] = str(chosen["id"])
        return self._contexts[field_id]

    def options(self, field_id: str, *, refresh: bool = False) -> list[dict[str, Any]]:
        """Options (``id``, ``value``, ``disabled``) of the field's global context."""
        if refresh or field_id not in self._options:
            context = self.global_context(field_id)
            if context is None:
                raise ConfigurationError("jira", f"field {field_id} has no global context; {SETUP_HINT}")
            self._options[field_id] = list(
                self._paged(self.client.path(f"field/{field_id}/context/{context}/option")))
        return self._options[field_id]

    def option_id(self, field_id: str, value: str) -> int:
        """Id of the enabled option ``value`` (bulk edit addresses options by id)."""
        for option in self.options(field_id):
            if option.get("value") == value and not option.get("disabled"):
                return int(option["id"])
        raise ConfigurationError("jira", f"field {field_id} has no enabled option {value!r}; {SETUP_HINT}")

    def _paged(self, path: str, page: int = 100) -> Iterator[dict[str, Any]]:
        start = 0
        while True:
            answer = self.client.get(path, params={"startAt": start, "maxResults": page}) or {}
            values = answer.get("values") or []
            yield from values
            start += len(values)
            if answer.get("isLast", True) or not values:
                return
