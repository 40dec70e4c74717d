"""REST handlers: issue get/edit, changelogs and search."""
from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from .call import Call, Reply, page
from .errors import JiraError
from .jql import Query, compile_jql
from .limits import rate_limited
from . import values
from .model import ISSUE_TYPES, Issue
from .screens import edit_screen_fields

ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
SEARCH_REMOVED = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                  "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
ID_ONLY_MAX = 5000
FIELDS_MAX = 100


def find_issue(call: Call, id_or_key: str) -> Issue:
    issue = call.svc.site.issue(id_or_key)
    if issue is None:
        raise JiraError(404, [ISSUE_NOT_FOUND])
    return issue


def _wanted(call: Call, requested: list[str] | None, default: str) -> list[str] | None:
    """Resolve a ``fields`` list: None = all fields."""
    items = requested if requested else [default]
    site = call.svc.site
    include: set[str] | None = set()
    exclude: set[str] = set()
    for item in items:
        if item in {"*all", "*navigable"}:
            include = None
        elif item.startswith("-"):
            exclude.add(item[1:])
        elif include is not None:
            include.add(item)
    if include is None:
        return [f for f in site.fields if f not in exclude]
    return [f for f in include if f not in exclude]


def get_issue(call: Call) -> Reply:
    svc = call.svc
    with svc.lock:
        issue = find_issue(call, call.path["key"])
        wanted = _wanted(call, call.list_arg("fields"), "*all")
        expand = set(call.list_arg("expand") or [])
        return Reply(200, svc.issue_json(issue, call.version, wanted, expand))


def create_issue(call: Call) -> Reply:
    """``POST /issue``: project, summary and issue type are required; other fields as in edit."""
    svc = call.svc
    body = call.obj()
    fields = dict(body.get("fields") or {})
    errors: dict[str, str] = {}
    project = fields.pop("project", None)
    ref = (project or {}).get("key") or (project or {}).get("id") if isinstance(project, dict) else None
    issuetype = fields.pop("issuetype", None)
    type_name = None
    if isinstance(issuetype, dict):
        type_name = issuetype.get("name") or next((n for n, i in ISSUE_TYPES.items() if i == issuetype.get("id")), None)
    summary = fields.pop("summary", None)
    description = fields.pop("description", None)
    with svc.lock:
        if not ref or svc.site.project(str(ref)) is None:
            errors["project"] = "valid project is required"
        if type_name not in ISSUE_TYPES:
            errors["issuetype"] = "valid issue type is required"
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        if description is not None:
            try:
                description = values.parse(svc.site.fields["description"], description, call.version)
            except values.ValueProblem as exc:
                errors["description"] = str(exc)
        if errors:
            raise JiraError(400, [], errors)
        issue = svc.create_issue(call.user, str(ref), summary, description, type_name, fields, call.version,
                                 check_screen=True)
        return Reply(201, {"id": issue.id, "key": issue.key,
                           "self": f"{svc.base_url}/rest/api/{call.version}/issue/{issue.id}"})


def delete_issue(call: Call) -> Reply:
    svc = call.svc
    with svc.lock:
        issue = find_issue(call, call.path["key"])
        svc.delete_issue(call.user, issue)
        return Reply(204)


def edit_meta(call: Call) -> Reply:
    """``GET /issue/{key}/editmeta``: the fields the edit screen offers (what PUT accepts)."""
    svc = call.svc
    with svc.lock:
        issue = find_issue(call, call.path["key"])
        out: dict[str, Any] = {}
        for fid in edit_screen_fields(svc.site, issue):
            field = svc.site.fields.get(fid)
            if field is None:
                continue
            meta: dict[str, Any] = {"required": fid == "summary", "schema": field.schema(), "name": field.name,
                                    "key": fid, "operations": ["set"] if fid != "labels" else ["add", "set", "remove"]}
            if field.kind in {"select", "multiselect"}:
                meta["allowedValues"] = [
                    {"self": f"{svc.base_url}/rest/api/{call.version}/customFieldOption/{o.id}", "value": o.value,
                     "id": o.id} for c in field.contexts for o in c.options if not o.disabled]
            out[fid] = meta
        return Reply(200, {"fields": out})


