"""The one loader for the itsm-align YAML config file.

``load_config(path)`` reads the file (path from the argument, else the
``ITSM_ALIGN_CONFIG`` environment variable), keeps the line of every node,
expands ``${ENV_VAR}`` references so secrets never need to be in the file,
validates everything with pydantic (unknown keys are errors) and builds the
rule engine once, so a bad rule is caught at load and not on the first ticket.

Every failure is one ``ConfigError`` listing each problem as
``FILE:LINE: rules[3] (id 'gdpr-words') when.all[1]: what is wrong. How to fix.``
"""
from __future__ import annotations

import inspect
import os
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import pluggy
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from itsm_align.integration.jira.settings import JiraSettings
from itsm_align.integration.servicenow.settings import ServiceNowSettings
from itsm_align.plugins.engine import Engine, build_engine
from itsm_align.plugins.ruleset import ObjectiveSpec, RuleSpec, RulesetError, ScoringSpec
from itsm_align.webhooks.settings import DashboardSettings, ServiceSettings

__all__ = [
    "AppConfig", "ConfigError", "ConfigProblem", "ENV_VAR", "config_schema", "load_config",
    "parse_config",
]

#: Environment variable naming the config file when no path is passed.
ENV_VAR = "ITSM_ALIGN_CONFIG"

Loc = tuple[Any, ...]

HOW_TO_PASS = (f"Pass the file with --config PATH (CLI) or set the environment variable "
               f"{ENV_VAR}=PATH; config/itsm-align.yaml in the repository is a complete example.")


# ---------------------------------------------------------------- errors
@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a config file, located as precisely as known."""

    file: str
    line: int | None
    where: str  # e.g. "rules[3] (id 'gdpr-words') when.all[1]"; "" for the file itself
    message: str  # what is wrong and how to fix it

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        return f"{place}: {self.where}: {self.message}" if self.where else f"{place}: {self.message}"


class ConfigError(Exception):
    """The config file cannot be used. ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[ConfigProblem] | str, path: Path | None = None) -> None:
        self.path = path
        if isinstance(problems, str):
            self.problems: list[ConfigProblem] = []
            text = problems
        else:
            self.problems = list(problems)
            n = len(self.problems)
            head = f"{path}: {n} problem{'s' if n != 1 else ''} in the config file:" if path else \
                f"{n} config problem{'s' if n != 1 else ''}:"
            text = "\n".join([head, *(f"  {p}" for p in self.problems)])
        super().__init__(text)


# ---------------------------------------------------------------- the model
class AppConfig(BaseModel):
    """The whole config file. Sections other parts own keep their own models."""

    model_config = ConfigDict(extra="forbid", title="itsm-align configuration")

    objectives: list[ObjectiveSpec] = Field(
        min_length=1, description="The business objectives work can serve.")
    rules: list[RuleSpec] = Field(
        default_factory=list, description="Rules mapping work items to objectives.")
    scoring: ScoringSpec | None = Field(
        default=None, description="Scoring model options; defaults apply when absent.")
    jira: JiraSettings | None = Field(default=None, description="Jira connection (optional).")
    servicenow: ServiceNowSettings | None = Field(
        default=None, description="ServiceNow connection (optional).")
    service: ServiceSettings = Field(
        default_factory=ServiceSettings, description="The webhook service and worker.")
    dashboard: DashboardSettings | None = Field(
        default=None, description="The dashboard at /dashboard and who may open it (absent: not served).")

    _path: Path | None = PrivateAttr(default=None)
    _source: "_Source | None" = PrivateAttr(default=None)
    _engine: Engine | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The file this config was loaded from (None when built in code)."""
        return self._path

    def engine(self, pm: pluggy.PluginManager | None = None) -> Engine:
        """The rule engine for these objectives and rules.

        Built once and cached for the default plugin manager; a caller passing
        its own ``pm`` gets a fresh engine. A rule problem raises ConfigError
        located in the file.
        """
        if pm is None and self._engine is not None:
            return self._engine
        try:
            engine = build_engine(self.objectives, self.rules, scoring=self.scoring, pm=pm)
        except RulesetError as exc:
            source = self._source or _Source(self._path or Path("<config>"), {}, {})
            raise ConfigError([_ruleset_problem(source, p) for p in exc.problems], self._path) from exc
        if pm is None:
            self._engine = engine
        return engine


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the config file (what ``itsm-align schema`` writes)."""
    schema = AppConfig.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# ---------------------------------------------------------------- loading
