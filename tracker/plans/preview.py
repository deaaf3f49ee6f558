"""The import preview's edits (pure): flatten a parsed tree into rows, edit, rebuild.

Rows are the parsed nodes in document order. The importer may exclude a row, change
its level, merge it into the row above (a node the parser split wrongly), edit its
text, kind and suggestions, or give a section's measures one department or due date.
``rebuild`` turns the edited rows back into the parser's tree shape: a row becomes a
child of the nearest included row above it with a lower level; a node with children is
a section, a leaf keeps its kind (a framing section such as 指导思想 stays a section).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from tracker.inputs import whole_number

RECURRENCES = ("daily", "weekly", "monthly", "termly", "yearly")
MAX_LEVEL = 8


@dataclass
class Row:
    key: int
    label: str
    number: str
    level: int
    heading: str
    text: str
    kind: str
    owners: list[str] = field(default_factory=list)
    due: str | None = None
    time_phrase: str | None = None
    recurrence: str | None = None
    target: str | None = None
    line: int | None = None
    include: bool = True
    merge: bool = False
    department_id: int | None = None
    lead_user_id: int | None = None
    path: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def flatten(nodes: list[dict]) -> list[Row]:
    rows: list[Row] = []

    def walk(items: list[dict], depth: int, prefix: str) -> None:
        for node in items:
            hints = node.get("hints") or {}
            path = prefix + (node.get("label") or "")
            rows.append(Row(key=len(rows), label=node.get("label") or "",
                            number=node.get("number") or "", level=depth,
                            heading=node.get("heading") or "", text=node.get("text") or "",
                            kind=node.get("kind") or "measure",
                            owners=list(hints.get("owners") or []), due=hints.get("due"),
                            time_phrase=hints.get("time_phrase"),
                            recurrence=hints.get("recurrence"), target=hints.get("target"),
                            line=node.get("line"), path=path))
            walk(node.get("children") or [], depth + 1, path)

    walk(nodes, 1, "")
    return rows


def _clean_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return None


def apply_edits(rows: list[Row], values: dict[str, str], present: set[str]) -> list[str]:
    """Apply form values ``n-<key>-<field>`` to the rows; returns problems found.

    ``present`` is the set of checkbox names the form rendered, so an unticked box
    (absent from the submission) can be told apart from a row the form did not show.
    """
    problems: list[str] = []
    for row in rows:
        prefix = f"n-{row.key}-"

        def get(name: str, default: str | None = None) -> str | None:
            return values.get(prefix + name, default)

        if prefix + "include" in present:
            row.include = get("include") == "on"
        if prefix + "merge" in present:
            row.merge = get("merge") == "on"
        level = get("level")
        if level is not None:
            number = whole_number(level)
            row.level = min(MAX_LEVEL, max(1, number)) if number is not None else row.level
        for name in ("label", "heading", "text"):
            value = get(name)
            if value is not None:
                setattr(row, name, value.strip())
        kind = get("kind")
        if kind in ("section", "measure"):
            row.kind = kind
        due = get("due")
        if due is not None:
            row.due = _clean_date(due)
            if due.strip() and row.due is None:
                problems.append(f"{row.path or row.label}: {due!r}")
        recurrence = get("recurrence")
        if recurrence is not None:
            row.recurrence = recurrence if recurrence in RECURRENCES else None
        target = get("target")
        if target is not None:
            row.target = target.strip()[:200] or None
        for name in ("department_id", "lead_user_id"):
            value = get(name)
            if value is not None:
                setattr(row, name, whole_number(value) or None)  # "0": nobody
    _apply_section_defaults(rows, values)
    return problems


def _apply_section_defaults(rows: list[Row], values: dict[str, str]) -> None:
    """"For every measure below this section": department and due date in bulk."""
    def chosen(name: str, key: int) -> int | None:
        value = values.get(f"n-{key}-{name}", "")
        return whole_number(value) or None

    for index, row in enumerate(rows):
        dept, lead = chosen("all_department_id", row.key), chosen("all_lead_user_id", row.key)
        due = _clean_date(values.get(f"n-{row.key}-all_due"))
        if dept is None and lead is None and not due:
            continue
        for below in rows[index + 1:]:
            if below.level <= row.level:
                break
            below.department_id = dept or below.department_id
            below.lead_user_id = lead or below.lead_user_id
            below.due = due or below.due


def rebuild(rows: list[Row]) -> list[dict]:
    """The edited rows as the parser's tree shape (with department/lead user ids)."""
    merged: list[Row] = []
    for row in rows:
        if not row.include:
            continue
        if row.merge and merged:
            previous = merged[-1]
            addition = " ".join(part for part in (row.label + row.heading, row.text) if part)
            previous.text = (previous.text + "\n" + addition).strip()
            continue
        merged.append(Row(**{**asdict(row), "owners": list(row.owners)}))
    roots: list[dict] = []
    stack: list[tuple[int, dict]] = []
    for row in merged:
        node = {"label": row.label, "number": row.number, "level": row.level,
                "heading": row.heading, "text": row.text, "kind": row.kind, "line": row.line,
                "hints": {"owners": row.owners, "due": row.due, "time_phrase": row.time_phrase,
                          "recurrence": row.recurrence, "target": row.target},
                "department_id": row.department_id, "lead_user_id": row.lead_user_id,
                "children": []}
        while stack and stack[-1][0] >= row.level:
            stack.pop()
        (stack[-1][1]["children"] if stack else roots).append(node)
        stack.append((row.level, node))
    _fix_levels(roots, 1)
    return roots


def _fix_levels(nodes: list[dict], depth: int) -> None:
    for node in nodes:
        node["level"] = depth
        if node["children"]:
            node["kind"] = "section"
            _fix_levels(node["children"], depth + 1)


def count_measures(nodes: list[dict]) -> int:
    return sum(count_measures(n["children"]) if n["children"] else int(n["kind"] == "measure")
               for n in nodes)