def _update_ops(call: Call, issue: Issue, update: Any) -> dict[str, Any]:
    """Turn ``{"update": {fid: [{"set"|"add"|"remove": v}]}}`` into plain field values."""
    if not isinstance(update, dict):
        raise JiraError(400, [], {"update": "The update section must be an object."})
    out: dict[str, Any] = {}
    for fid, ops in update.items():
        if not isinstance(ops, list):
            raise JiraError(400, [], {fid: "Operations must be a list of objects."})
        current = issue.values.get(fid)
        for op in ops:
            if not isinstance(op, dict) or len(op) != 1:
                raise JiraError(400, [], {fid: "Each operation must have exactly one verb."})
            verb, value = next(iter(op.items()))
            if verb == "set":
                out[fid] = value
            elif verb in {"add", "remove"} and fid == "labels":
                labels = list(out.get(fid, list(current or ())))
                if verb == "add" and value not in labels:
                    labels.append(value)
                elif verb == "remove" and value in labels:
                    labels.remove(value)
                out[fid] = labels
            else:
                raise JiraError(400, [], {fid: f"Field '{fid}' does not support operation '{verb}'"})
    return out


def edit_issue(call: Call) -> Reply:
    svc = call.svc
    body = call.obj()
    if not call.bool_arg("notifyUsers", True) and not call.user.admin:
        raise JiraError(403, ["To discard the user notification either admin or project admin permissions are required."])
    with svc.lock:
        issue = find_issue(call, call.path["key"])
    over = None if svc.datacenter else svc.issue_limiter.hit(issue.id)  # a Cloud limit (reference/jira.md)
    if over is not None:
        raise rate_limited("jira-per-issue-on-write", over[0], over[1])
    with svc.lock:
        issue = find_issue(call, call.path["key"])
        fields = body.get("fields") or {}
        if not isinstance(fields, dict):
            raise JiraError(400, [], {"fields": "The fields section must be an object."})
        raw = dict(fields)
        if "update" in body:
            for fid, value in _update_ops(call, issue, body["update"]).items():
                if fid in raw:
                    raise JiraError(400, [], {fid: f"Field '{fid}' cannot be set in both 'fields' and 'update'."})
                raw[fid] = value
        svc.edit_issue(call.user, issue, raw, call.version)
        if call.bool_arg("returnIssue", False):
            return Reply(200, svc.issue_json(issue, call.version))
        return Reply(204)


def issue_changelog(call: Call) -> Reply:
    svc = call.svc
    with svc.lock:
        issue = find_issue(call, call.path["key"])
        histories = [h.json(svc.base_url, svc.site.users) for h in issue.histories or []]
        return Reply(200, page(histories, call.int_arg("startAt", 0), min(call.int_arg("maxResults", 100, 1), 100),
                               f"{svc.base_url}/rest/api/{call.version}/issue/{issue.key}/changelog"))


def _token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _untoken(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, dict):
            raise ValueError
        return data
    except (ValueError, UnicodeDecodeError):
        raise JiraError(400, ["The provided next page token is invalid or expired."]) from None


def bulk_changelogs(call: Call) -> Reply:
    svc = call.svc
    body = call.obj()
    keys = body.get("issueIdsOrKeys")
    if not isinstance(keys, list) or not keys:
        raise JiraError(400, [], {"issueIdsOrKeys": "At least one issue ID or key must be provided."})
    if len(keys) > 1000:
        raise JiraError(400, [], {"issueIdsOrKeys": "At most 1000 issue IDs or keys can be provided."})
    field_ids = body.get("fieldIds") or []
    if len(field_ids) > 10:
        raise JiraError(400, [], {"fieldIds": "At most 10 field IDs can be provided."})
    max_results = body.get("maxResults", 1000)
    if not isinstance(max_results, int) or not 1 <= max_results <= 10000:
        raise JiraError(400, [], {"maxResults": "maxResults must be between 1 and 10000."})
    offset = int(_untoken(body["nextPageToken"]).get("o", 0)) if body.get("nextPageToken") else 0
    with svc.lock:
        flat: list[tuple[Issue, Any]] = []
        for ref in keys:
            issue = svc.site.issue(str(ref))
            if issue is None:
                continue
            for history in issue.histories or []:
                items = [i for i in history.items if not field_ids or i.get("fieldId") in field_ids]
                if items:
                    flat.append((issue, history.json(svc.base_url, svc.site.users) | {"items": items}))
        chunk = flat[offset:offset + max_results]
        grouped: dict[str, list[Any]] = {}
        for issue, history in chunk:
            grouped.setdefault(issue.id, []).append(history)
        out: dict[str, Any] = {"issueChangeLogs": [{"issueId": i, "changeHistories": h} for i, h in grouped.items()]}
        if offset + len(chunk) < len(flat):
            out["nextPageToken"] = _token({"o": offset + len(chunk)})
        return Reply(200, out)


