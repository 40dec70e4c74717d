"""How the Table API shows a record: every value a string; references as
``{"link", "value"}`` unless links are excluded; ``sysparm_display_value``
``true`` (display strings) or ``all`` (``{"display_value", "value"}`` per field).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .store import Store


@dataclass(frozen=True, slots=True)
class RenderOptions:
    base_url: str  # https://127.0.0.1:N (links point here)
    display_value: str = "false"  # false | true | all
    exclude_reference_link: bool = False
    fields: tuple[str, ...] = ()  # empty = every column of the table

    @classmethod
    def from_args(cls, base_url: str, args: Mapping[str, str]) -> "RenderOptions":
        dv = (args.get("sysparm_display_value") or "false").lower()
        if dv not in ("true", "false", "all"):
            dv = "false"
        fields = tuple(f.strip() for f in (args.get("sysparm_fields") or "").split(",") if f.strip())
        return cls(base_url, dv, (args.get("sysparm_exclude_reference_link") or "").lower() == "true",
                   fields)


def render(store: Store, table: str, record: Mapping[str, str], opts: RenderOptions) -> dict:
    """The JSON object for ``record`` read through ``table``'s columns."""
    cols = store.columns(table)
    names = opts.fields or tuple(cols)
    out: dict[str, object] = {}
    for name in names:
        head = name.partition(".")[0]
        if head not in cols:
            continue  # unknown field in sysparm_fields: left out, as the platform does
        if "." in name:
            value = store.field_value(table, record, name)
            if value is None:
                continue
            out[name] = {"display_value": value, "value": value} if opts.display_value == "all" else value
            continue
        col = cols[name]
        value = record.get(name, "")
        link = None
        if col.is_reference and value and not opts.exclude_reference_link:
            link = f"{opts.base_url}/api/now/table/{col.reference}/{value}"
        if opts.display_value == "false":
            out[name] = {"link": link, "value": value} if link else value
            continue
        display = store.display_value(table, record, name)
        if opts.display_value == "true":
            out[name] = {"link": link, "display_value": display} if link else display
        else:
            item: dict[str, str] = {"display_value": display, "value": value}
            if link:
                item["link"] = link
            out[name] = item
    return out
