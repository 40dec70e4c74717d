"""One simulated ServiceNow instance: its data, users, properties, the
business rule, limits and logs, with the operations the HTTP layer and the
test's control calls share. No HTTP here (see api.py)."""
from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from . import schema
from .business_rule import EventPoster, RuleRun
from .limits import Limits
from .oauth import OAuth
from .store import Store, WriteRejected, WriteResult, format_time

ADMIN_SYS_ID = "6816f79cc0a8016401c5a33be04be441"
_ELEMENT = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
#: Tables only an admin may write (sys_dictionary, sys_choice, ...).
ADMIN_TABLES = frozenset({"sys_dictionary", "sys_choice", "sys_properties", "sys_user",
                          "sys_user_group", "sys_audit"})


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request the sandbox answered (batch items are logged with ``via_batch``)."""

    method: str
    path: str
    args: dict[str, str]
    user: str | None
    status: int
    body: str
    via_batch: bool = False
    at: float = field(default_factory=time.time)  # when it was answered (unix seconds)


@dataclass(slots=True)
class User:
    user_name: str
    password: str | None  # None: cannot log in through the API (a person using the UI)
    admin: bool


class Instance:
    def __init__(self, *, clock: Callable[[], float] = time.time, admin_password: str = "admin",
                 integration_user: str = "svc.itsm_align",
                 integration_password: str = "integration-password",
                 integration_user_admin: bool = True, event_workers: int = 1) -> None:
        self.clock = clock
        self.store = Store(clock)
        self.poster = EventPoster(clock, workers=event_workers)
        self.limits = Limits(clock)
        self.oauth = OAuth(clock, self.authenticate)
        self.admin_password = admin_password
        self.integration_user = integration_user
        self.integration_password = integration_password
        self.integration_user_admin = integration_user_admin
        self.users: dict[str, User] = {}
        self.requests: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self.batch_time_budget: float = 30.0
        self.batch_max_items: int | None = None
        self.reset()

    # ------------------------------------------------------------ state
    def reset(self) -> None:
        """Back to a fresh instance: base schema, users, groups, services, properties."""
        self.poster.clear()
        self.limits.clear()
        self.oauth.clear()
        with self._log_lock:
            self.requests.clear()
        self.batch_time_budget = 30.0
        self.batch_max_items = None
        st = self.store
        with st.lock:
            st.clear()
            for col in schema.BASE_COLUMNS:
                st.insert("sys_dictionary", {
                    "name": col.table, "element": col.element, "internal_type": col.internal_type,
                    "reference": col.reference, "choice": col.choice, "column_label": col.label,
                    "max_length": str(col.max_length or ""), "read_only": "true" if col.read_only else "",
                    "active": "true"}, "system", raw=True)
            for table, element, value, label, seq in schema.BASE_CHOICES:
                st.insert("sys_choice", {"name": table, "element": element, "value": value, "label": label,
                                         "sequence": str(seq), "language": "en", "inactive": "false"},
                          "system", raw=True)
            self.users = {
                "admin": User("admin", self.admin_password, True),
                self.integration_user: User(self.integration_user, self.integration_password,
                                            self.integration_user_admin),
            }
            st.insert("sys_user", {"sys_id": ADMIN_SYS_ID, "user_name": "admin",
                                   "name": "System Administrator", "email": "admin@example.com",
                                   "active": "true"}, "system", raw=True)
            st.insert("sys_user", {"user_name": self.integration_user, "name": "itsm-align integration",
                                   "active": "true"}, "system", raw=True)
            for login, name in (("abel.tuter", "Abel Tuter"), ("beth.anglin", "Beth Anglin"),
                                ("david.loo", "David Loo"), ("fred.luddy", "Fred Luddy")):
                st.insert("sys_user", {"user_name": login, "name": name, "email": f"{login}@example.com",
                                       "active": "true"}, "system", raw=True)
                self.users[login] = User(login, None, False)
            for g in ("Service Desk", "Network", "Database", "Software", "Hardware"):
                st.insert("sys_user_group", {"name": g, "active": "true"}, "system", raw=True)
            for s in ("Email", "Customer Portal", "SAP Sales and Distribution", "Payroll"):
                st.insert("cmdb_ci_service", {"name": s, "operational_status": "1"}, "system", raw=True)
            for c in ("mail-server-01", "web-frontend-01", "db-cluster-01"):
                st.insert("cmdb_ci", {"name": c, "operational_status": "1"}, "system", raw=True)
            self.set_property("itsm_align.integration_user", self.integration_user)

    # ------------------------------------------------------------ users
    def authenticate(self, user: str, password: str) -> User | None:
        u = self.users.get(user)
        if u is None or u.password is None or u.password != password:
            return None
        return u

    def add_user(self, user_name: str, password: str | None = None, *, admin: bool = False,
                 name: str = "") -> str:
        """Create a sys_user (with API credentials when ``password`` is given); its sys_id."""
        with self.store.lock:
            self.users[user_name] = User(user_name, password, admin)
            found = self.store.find("sys_user", user_name=user_name)
            if found:
                return found[0]["sys_id"]
            return self.store.insert("sys_user", {"user_name": user_name, "name": name or user_name,
                                                  "active": "true"}, "system", raw=True).record["sys_id"]

    # ------------------------------------------------------------ properties
    def properties(self) -> dict[str, str]:
        return {r.get("name", ""): r.get("value", "") for r in self.store.find("sys_properties")}

    def set_property(self, name: str, value: str | None) -> None:
        """Create/update a system property (``None`` or "" clears its value)."""
        with self.store.lock:
            found = self.store.find("sys_properties", name=name)
            if found:
                self.store.update("sys_properties", found[0]["sys_id"], {"value": value or ""}, "admin")
            else:
                ptype = "password2" if name.endswith(".secret") else "string"
                self.store.insert("sys_properties", {"name": name, "value": value or "", "type": ptype},
                                  "admin", raw=True)

    # ------------------------------------------------------------ writes (run the rule)
    def insert(self, table: str, values: Mapping[str, object], user: str) -> WriteResult:
        """Insert as ``user`` (API or person), validating like the platform; runs the rule."""
        if table == "sys_dictionary":
            values = self._check_dictionary(values)
        elif table == "sys_choice":
            self._check_choice(values)
        with self.store.lock:
            result = self.store.insert(table, values, user)
            self._after_write(result)
        return result

    def update(self, table: str, sys_id: str, values: Mapping[str, object], user: str) -> WriteResult:
        """Update only the columns sent, as ``user``; runs the rule when something changed."""
        with self.store.lock:
            result = self.store.update(table, sys_id, values, user)
            if result.changed:
                self._after_write(result)
        return result

    def _after_write(self, result: WriteResult) -> RuleRun | None:
        if not schema.is_task_family(result.table):
            return None
        record = dict(result.record)
        return self.poster.run(operation=result.operation, table=result.table, record=record,
                               properties=self.properties(),
                               fields_of=lambda names: self.event_fields(result.table, record, names))

    def event_fields(self, table: str, record: Mapping[str, str],
                     names: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
        """(values, display values) of ``names`` present on the record's class."""
        cols = self.store.columns(table)
        values: dict[str, str] = {}
        display: dict[str, str] = {}
        for n in names:
            col = cols.get(n)
            if col is None:
                continue
            values[n] = record.get(n, "")
            if col.is_reference or col.choice != "0":
                display[n] = self.store.display_value(table, record, n)
        return values, display

    def _check_dictionary(self, values: Mapping[str, object]) -> dict[str, object]:
        name = str(values.get("name") or "")
        element = str(values.get("element") or "")
        if name not in schema.TABLES:
            raise WriteRejected("Operation Failed", f"sys_dictionary.name {name!r} is not a table of this "
                                                    f"instance (one of: {', '.join(schema.TABLES)})")
        if not _ELEMENT.match(element):
            raise WriteRejected("Operation Failed", f"sys_dictionary.element {element!r} is not a valid "
                                                    f"column name (lowercase letters, digits, underscore)")
        if self.store.find("sys_dictionary", name=name, element=element):
            raise WriteRejected("Operation Failed", f"column {name}.{element} already exists")
        itype = str(values.get("internal_type") or "string")
        if itype == "reference" and str(values.get("reference") or "") not in schema.TABLES:
            raise WriteRejected("Operation Failed", f"reference column {name}.{element} needs "
                                                    f"'reference' naming an existing table")
        out = dict(values)
        out.setdefault("internal_type", itype)
        out.setdefault("choice", "0")
        out.setdefault("active", "true")
        out.setdefault("column_label", element)
        return out

    def _check_choice(self, values: Mapping[str, object]) -> None:
        missing = [k for k in ("name", "element", "value") if not str(values.get(k) or "")]
        if missing:
            raise WriteRejected("Operation Failed", f"sys_choice needs {', '.join(missing)}")

    # ------------------------------------------------------------ seeding
    def seed(self, table: str = "incident", n: int = 20000, *, seed: int = 7,
             values: Mapping[str, str] | None = None) -> list[str]:
        """Insert ``n`` plausible records fast (no rule, no audit); their sys_ids."""
        rng = random.Random(seed)
        st = self.store
        with st.lock:
            groups = [r["sys_id"] for r in st.find("sys_user_group")]
            services = [r["sys_id"] for r in st.find("cmdb_ci_service")]
            callers = [r["sys_id"] for r in st.find("sys_user") if r.get("user_name") != self.integration_user]
            cats = ["inquiry", "software", "hardware", "network", "database"]
            subjects = ["Email not syncing on laptop", "VPN drops every hour", "Payroll report is wrong",
                        "Customer portal login fails", "Disk almost full on db-cluster-01",
                        "Request new laptop for onboarding", "Upgrade SAP kernel", "Printer jam on floor 3",
                        "Password reset", "Checkout page slow for customers", "Migrate mail to new cluster",
                        "Renew TLS certificate for portal"]
            base = self.clock() - 90 * 86400
            ids: list[str] = []
            states = [v for v in st.choices(table, "state")] or ["1"]
            for i in range(n):
                opened = format_time(base + rng.random() * 89 * 86400)
                rec = {
                    "short_description": f"{rng.choice(subjects)} #{i}",
                    "description": "Seeded by the sandbox.",
                    "priority": str(rng.randint(1, 5)), "impact": str(rng.randint(1, 3)),
                    "urgency": str(rng.randint(1, 3)), "state": rng.choice(states),
                    "assignment_group": rng.choice(groups), "business_service": rng.choice(services),
                    "opened_at": opened, "sys_created_on": opened, "sys_updated_on": opened,
                    "sys_created_by": "admin", "sys_updated_by": "admin",
                }
                if table == "incident":
                    rec["category"] = rng.choice(cats)
                    rec["caller_id"] = rng.choice(callers)
                if values:
                    rec.update(values)
                ids.append(st.insert(table, rec, "admin", raw=True).record["sys_id"])
            return ids

    # ------------------------------------------------------------ logs
    def log_request(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self.requests.append(entry)

    def close(self) -> None:
        self.poster.close()
