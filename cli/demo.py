"""``itsm-align demo``: the whole loop, live, on this machine, with nothing to set up.

Starts the Jira and ServiceNow sandboxes seeded with a realistic company
(``sandbox/demo_company.yaml``), runs ``setup`` and a back-fill on both,
starts ``itsm-align serve`` and ``itsm-align worker`` wired to them with
``config/sandbox.yaml``, then plays what the company's people do (new
incidents, edited stories, an objective set by hand, a new project) and shows
each item as the worker tags and scores it. Ends with a summary, the HTML
report and the dashboard's address; keeps serving until Ctrl-C on a terminal,
stops at once without one (a script, CI). Everything listens on 127.0.0.1.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import click
from rich.live import Live
from rich.text import Text

from .common import EXIT_CANNOT_START, EXIT_INTERRUPTED, EXIT_PLATFORM, fail, out_console

#: The config that works against both sandboxes (beside the example config).
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "sandbox.yaml"
#: How long people's activity may take to be fully processed before the demo says what is still owed.
SETTLE_TIMEOUT = 120.0
#: How long the next person waits for the item just changed to be tagged before going on anyway.
STEP_TIMEOUT = 20.0


def no_terminal() -> bool:
    """A script or CI: stdin or stdout is not a terminal, or ``CI`` is set."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or not (sys.stdin.isatty() and sys.stdout.isatty())


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Config to run with (default: config/sandbox.yaml of the repository).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=Path("var/demo"),
              show_default=True, help="Folder for the database, the report, the logs and the sandbox CA; "
                                      "the last demo's files there are removed first.")
@click.option("--pace", type=click.FloatRange(0, 10), default=None,
              help="Seconds between two people's actions (default: 0.7 on a terminal, 0 without one).")
@click.option("--stay/--no-stay", default=None,
              help="Keep serving the dashboard and the sandboxes after the summary until Ctrl-C "
                   "(default: on a terminal; without one, or with CI set, it stops).")
def demo(config_path: Path | None, workdir: Path, pace: float | None, stay: bool | None) -> None:
    """Run the whole loop live on this machine: sandboxes seeded with a company, setup,
    back-fill, the service and a worker, then people at work, tagged as you watch.

    Example: itsm-align demo            (or: make demo)"""
    from .demo_stack import DemoStack, fresh_workdir
    from .sandbox import _require_sandbox_extra

    _require_sandbox_extra()
    unattended = no_terminal()
    stay = (not unattended) if stay is None else stay
    pace = (0.0 if unattended else 0.7) if pace is None else pace
    config_path = config_path or DEFAULT_CONFIG
    if not config_path.is_file():
        fail(f"No demo config at {config_path}",
             ["The demo runs with config/sandbox.yaml from the repository: run it from a clone "
              "(make demo), or pass --config FILE with jira:, servicenow: and service: sections "
              "like config/sandbox.yaml's."])
    stack = DemoStack(fresh_workdir(workdir))
    # Ctrl-C and SIGTERM stop everything through the same path (SIGINT explicitly: a shell
    # starting the demo in the background leaves it ignored, and Python would then keep it so)
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    run = Demo(stack, config_path, pace=pace)
    try:
        code = run.run(stay=stay, started=started)
    except KeyboardInterrupt:
        if run.result is None:  # before the summary
            code = EXIT_INTERRUPTED
            out_console().print(Text("Interrupted: stopping everything the demo started.", style="yellow"))
        else:  # the way to end a demo that stays up
            code = run.result
    except RuntimeError as error:
        code = EXIT_CANNOT_START
        out_console().print(Text(f"The demo could not go on: {error}", style="bold red"))
        out_console().print(Text(f"Logs: {stack.workdir / 'serve.log'}, {stack.workdir / 'worker.log'}"))
    finally:
        for signum in previous:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signum, signal.SIG_IGN)
        stack.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    out_console().print(Text(f"Stopped the sandboxes, itsm-align serve and the worker "
                             f"({time.monotonic() - started:.0f} s in all).", style="dim"))
    raise SystemExit(code)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


