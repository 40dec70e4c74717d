"""Test doubles for worker tests that exercise the inbox/worker logic alone:
an adapter whose failures are scripted and an engine with a fixed answer.
(End-to-end tests use the real adapters against the sandboxes.)"""
from __future__ import annotations

import threading
from typing import Any, Iterator, Mapping, Sequence

from itsm_align.integration.base import Event, NotFound, OutputValues, PlatformAdapter, SetupStep, WriteResult
from itsm_align.scoring.types import Assessment, Nature, Objective, WorkItem


class ScriptedAdapter(PlatformAdapter):
    """Records fetches and writes; ``errors[key]`` lists exceptions to raise on
    the next writes of that key, one per try."""

    platform = "jira"

    def __init__(self) -> None:
        self.fetches: list[str] = []
        self.writes: list[tuple[str, OutputValues]] = []
        self.rollups: list[tuple[str, Mapping[str, Any]]] = []
        self.errors: dict[str, list[Exception]] = {}
        self.gone: set[str] = set()
        self.current: dict[str, OutputValues] = {}
        self.recovered = 0  # what ``recoveries`` reports (a test says the platform came back)
        self.lock = threading.Lock()

    @property
    def recoveries(self) -> int:
        return self.recovered

    def parse_event(self, payload: Mapping[str, Any], headers: Mapping[str, str]) -> Event:
        raise NotImplementedError

    def is_own_echo(self, event: Event) -> bool:
        return False

    def fetch(self, key: str, subject: str = "ticket") -> WorkItem:
        with self.lock:
            self.fetches.append(key)
        if key in self.gone:
            raise NotFound("jira", f"Issue {key} does not exist", status=404)
        kind = "project" if subject == "project" else "ticket"
        return WorkItem(platform="jira", key=key, kind=kind, project=key.split("-")[0], summary=f"work on {key}",
                        effort=2.0, current=self.current.get(key, OutputValues()))

    def write(self, item: WorkItem, values: OutputValues) -> WriteResult:
        with self.lock:
            pending = self.errors.get(item.key)
            if pending:
                raise pending.pop(0)
            if self.current.get(item.key) == values:
                return WriteResult(item.key)
            self.current[item.key] = values
            self.writes.append((item.key, values))
        return WriteResult(item.key, changed=("objective",), requests=1)

    def write_project_rollup(self, project_key: str, rollup: Mapping[str, Any]) -> None:
        self.rollups.append((project_key, rollup))

    def write_many(self, writes: Sequence[tuple[WorkItem, OutputValues]]) -> list[WriteResult]:
        return [self.write(item, values) for item, values in writes]

    def backfill(self, query: str | None = None, *, resume: str | None = None,
                 page_size: int | None = None) -> Iterator[tuple[list[WorkItem], str | None]]:
        raise NotImplementedError("worker tests do not back-fill")

    def setup(self, objectives: Sequence[Objective], *, dry_run: bool = False) -> list[SetupStep]:
        raise NotImplementedError("worker tests do not set up")


class FixedEngine:
    """Assesses everything as serving ``grow-online`` with score 80."""

    def __init__(self) -> None:
        self.related: list[Mapping[str, Assessment] | None] = []

    def assess(self, item: WorkItem, related: Mapping[str, Assessment] | None = None) -> Assessment:
        self.related.append(related)
        return Assessment(item_key=item.key, platform=item.platform, objective="grow-online", score=80,
                          nature=Nature.PROACTIVE, rationale="Serves Grow online revenue", kind=item.kind)
