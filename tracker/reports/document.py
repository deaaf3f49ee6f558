"""The document model every renderer reads: blocks in order, charts, and a ledger.

Pure data (no Flask, no database). The school report (``compose``) and the district
report (``district``) both build a ``Document``; the HTML, DOCX, PDF and XLSX renderers
only lay it out, so the four formats always say the same thing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class Heading:
    level: int                 # 1 = a top section of the plan or a part of the report
    text: str
    anchor: str
    section_id: int | None = None   # the plan node, for headings that mirror the plan


@dataclass
class Paragraph:
    text: str
    style: str = "body"        # body, lead (the opening), note (small print)


@dataclass
class Item:
    lead: str                  # "1.构建系统化德育课程体系" (bold)
    text: str                  # what was done / why not
    state: str = ""            # done, not_done, … (HTML colours it)


@dataclass
class ItemList:
    title: str                 # "已完成" / "未完成"
    items: list[Item]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: tuple[int, ...] = ()   # right-aligned columns
    caption: str = ""


@dataclass
class ChartRef:
    key: str
    caption: str


@dataclass
class ChartSpec:
    """What to draw; ``charts.render`` turns it into a PNG."""

    key: str
    kind: str                  # "bars" (rates per label) or "burnup"
    title: str
    labels: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)        # rates 0–1 for bars
    counts: list[str] = field(default_factory=list)          # "12/20" next to a bar
    days: list[date] = field(default_factory=list)
    lines: dict[str, list[float]] = field(default_factory=dict)   # legend label → values
    today: date | None = None
    axis_label: str = ""


Block = Heading | Paragraph | ItemList | Table | ChartRef


@dataclass
class Document:
    lang: str
    title: str
    subtitle: str
    blocks: list[Block]
    ledger: Table
    ledger_title: str
    charts: list[ChartSpec]
    filename_stem: str

    def headings(self, level: int | None = None) -> list[Heading]:
        return [b for b in self.blocks if isinstance(b, Heading)
                and (level is None or b.level == level)]

    def section_headings(self) -> list[Heading]:
        return [h for h in self.headings() if h.section_id is not None]

    def text(self) -> str:
        """All the words, for tests and search: no "None" may appear here."""
        parts = [self.title, self.subtitle]
        for block in self.blocks:
            if isinstance(block, Heading | Paragraph):
                parts.append(block.text)
            elif isinstance(block, ItemList):
                parts.append(block.title)
                parts.extend(f"{i.lead} {i.text}" for i in block.items)
            elif isinstance(block, Table):
                parts.append(" ".join(block.headers))
                parts.extend(" ".join(row) for row in block.rows)
            elif isinstance(block, ChartRef):
                parts.append(block.caption)
        parts.append(" ".join(self.ledger.headers))
        parts.extend(" ".join(row) for row in self.ledger.rows)
        return "\n".join(parts)