def load_config(path: str | os.PathLike[str] | None = None, *, build: bool = True) -> AppConfig:
    """Read, expand, validate the config file and build its engine.

    ``path`` defaults to ``$ITSM_ALIGN_CONFIG``. With ``build=False`` the
    engine is built on first ``config.engine()`` call instead. Raises
    ConfigError, whose message lists every problem with file and line.
    """
    if path is None or str(path) == "":
        env = os.environ.get(ENV_VAR, "").strip()
        if not env:
            raise ConfigError(f"No config file given. {HOW_TO_PASS}")
        path = env
    file = Path(path)
    if not file.exists():
        raise ConfigError(f"{file}: config file does not exist. {HOW_TO_PASS}", file)
    if not file.is_file():
        raise ConfigError(f"{file}: is not a file. {HOW_TO_PASS}", file)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: is not UTF-8 text ({exc.reason} at byte {exc.start}). "
                          "Save the file as UTF-8.", file) from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot be read ({exc.strerror}). Check its permissions.",
                          file) from exc
    return parse_config(text, file, build=build)


def parse_config(text: str, path: str | os.PathLike[str] = "<config>", *,
                 env: typing.Mapping[str, str] | None = None, build: bool = True) -> AppConfig:
    """Like load_config, for YAML text already in memory (``path`` names it in errors)."""
    file = Path(path)
    source, problems = _compose(text, file, os.environ if env is None else env)
    if not isinstance(source.data, dict):
        if problems:
            raise ConfigError(problems, file)
        kind = "empty" if source.data is None else f"a {type(source.data).__name__}"
        raise ConfigError([ConfigProblem(str(file), 1, "", (
            f"the file is {kind}, but it must be a mapping with the sections "
            f"{', '.join(_allowed_keys(AppConfig))}. Start with `objectives:` and `rules:`."))], file)
    problems.extend(_unknown_objective_problems(source))
    config: AppConfig | None = None
    try:
        config = AppConfig.model_validate(source.data)
    except ValidationError as exc:
        # a value already reported (missing ${VAR}, duplicate key) is not reported twice
        seen = {p.where for p in problems}
        for error in exc.errors(include_url=False):
            problem = _validation_problem(source, error)
            if problem.where not in seen:
                problems.append(problem)
    if config is None or problems:  # report problems inside `when:` with the others, not after them
        problems.extend(_when_problems(source, {p.where for p in problems}))
    if problems or config is None:
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0), file)
    config._path = file
    config._source = source
    if build:
        config.engine()
    return config


# ---------------------------------------------------------------- YAML with lines
@dataclass
class _Source:
    """The parsed file: plain data plus the line of every node, by path."""

    path: Path
    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Loc) -> int | None:
        """Line of ``loc``, or of its nearest ancestor present in the file."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None

    def where(self, loc: Loc, rule_id: str | None = None, objective_id: str | None = None) -> str:
        """Human path: ``rules[3] (id 'gdpr-words') when.all[1]``."""
        if not loc:
            return "(top level)"
        parts: list[str] = []
        rest = list(loc)
        if len(rest) >= 2 and rest[0] in ("rules", "objectives") and isinstance(rest[1], int):
            section, index = rest[0], rest[1]
            item = _get(self.data, (section, index))
            ident = item.get("id") if isinstance(item, dict) else None
            ident = ident or (rule_id if section == "rules" else objective_id)
            parts.append(f"{section}[{index}]" + (f" (id '{ident}')" if ident else ""))
            rest = rest[2:]
        tail = ""
        for part in rest:
            tail += f"[{part}]" if isinstance(part, int) else (f".{part}" if tail else str(part))
        if tail:
            parts.append(tail)
        return " ".join(parts)


def _compose(text: str, file: Path,
             env: typing.Mapping[str, str]) -> tuple[_Source, list[ConfigProblem]]:
    """Parse YAML (a syntax error raises at once) into data with lines; the
    problems found on the way (missing ${VAR}, duplicate keys) are returned."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_yaml_problem(file, exc)], file) from exc
    except yaml.YAMLError as exc:  # reader errors: bad characters
        raise ConfigError([ConfigProblem(str(file), None, "", f"cannot be read as YAML: {exc}")],
                          file) from exc
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {(): 1}
    found: list[tuple[Loc, int, str]] = []
    data = _Builder(env, lines, found).build(root, ()) if root is not None else None
    source = _Source(file, data, lines)
    # located once the data exists, so a problem inside a rule can name the rule's id
    return source, [ConfigProblem(str(file), line, source.where(loc) if loc else "", message)
                    for loc, line, message in found]