# ---- search -----------------------------------------------------------------
def _search_params(call: Call) -> dict[str, Any]:
    if call.method == "POST":
        body = call.obj()
        fields = body.get("fields")
        if isinstance(fields, str):
            fields = [f.strip() for f in fields.split(",") if f.strip()]
        return {"jql": body.get("jql"), "token": body.get("nextPageToken"), "max": body.get("maxResults"),
                "start": body.get("startAt"), "fields": fields, "expand": body.get("expand")}
    return {"jql": call.args.get("jql"), "token": call.args.get("nextPageToken"),
            "max": call.args.get("maxResults"), "start": call.args.get("startAt"),
            "fields": call.list_arg("fields"), "expand": call.args.get("expand")}


def _int(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise JiraError(400, [f"The '{name}' parameter must be an integer, got '{value}'."]) from None


def _compile(call: Call, jql: Any) -> Query:
    if jql is not None and not isinstance(jql, str):
        raise JiraError(400, ["The jql parameter must be a string."])
    return compile_jql(jql or "", call.svc.site, call.user.account_id)


def _render_hits(call: Call, hits: list[Issue], fields: list[str] | None, expand: set[str]) -> list[dict[str, Any]]:
    wanted = _wanted(call, fields, "id")
    if set(wanted) <= {"id", "key"} and not expand:
        return [{"id": i.id, **({"key": i.key} if "key" in wanted else {})} for i in hits]
    return [call.svc.issue_json(i, call.version, [w for w in wanted if w not in {"id", "key"}], expand) for i in hits]


def search_jql(call: Call) -> Reply:
    """``/rest/api/3/search/jql``: bounded JQL, ``nextPageToken`` paging, no total."""
    svc = call.svc
    p = _search_params(call)
    query = _compile(call, p["jql"])
    if not query.bounded:
        raise JiraError(400, [UNBOUNDED])
    fields = p["fields"]
    id_only = set(_wanted(call, fields, "id")) <= {"id", "key"}
    cap = ID_ONLY_MAX if id_only else FIELDS_MAX
    max_results = max(1, min(_int(p["max"], "maxResults", 50), cap))
    expand = set((p["expand"] or "").replace(" ", "").split(",")) - {""}
    digest = hashlib.sha1((p["jql"] or "").encode()).hexdigest()[:12]
    with svc.lock:
        ordered = query.sort([i for i in svc.site.issues.values() if query.matches(i)])
        start = 0
        if p["token"]:
            token = _untoken(p["token"])
            if token.get("q") != digest:
                raise JiraError(400, ["The provided next page token does not belong to this query."])
            after_vals, after_id = token.get("v"), int(token.get("i", 0))
            start = len(ordered)
            for n, (vals, issue) in enumerate(ordered):
                if query.compare(vals, int(issue.id), after_vals, after_id) > 0:
                    start = n
                    break
        chunk = ordered[start:start + max_results]
        out: dict[str, Any] = {"issues": _render_hits(call, [i for _, i in chunk], fields, expand)}
        last = start + len(chunk) >= len(ordered)
        if not last:
            vals, issue = chunk[-1]
            out["nextPageToken"] = _token({"q": digest, "v": vals, "i": int(issue.id)})
        out["isLast"] = last
        return Reply(200, out)


def search_old(call: Call) -> Reply:
    """``/rest/api/{2,3}/search``: 410 Gone on Cloud; startAt/total paging on Data Center."""
    svc = call.svc
    if svc.deployment != "datacenter":
        raise JiraError(410, [SEARCH_REMOVED])
    p = _search_params(call)
    query = _compile(call, p["jql"])
    start = max(0, _int(p["start"], "startAt", 0))
    max_results = max(0, min(_int(p["max"], "maxResults", 50), 1000))
    expand = set((p["expand"] or "").replace(" ", "").split(",")) - {""}
    with svc.lock:
        ordered = [i for _, i in query.sort([i for i in svc.site.issues.values() if query.matches(i)])]
        chunk = ordered[start:start + max_results]
        issues = _render_hits(call, chunk, p["fields"] or ["*navigable"], expand)
        return Reply(200, {"expand": "schema,names", "startAt": start, "maxResults": max_results,
                           "total": len(ordered), "issues": issues})