class Demo:
    """One run; ``run`` returns the exit code."""

    def __init__(self, stack: Any, config_path: Path, *, pace: float) -> None:
        self.stack, self.config_path, self.pace = stack, config_path, pace
        self.out = out_console()
        self.terminal = self.out.is_terminal
        self.pause = threading.Event().wait  # paces the demo; never set
        self.result: int | None = None  # the exit code, once the summary is out

    def step(self, text: str, since: float) -> None:
        self.out.print(Text.assemble(("✓ ", "green"), text, (f"  ({time.monotonic() - since:.1f} s)", "dim")))

    def run(self, *, stay: bool, started: float) -> int:
        from itsm_align.sandbox.demo_company import DemoCompany

        from .common import load_or_exit

        stack, out = self.stack, self.out
        company = DemoCompany.load()
        out.print(Text.assemble(("itsm-align demo: ", "bold"), f"{company.name}, live on this machine "
                                "(everything listens on 127.0.0.1 only)"))
        t = time.monotonic()
        stack.start_sandboxes()
        issues, records = company.seed_jira(stack.jira), company.seed_servicenow(stack.servicenow)
        self.step(f"Jira sandbox {stack.jira.url}: {len(company.jira_projects)} projects, {len(issues)} issues; "
                  f"ServiceNow sandbox {stack.servicenow.url}: {len(records)} records", t)
        stack.wire()
        config = load_or_exit(self.config_path)
        _check_loopback(config)
        from itsm_align.webhooks.storage.engine import create_db_engine

        self.db = create_db_engine(config.service.database_url)
        try:
            return self._run(company, config, issues, records, stay=stay, started=started)
        finally:
            self.db.dispose()

    def _run(self, company: Any, config: Any, issues: list[str], records: list[str], *, stay: bool,
             started: float) -> int:
        from .demo_view import HistoryFeed, Tally

        stack, out = self.stack, self.out
        t = time.monotonic()
        changes = {platform: self.setup(config, platform) for platform in ("jira", "servicenow")}
        stack.connect_servicenow_events()
        self.step(f"itsm-align setup jira ({changes['jira']} changes: fields, options, screens, webhook) and "
                  f"setup servicenow ({changes['servicenow']} changes: columns, choices; business rule "
                  "pointed at the service)", t)
        t = time.monotonic()
        stack.start_service(self.config_path)
        stack.wait_serving(pause=self.pause)
        self.step(f"itsm-align serve listening on {stack.service_url}, itsm-align worker running", t)
        self.feed, self.tally = HistoryFeed(self.db), Tally(config.engine().objectives)
        self.live = Live(console=self.out, refresh_per_second=8) if self.terminal else None
        if self.live is not None:
            self.live.start()
        try:
            t = time.monotonic()
            done = {platform: self.backfill(config, platform) for platform in ("jira", "servicenow")}
            self.show("back-fill", "done", quiet=True)
            self.step(f"itsm-align backfill: {done['jira']} Jira issues and {done['servicenow']} ServiceNow "
                      "records assessed and written in bulk", t)
            t = time.monotonic()
            played, owed = self.play(company, config)
        finally:
            if self.live is not None:
                self.live.stop()
        self.step(f"{len(played)} things people did, each tagged and scored by the worker", t)
        return self.finish(company, config, issues, records, played, owed, stay=stay, started=started)

    def show(self, phase: str, detail: str, *, quiet: bool = False) -> None:
        """Read the new assessments; redraw the live view, or (no terminal) print each live one."""
        from .demo_view import item_line, live_view

        for row in self.tally.add(self.feed.poll()):
            if self.live is None and not quiet:
                self.out.print(Text("    ").append_text(item_line(row, self.tally)))
        if self.live is not None:
            self.live.update(live_view(self.tally, phase, detail))

    # ------------------------------------------------------------ setup and back-fill
    def setup(self, config: Any, platform: str) -> int:
        from itsm_align.integration.base import PlatformError
        from itsm_align.integration.retry import call_with_retry

        from .compose import build_adapter, objectives_of

        adapter = build_adapter(platform, config, self.db)
        try:
            steps = call_with_retry(lambda: adapter.setup(objectives_of(config)))
        except PlatformError as error:
            raise RuntimeError(f"setup {platform} failed against the sandbox: {error}") from error
        finally:
            adapter.close()
        return sum(1 for s in steps if s.done)

    def backfill(self, config: Any, platform: str) -> int:
        from itsm_align.integration.backfill import run_backfill
        from itsm_align.integration.base import PlatformError
        from itsm_align.webhooks.storage.history import History
        from itsm_align.webhooks.storage.inbox import Inbox
        from itsm_align.webhooks.worker import schedule_rollup

        from .backfill import HistorySink
        from .compose import build_adapter

        engine = config.engine()
        adapter = build_adapter(platform, config, self.db)
        extra = {"table": config.servicenow.table} if platform == "servicenow" else {}
        query = config.servicenow.query if platform == "servicenow" else None
        try:
            report = run_backfill(adapter, lambda item, related: engine.assess(item, related=related),
                                  query=query, state=adapter.state, sink=HistorySink(History(self.db), adapter),
                                  restart=True, extra=extra,
                                  on_page=lambda r, n: self.show(f"back-fill {platform}", f"{r.items} assessed",
                                                                 quiet=True))
        except PlatformError as error:
            raise RuntimeError(f"backfill {platform} failed against the sandbox: {error}") from error
        finally:
            adapter.close()
        if report.failed:
            key, why = report.failed[0]
            raise RuntimeError(f"backfill {platform} could not write {len(report.failed)} item(s), e.g. {key}: {why}")
        inbox = Inbox(self.db)
        for project in sorted(report.projects):
            schedule_rollup(inbox, platform, project, config.service.rollup_delay_seconds)
        return report.items

    # ------------------------------------------------------------ people at work
    def play(self, company: Any, config: Any) -> tuple[list[Any], dict[str, int]]:
        """Each step of the company's activity, as its person; then wait until every event
        it caused was delivered and processed. Returns what was played and what is still owed."""
        from .demo_view import Played

        names = {o.id: o.name for o in config.engine().objectives}
        steps = company.activity
        played: list[Played] = []
        fields = config.jira.fields.objective
        column = config.servicenow.columns.objective
        for n, step in enumerate(steps, 1):
            self.stack.check_alive()
            tick = lambda: self.show("people at work", f"{n}/{len(steps)}: {step.say}")  # noqa: E731
            tick()
            before = self.feed.last_id
            key = company.play(step, self.stack.jira, self.stack.servicenow, objective_names=names,
                               jira_objective_field=fields, sn_objective_column=column)
            platform = "servicenow" if step.action.startswith("servicenow") else "jira"
            played.append(Played(step.say, platform, key))
            if self.live is None:
                self.out.print(Text.assemble(("  ▸ ", "cyan"), step.say, (f"  [{key}]", "dim")))
            # a person sees the item tagged before the next one works on it (a story under
            # the epic just created needs the epic's assessment to inherit from)
            self._until(lambda: self.tally.assessed_since(platform, key, before), STEP_TIMEOUT, tick)
            self._until(lambda: False, self.pace, tick)
        return played, self.settle(lambda: self.show("processing the last events", ""))

    def _until(self, done: Callable[[], bool], seconds: float, tick: Callable[[], None]) -> None:
        """Until ``done()`` or ``seconds`` passed, calling ``tick`` (which polls the history) meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            tick()
            left = deadline - time.monotonic()
            if done() or left <= 0:
                return
            self.pause(min(0.1, left))

    def settle(self, tick: Callable[[], None]) -> dict[str, int]:
        """Until every webhook delivery and business-rule event is answered and the inbox owes
        nothing (project rollups included), twice in a row; what is still owed after SETTLE_TIMEOUT."""
        from itsm_align.webhooks.storage.inbox import Inbox

        inbox = Inbox(self.db)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        quiet = 0
        while True:
            self.stack.check_alive()
            tick()
            sending = (sum(1 for d in self.stack.jira.deliveries if not d.done)
                       + sum(1 for e in self.stack.servicenow.events if not e.done))
            depth = inbox.depth(include_done=False)
            owed = {"sending": sending, "pending": depth["pending"], "leased": depth["leased"],
                    "failed": depth["failed"]}
            quiet = quiet + 1 if not (sending or depth["pending"] or depth["leased"]) else 0
            if quiet >= 2 or time.monotonic() > deadline:
                tick()
                return owed
            self.pause(0.2)

    # ------------------------------------------------------------ the end
    def finish(self, company: Any, config: Any, issues: list[str], records: list[str], played: list[Any],
               owed: dict[str, int], *, stay: bool, started: float) -> int:
        from .demo_view import activity_table, objective_table

        out, stack = self.out, self.stack
        new_issues = [p.key for p in played if p.platform == "jira" and "-" in p.key]  # not a new project
        new_records = [p.key for p in played if p.platform == "servicenow"]
        missing = self.unwritten(config, issues + new_issues, records + new_records)
        out.print()
        out.print(objective_table(self.tally, title=f"{company.name}: every ticket by business objective"))
        out.print(activity_table(played, self.tally))
        report = self.write_report(config)
        total = len(issues) + len(records)
        if missing:
            out.print(Text(f"{len(missing)} ticket(s) do not carry their fields: {', '.join(missing[:10])}",
                           style="bold red"))
        else:
            out.print(Text(f"All {total} seeded tickets and the new ones carry their objective, score, rationale "
                           "and work nature in Jira and ServiceNow.", style="green"))
        if owed["pending"] or owed["leased"] or owed["failed"] or owed["sending"]:
            out.print(Text(f"Still owed after {SETTLE_TIMEOUT:.0f} s: {owed}; see `itsm-align inbox --config "
                           f"{self.config_path}` and {stack.workdir / 'worker.log'}", style="yellow"))
        out.print(Text.assemble(("Report:    ", "bold"), str(report)))
        out.print(Text.assemble(("Dashboard: ", "bold"), stack.dashboard_url))
        out.print(Text.assemble(("Jira:      ", "bold"), f"{stack.jira.url}  (person: {stack.jira.ADMIN_EMAIL} / "
                                f"API token {stack.jira.ADMIN_TOKEN})"))
        out.print(Text.assemble(("ServiceNow:", "bold"), f" {stack.servicenow.url}  (admin / "
                                f"{stack.servicenow.admin_password}; CA {stack.servicenow.ca_pem_path})"))
        out.print(Text.assemble(("Files:     ", "bold"), f"{stack.workdir}/ (demo.sqlite3, serve.log, worker.log)"))
        out.print(Text(f"Done in {time.monotonic() - started:.0f} s.", style="dim"))
        code = self.result = EXIT_PLATFORM if missing or owed["failed"] else 0
        if stay:
            out.print(Text("Everything keeps running for you to explore: press Ctrl-C to stop.", style="bold"))
            while True:
                stack.check_alive()
                self.pause(1.0)
        return code

    def unwritten(self, config: Any, issues: list[str], records: list[str]) -> list[str]:
        """Jira issue keys and ServiceNow numbers whose objective field is still empty."""
        jira, sn = self.stack.jira, self.stack.servicenow
        field = jira.field_id(config.jira.fields.objective)
        column = config.servicenow.columns.objective
        written = {r.get("number") for r in sn.query("task") if r.get(column)}
        missing = [number for number in dict.fromkeys(records) if number not in written]
        for key in dict.fromkeys(issues):
            try:
                if jira.value(key, field) is None:
                    missing.append(key)
            except KeyError:
                missing.append(key)
        return missing

    def write_report(self, config: Any) -> Path:
        from itsm_align.reports import build_report, write_built_report
        from itsm_align.webhooks.storage.history import History

        from .report import report_inputs

        objectives, rule_objectives = report_inputs(config)
        built = build_report(History(self.db).report_frame(), objectives, rule_objectives, None, freq="week",
                             title="Northwind Outfitters: IT work by business objective (itsm-align demo)")
        return write_built_report(self.stack.workdir / "report", built)[0]


def _check_loopback(config: Any) -> None:
    """The demo never listens beyond this machine: its config must point at 127.0.0.1."""
    from urllib.parse import urlsplit

    host = urlsplit(config.service.public_url or "").hostname or ""
    if host not in ("127.0.0.1", "localhost"):
        fail(f"service.public_url of {config.path} is {config.service.public_url!r}",
             ["The demo serves on 127.0.0.1 only: leave public_url to ${ITSM_ALIGN_PUBLIC_URL} as "
              "config/sandbox.yaml has it."])


__all__ = ["demo"]
