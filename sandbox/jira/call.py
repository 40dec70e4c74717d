"""What a REST handler receives (:class:`Call`) and returns (:class:`Reply`)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from werkzeug.datastructures import MultiDict

from .errors import JiraError
from .model import User

if TYPE_CHECKING:  # pragma: no cover - service imports screens, which imports this module
    from .service import JiraService


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    svc: JiraService
    user: User
    version: int
    method: str
    args: MultiDict[str, str]
    raw: bytes
    path: Mapping[str, Any]

    def json(self, required: bool = True) -> Any:
        """The JSON body; 400 as Jira words it when it is missing or malformed."""
        if not self.raw.strip():
            if required:
                raise JiraError(400, ["No content to map to Object due to end of input"])
            return None
        try:
            return json.loads(self.raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise JiraError(400, [f"Unexpected character: the request body is not valid JSON ({exc})"]) from None

    def obj(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise JiraError(400, ["Can not deserialize instance of object out of non-object token"])
        return body

    def int_arg(self, name: str, default: int, minimum: int = 0) -> int:
        raw = self.args.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise JiraError(400, [f"The '{name}' parameter must be an integer, got '{raw}'."]) from None
        return max(value, minimum)

    def bool_arg(self, name: str, default: bool) -> bool:
        raw = self.args.get(name)
        if raw is None:
            return default
        return raw.lower() == "true"

    def list_arg(self, name: str) -> list[str] | None:
        """A repeatable, comma-separated parameter (``fields=a,b&fields=c``)."""
        raws = self.args.getlist(name)
        if not raws:
            return None
        return [p.strip() for raw in raws for p in raw.split(",") if p.strip()]

    def require_admin(self) -> None:
        if not self.user.admin:
            raise JiraError(403, ["You do not have permission to perform this operation. Only Jira administrators can access this."])


def page(values: list[Any], start: int, max_results: int, base_url: str) -> dict[str, Any]:
    """A ``PageBean`` of ``values``."""
    chunk = values[start:start + max_results]
    return {
        "self": base_url,
        "maxResults": max_results,
        "startAt": start,
        "total": len(values),
        "isLast": start + len(chunk) >= len(values),
        "values": chunk,
    }
