"""Field values: type-check what a client sends, store it, render it back per
API version, and describe a change as a changelog item.

Stored forms: float -> ``float``; select -> option id (``str``); multiselect ->
tuple of option ids; textarea/textfield -> ``str`` or ADF ``dict`` as sent;
labels -> tuple of ``str``.
"""
from __future__ import annotations

import math
from typing import Any

from . import adf
from .model import CF_PREFIX, Field

#: Custom field types we simulate and the searchers Jira accepts for each
#: (reference/jira.md; OpenAPI ``CustomFieldDefinitionJsonBean``).
VALID_SEARCHERS: dict[str, set[str]] = {
    "float": {"numberrange", "exactnumber"},
    "select": {"multiselectsearcher"},
    "multiselect": {"multiselectsearcher"},
    "textarea": {"textsearcher"},
    "textfield": {"textsearcher"},
    "labels": {"labelsearcher"},
}

CANNOT_SET = "Field '{0}' cannot be set. It is not on the appropriate screen, or unknown."


class ValueProblem(ValueError):
    """A value that does not fit its field; the message is Jira's text."""


def _option(field: Field, raw: Any) -> str:
    if not isinstance(raw, dict):
        raise ValueProblem(f"Specify a valid value for {field.name}")
    if "id" in raw and raw["id"] is not None:
        opt = field.option_by_id(str(raw["id"]))
        if opt is None or opt.disabled:
            raise ValueProblem(f"Option id '{raw['id']}' is not valid")
        return opt.id
    if "value" in raw and raw["value"] is not None:
        opt = field.option_by_value(str(raw["value"]))
        if opt is None:
            raise ValueProblem(f"Option value '{raw['value']}' is not valid")
        return opt.id
    raise ValueProblem("Could not find valid 'id' or 'value' in the Parent Option object.")


def parse(field: Field, raw: Any, api_version: int) -> Any:
    """Validate a ``PUT /issue`` value; return the stored form (None clears).

    Raises :class:`ValueProblem` with Jira's wording when the value is wrong.
    """
    if raw is None:
        if field.id == "summary":
            raise ValueProblem("You must specify a summary of the issue.")
        return None
    kind = field.kind
    if kind == "float":
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            if isinstance(raw, str):
                try:
                    number = float(raw)
                except ValueError:
                    raise ValueProblem(f"'{raw}' is an invalid number") from None
            else:
                raise ValueProblem("Operation value must be a number")
        else:
            number = float(raw)
        if math.isnan(number) or math.isinf(number):
            raise ValueProblem(f"'{raw}' is an invalid number")
        return number
    if kind == "select":
        return _option(field, raw)
    if kind == "multiselect":
        if not isinstance(raw, list):
            raise ValueProblem("Operation value must be an array of options")
        return tuple(dict.fromkeys(_option(field, item) for item in raw)) or None
    if kind == "textarea":
        if api_version >= 3:
            if not adf.is_adf(raw):
                raise ValueProblem("Operation value must be an Atlassian Document (see the Atlassian Document Format)")
            return raw
        if not isinstance(raw, str):
            raise ValueProblem("Operation value must be a string")
        return raw or None
    if kind == "textfield":
        if not isinstance(raw, str):
            raise ValueProblem("Operation value must be a string")
        if len(raw) > 255:
            raise ValueProblem("The entered text is too long. It exceeds the allowed limit of 255 characters.")
        if field.id == "summary" and not raw.strip():
            raise ValueProblem("You must specify a summary of the issue.")
        return raw or None
    if kind == "labels":
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise ValueProblem("Operation value must be an array of strings")
        for label in raw:
            if " " in label:
                raise ValueProblem(f"The label '{label}' contains spaces which is invalid.")
        return tuple(dict.fromkeys(raw)) or None
    raise ValueProblem(CANNOT_SET.format(field.id))


def render(field: Field, value: Any, api_version: int, base: str) -> Any:
    """The stored value as ``GET /issue`` shows it."""
    if value is None:
        return [] if field.kind in {"labels"} and not field.custom else None
    kind = field.kind
    if kind == "select":
        return _render_option(field, value, base)
    if kind == "multiselect":
        return [_render_option(field, v, base) for v in value]
    if kind == "textarea":
        return adf.render(value, api_version)
    if kind == "labels":
        return list(value)
    return value


def _render_option(field: Field, option_id: str, base: str) -> dict[str, Any]:
    opt = field.option_by_id(option_id)
    return {
        "self": f"{base}/rest/api/3/customFieldOption/{option_id}",
        "value": opt.value if opt else option_id,
        "id": option_id,
    }


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _strings(field: Field, value: Any) -> tuple[str | None, str | None]:
    """(raw, display) strings of a stored value for changelog items."""
    if value is None:
        return None, None
    kind = field.kind
    if kind == "select":
        opt = field.option_by_id(value)
        return value, opt.value if opt else value
    if kind == "multiselect":
        names = [(field.option_by_id(v).value if field.option_by_id(v) else v) for v in value]
        return "[" + ", ".join(value) + "]", ", ".join(names)
    if kind == "float":
        return None, _number_text(value)
    if kind == "textarea":
        return None, adf.adf_to_text(value) if adf.is_adf(value) else str(value)
    if kind == "labels":
        return None, " ".join(value)
    return None, str(value)


def change_item(field: Field, old: Any, new: Any) -> dict[str, Any]:
    """A changelog item (OpenAPI ``ChangeDetails``) for ``old`` -> ``new``."""
    frm, frm_s = _strings(field, old)
    to, to_s = _strings(field, new)
    return {
        "field": field.name if field.custom else field.id,
        "fieldtype": "custom" if field.custom else "jira",
        "fieldId": field.id,
        "from": frm,
        "fromString": frm_s,
        "to": to,
        "toString": to_s,
    }


def same(field: Field, old: Any, new: Any) -> bool:
    """True when storing ``new`` would not change what the field shows."""
    if field.kind == "textarea":
        a = adf.adf_to_text(old) if adf.is_adf(old) else old
        b = adf.adf_to_text(new) if adf.is_adf(new) else new
        return (a or None) == (b or None)
    return old == new


def type_key(kind: str) -> str:
    return CF_PREFIX + kind
