"""Who last set a field: from an issue's changelog histories.

Used to tell a person's override of the objective field from our own writes.
Cloud: ``POST /rest/api/3/changelog/bulkfetch`` filtered to the one field (up
to 1,000 issues per request); Data Center: the ``expand=changelog`` histories.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Sequence

from .client import JiraClient
from .events import actor_of
from .mapping import parse_time


def _touches(history: Mapping[str, Any], field_keys: Sequence[str]) -> bool:
    for item in history.get("items") or ():
        if isinstance(item, Mapping) and (item.get("fieldId") in field_keys or item.get("field") in field_keys):
            return True
    return False


def _order(history: Mapping[str, Any]) -> tuple[float, int]:
    when = parse_time(history.get("created"))
    try:
        hid = int(history.get("id") or 0)
    except (TypeError, ValueError):
        hid = 0
    return (when.timestamp() if when else 0.0, hid)


def last_change_author(histories: Iterable[Mapping[str, Any]], field_keys: Sequence[str]) -> str | None:
    """accountId (or name/key) of whoever made the newest change to the field."""
    latest: Mapping[str, Any] | None = None
    for history in histories:
        if isinstance(history, Mapping) and _touches(history, field_keys):
            if latest is None or _order(history) >= _order(latest):
                latest = history
    if latest is None:
        return None
    return actor_of({"user": latest.get("author")})


def embedded_histories(issue: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], bool]:
    """The ``expand=changelog`` histories of an issue and whether they are complete."""
    changelog = issue.get("changelog")
    if not isinstance(changelog, Mapping):
        return [], False
    histories = [h for h in changelog.get("histories") or () if isinstance(h, Mapping)]
    total = changelog.get("total")
    complete = total is None or int(total) <= len(histories)
    return histories, complete


def bulk_last_authors(client: JiraClient, refs: Sequence[str], field_keys: Sequence[str],
                      call: Callable[[Callable[[], Any]], Any] = lambda fn: fn()) -> dict[str, str | None]:
    """issue id -> author of the newest change to the field (Cloud bulkfetch)."""
    field_ids = [f for f in field_keys if f.startswith("customfield_")][:1] or list(field_keys[:1])
    per_issue: dict[str, list[Mapping[str, Any]]] = {}
    for start in range(0, len(refs), 1000):
        token: str | None = None
        while True:
            body: dict[str, Any] = {"issueIdsOrKeys": list(refs[start:start + 1000]), "fieldIds": field_ids,
                                    "maxResults": 10000}
            if token:
                body["nextPageToken"] = token
            answer = call(lambda: client.post(client.path("changelog/bulkfetch"), body)) or {}
            for log in answer.get("issueChangeLogs") or ():
                per_issue.setdefault(str(log.get("issueId")), []).extend(log.get("changeHistories") or ())
            token = answer.get("nextPageToken")
            if not token:
                break
    return {issue: last_change_author(histories, field_keys) for issue, histories in per_issue.items()}