def _yaml_problem(file: Path, exc: yaml.MarkedYAMLError) -> ConfigProblem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    column = f", column {mark.column + 1}" if mark else ""
    what = " ".join(p for p in (exc.context, exc.problem) if p)
    return ConfigProblem(str(file), line, "", (
        f"invalid YAML: {what}{column}. Check the indentation, that every key ends with ':' "
        "and that quotes and brackets are closed."))


class _Builder:
    """Turns PyYAML nodes into plain data, recording lines and expanding ${VAR}."""

    # $${ is a literal "${"; ${NAME} / ${NAME:-default}; a lone ${ is malformed
    ENV_REF = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")

    def __init__(self, env: typing.Mapping[str, str], lines: dict[Loc, int],
                 problems: list[tuple[Loc, int, str]]) -> None:
        self.env = env
        self.lines = lines
        self.problems = problems
        self.constructor = yaml.SafeLoader("")

    def problem(self, loc: Loc, line: int, message: str) -> None:
        self.problems.append((loc, line, message))

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        line = node.start_mark.line + 1
        self.lines.setdefault(loc, line)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, loc + (i,)) for i, item in enumerate(node.value)]
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.problem(loc, line, f"cannot read this value ({getattr(exc, 'problem', exc)}). "
                         "Use plain YAML scalars; tags such as !!python are not allowed.")
            return None
        if isinstance(value, str):
            return self._expand(value, loc, line)
        return value

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[Any, Any]:
        # keys written twice are an error (YAML would keep the last one silently);
        # keys merged in with `<<: *anchor` may be overridden, as YAML intends
        written = [k for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"]
        try:
            self.constructor.flatten_mapping(node)  # merged keys first, then the written ones
        except yaml.YAMLError as exc:
            self.problem(loc, node.start_mark.line + 1, f"bad merge key: {exc}")
            return {}
        out: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            try:
                key = self.constructor.construct_object(key_node, deep=True)
                hash(key)
            except (yaml.YAMLError, TypeError):
                self.problem(loc, key_line, "a key must be a plain word such as `id`; "
                             "complex keys are not allowed.")
                continue
            if key in first_line and any(key_node is k for k in written):
                self.problem(loc + (key,), key_line, (
                    f"key '{key}' appears twice (first on line {first_line[key]}). "
                    "Keep one of them; YAML would silently drop the first."))
                continue
            if any(key_node is k for k in written):
                first_line[key] = key_line
            path = loc + (key,)
            if key in out:  # a written key overriding a merged one: forget the merged lines
                for stale in [p for p in self.lines if p[:len(path)] == path]:
                    del self.lines[stale]
            self.lines[path] = key_line
            out[key] = self.build(value_node, path)
        return out

    def _expand(self, value: str, loc: Loc, line: int) -> str:
        if "${" not in value:
            return value

        def substitute(match: re.Match[str]) -> str:
            text = match.group(0)
            if text == "$${":
                return "${"
            name, default = match.group(1), match.group(2)
            if name is None:
                self.problem(loc, line, (
                    f"malformed environment reference in {value!r}. Write ${{NAME}} or "
                    "${NAME:-default} (NAME: letters, digits, _), or $${ for a literal '${'."))
                return text
            current = self.env.get(name)
            if default is not None and not current:
                return default
            if current is None:
                self.problem(loc, line, (
                    f"environment variable {name} is not set. Set it before starting "
                    f"(export {name}=...), or give a default as ${{{name}:-value}}."))
                return text
            return current

        return self.ENV_REF.sub(substitute, value)


def _get(data: Any, loc: Loc) -> Any:
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


# ---------------------------------------------------------------- problems
def _clean_loc(data: Any, loc: Iterable[Any]) -> Loc:
    """Drop the union/validator tags pydantic puts into a ``loc`` that are not
    in the data (``'function-after[...]'``, model names), keeping the last part
    (a missing or unknown key)."""
    parts = list(loc)
    out: list[Any] = []
    node = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict) and part in node:
            node = node[part]
            out.append(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            out.append(part)
        elif last and "[" not in str(part):
            out.append(part)
        # otherwise: a tag, not a path element
    return tuple(out)


def _validation_problem(source: _Source, error: Any) -> ConfigProblem:
    loc = _clean_loc(source.data, error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        allowed = _allowed_keys(_model_at(loc[:-1]))
        hint = (f"Allowed keys here: {', '.join(allowed)}." if allowed
                else "See config/schema.json for the allowed keys.")
        message = f"unknown key '{key}'. {hint} Check the spelling, or remove it."
    elif kind == "missing":
        key = loc[-1] if loc else "?"
        message = f"required key '{key}' is missing. Add `{key}: ...` here."
    else:
        message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        given = error.get("input")
        if isinstance(given, (str, int, float, bool)) and len(repr(given)) <= 80 \
                and str(given) not in message:
            message = message.rstrip(".") + f" (got {given!r})."
        if kind not in ("value_error", "assertion_error"):  # our validators say how to fix
            message = message.rstrip(".") + ". Change this value."
    return ConfigProblem(str(source.path), source.line_of(loc), source.where(loc), message)


def _ruleset_problem(source: _Source, problem: Any) -> ConfigProblem:
    loc = tuple(getattr(problem, "loc", ()) or ())
    return ConfigProblem(
        str(source.path), source.line_of(loc),
        source.where(loc, getattr(problem, "rule_id", None), getattr(problem, "objective_id", None)),
        str(getattr(problem, "message", problem)))


def _when_problems(source: _Source, seen: set[str]) -> Iterable[ConfigProblem]:
    """Problems inside ``when:`` conditions, found by compiling the raw rules,
    so they are reported along with other validation errors instead of after
    the rest is fixed (``when`` is only checked by the rule compiler)."""
    data = source.data
    objectives, rules = data.get("objectives"), data.get("rules")
    if not isinstance(objectives, list) or not isinstance(rules, list):
        return
    try:
        build_engine(objectives, rules, scoring=None)
    except RulesetError as exc:
        for problem in exc.problems:
            loc = tuple(problem.loc)
            if len(loc) > 2 and loc[0] == "rules" and loc[2] == "when":
                found = _ruleset_problem(source, problem)
                if found.where not in seen:
                    yield found
    except Exception:  # noqa: BLE001 - best effort: the main errors are already reported
        return


def _unknown_objective_problems(source: _Source) -> Iterable[ConfigProblem]:
    """Rules naming an objective id the file does not define (checked on the
    raw data, so it is reported together with any other problem)."""
    data = source.data
    objectives, rules = data.get("objectives"), data.get("rules")
    if not isinstance(objectives, list) or not isinstance(rules, list):
        return
    known = [o["id"] for o in objectives if isinstance(o, dict) and isinstance(o.get("id"), str)]
    for i, rule in enumerate(rules):
        objective = rule.get("objective") if isinstance(rule, dict) else None
        if isinstance(objective, str) and objective not in known:
            loc = ("rules", i, "objective")
            yield ConfigProblem(str(source.path), source.line_of(loc), source.where(loc), (
                f"objective '{objective}' is not defined. Known objective ids: "
                f"{', '.join(known) or '(none)'}. Use one of them, or add it under `objectives:`."))


# ---------------------------------------------------------------- model introspection
def _members(tp: Any) -> list[Any]:
    """Flatten Optional/Union/Annotated into the member types."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _members(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(tp) for m in _members(arg)]
    return [tp]


def _is_model(tp: Any) -> bool:
    return inspect.isclass(tp) and issubclass(tp, BaseModel)


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``loc``, if one does."""
    candidates: list[Any] = [AppConfig]
    for part in loc:
        following: list[Any] = []
        for tp in (m for c in candidates for m in _members(c)):
            origin = typing.get_origin(tp)
            if isinstance(part, int) and origin in (list, tuple, Sequence, typing.Sequence):
                following.extend(typing.get_args(tp)[:1])
            elif isinstance(part, str) and _is_model(tp):
                for name, field in tp.model_fields.items():
                    if part in (name, field.alias):
                        following.append(field.annotation)
            elif isinstance(part, str) and origin is dict:
                following.append(typing.get_args(tp)[1])
        candidates = following
    models = [m for c in candidates for m in _members(c) if _is_model(m)]
    return models[0] if len(models) == 1 else None


def _allowed_keys(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]
