"""Atlassian Document Format (ADF) helpers: Jira v3 renders rich text as ADF,
v2 as plain strings, so the sandbox converts between the two."""
from __future__ import annotations

from typing import Any


def is_adf(value: Any) -> bool:
    """True when ``value`` looks like an ADF document (``{"type": "doc", "version": 1, ...}``)."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and isinstance(value.get("content", []), list)
    )


def text_to_adf(text: str) -> dict[str, Any]:
    """Plain text to an ADF doc, one paragraph per line."""
    content = []
    for line in text.split("\n"):
        para: dict[str, Any] = {"type": "paragraph", "content": []}
        if line:
            para["content"].append({"type": "text", "text": line})
        content.append(para)
    return {"type": "doc", "version": 1, "content": content}


def adf_to_text(doc: Any) -> str:
    """The text of an ADF doc; block nodes are joined by newlines."""
    if doc is None:
        return ""
    if isinstance(doc, str):
        return doc
    blocks: list[str] = []

    def inline(node: Any) -> str:
        if not isinstance(node, dict):
            return ""
        if node.get("type") == "text":
            return str(node.get("text", ""))
        if node.get("type") == "hardBreak":
            return "\n"
        return "".join(inline(c) for c in node.get("content", []) or [])

    for block in doc.get("content", []) or []:
        if isinstance(block, dict) and block.get("type") in {"bulletList", "orderedList"}:
            for item in block.get("content", []) or []:
                blocks.append(inline(item))
        else:
            blocks.append(inline(block))
    return "\n".join(blocks)


def render(value: Any, api_version: int) -> Any:
    """A stored text value (plain or ADF) as the given API version shows it."""
    if value is None:
        return None
    if api_version >= 3:
        return value if is_adf(value) else text_to_adf(str(value))
    return adf_to_text(value) if is_adf(value) else value
