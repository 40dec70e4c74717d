"""A local Jira Cloud / Data Center simulator over real HTTP (see :mod:`.sandbox`).

It imports nothing of itsm-align: it stands in for Jira itself.

Behaviour choices where Jira is unclear or varies (keep tests and adapters honest):

* An edit that changes no value records no history and sends no webhook.
* Edits by :meth:`JiraSandbox.edit_issue_as` (a person in the UI) skip the screen check;
  REST ``PUT /issue`` and bulk edits enforce it.
* ``POST /screens/addToDefault/{id}`` for a field already on the screen answers 404,
  as the OpenAPI spec says ("field not found or already present").
* More than 5 bulk tasks: the extra ones wait ``ENQUEUED`` (no 429). Bulk progress
  timestamps are ISO date-times as the spec's schema says (its example shows epoch ms).
* The burst limit is off unless ``burst_limits`` is given; the per-issue write limit
  (20 per 2 s, 100 per 30 s) is on by default.
* Webhook deliveries retry on 408/409/425/429/5xx/connection errors after the waits in
  ``webhook_backoff`` (default 0.05-0.8 s, 5 retries), in order per issue.
* Error wording follows Jira where known; messages for rarer errors (duplicate option,
  bad searcher) are plausible but not verified against a live site.
"""
from .delivery import Delivery, sign
from .errors import JiraError
from .limits import Fault
from .model import CF_PREFIX, User
from .sandbox import ISSUE_EVENTS, PROJECT_EVENTS, JiraSandbox
from .wsgi import RecordedRequest

__all__ = ["JiraSandbox", "JiraError", "Delivery", "RecordedRequest", "Fault", "User", "CF_PREFIX",
           "ISSUE_EVENTS", "PROJECT_EVENTS", "sign"]
