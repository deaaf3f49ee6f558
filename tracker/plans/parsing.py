"""Plan parser: the text of a work plan or summary → a tree of numbered nodes.

Pure module: it imports nothing from the app except :mod:`tracker.plans.hints`.

The rules (from shared/plans/README.md, turned into general heuristics)
=======================================================================

**Lines and noise.** The text is read line by line; one line is one paragraph. Word bookmark
debris (``[bookmark: OLE_LINK1]``), page furniture (``标题:``, ``索引号``, ``发布日期``,
``• 字号:``, ``• 打印``, ``发布 2020-06-05 … 阅读 8498``, page numbers) and lines holding
only unusual blanks (U+00A0 …) are *noise*: removed from the tree and listed in
``ParsedPlan.noise``. Nothing else is ever dropped: every other character ends up in the
title, the preamble, the trailer or exactly one node (``label`` + ``text``).

**Title.** The first short line before the first numbered item that names the document
kind (计划, 要点, 总结, 方案, 情况 …) and has no sentence punctuation; a ``标题:`` line
points at it when present. A short un-punctuated line directly above it (no blank line
between) is the first half of a split title and is joined with no space. Anything above the
title (a slogan, the publisher) goes to the preamble. No such line → ``title`` is None.

**Numbering.** A line that starts with a list marker opens an item. Supported styles:
``第一部分/第一章/第一节/第一条``, ``一、 一. 一．``, ``（一） (一) 一)``, ``1. 1、 1．``,
``1.1``/``1.1.1``, ``（1） (1) 1)``, ``⑴``, ``⒈``, ``①…⑳``, ``第一，``, own-line ``一是``,
English ``Part 1``, ``I.``, ``A.``, ``a)``/``(a)``. Full- and half-width brackets are the
same style. Levels are decided by *sequence continuity*, not by the marker alone: a marker
of a style that is already open continues that level (a new parent restarts it, or it goes
on counting: 001's 11、 under 二)); a style not yet open starts a deeper level; a number
that breaks its own level's sequence but continues an ancestor's (003's ``3、 工作措施``
after goals ``1.``–``5.`` under ``二、``) is taken at the ancestor's level. A ``1、`` in the
middle of a line is text, never a sub-list (004).

**Lost numbers.** When a style's first appearance is its second item (``2.``, ``（二）``,
``二、``) the first one was lost with Word auto-numbering: the un-numbered paragraph right
before the block that precedes it becomes that item, numbered in its siblings' style
(``label`` is empty, ``number`` is inferred). Inner styles are restored first, so a chain
``一 / （一） / 1`` of lost numbers is rebuilt (004).

**Bodies.** An un-numbered paragraph belongs to the item above it (continuation), or to the
preamble before the first item. In a document whose items are single paragraphs, an
un-numbered paragraph after the *last* item of a list, when that item already has its own
body text, sums up the section and goes to the parent (000 line 33).

**Sections and measures.** Leaves are measures, other nodes sections, except:
framing parts (指导思想, 工作目标/目标任务, 工作主题, 存在的问题, 问题与不足, 基本情况,
总体要求, 基本原则 …) are sections with all their descendants, even when childless; a
childless heading whose siblings have numbered children and which holds several separate
paragraphs gets one measure per paragraph, numbered ``¶1``, ``¶2`` … (004 四); a run-in
enumeration ``一是…二是…`` inside a leaf item's paragraphs is split into leaves numbered
``一是``, ``二是`` … and the item becomes a section whose text is the lead-in (002, 003).

**Trailer.** After the body: a line repeating the title (pasted abstracts, 001), a
title-like line followed by numbering restarting at the top level, a closing paragraph after
the last numbered item (总之, 综上, 最后，, 让我们, 老师们 …), and a final signature/date
block. All of it is kept in ``trailer``.

**Headings.** The text after the number up to the first 。！？ (or ``. ! ?`` followed by a
space) or the end of the line, trailing ``：:，,；;`` and blanks trimmed.

**No numbering at all** → every paragraph is a measure (``¶1`` …) and a warning says so.

**Hints** (:mod:`tracker.plans.hints`) are computed for measures only (sections keep empty
hints); a run-in leaf's hints also read its parent's lead-in sentence.

**Invariant.** For any input, the non-whitespace characters of ``title + preamble + trailer
+ noise + Σ(label + text)`` are exactly those of the input, as a multiset
(:meth:`ParsedPlan.accounted_text`, :func:`count_chars`). The parser never raises and is
deterministic; it runs in linear time (line-anchored, bounded regular expressions).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tracker.plans.hints import Hints, TermCalendar, cn_to_int, extract_hints

__all__ = [
    "Marker",
    "Node",
    "ParsedPlan",
    "detect_marker",
    "iter_measures",
    "iter_nodes",
    "parse_plan",
    "text_start",
]

class ParseWarning(str):
    """A warning as English text (what the JSON's ``warnings`` carry) that also names its
    kind and values, so the app can say it in the reader's language (``plans.notes``)."""

    code: str
    params: dict

    def __new__(cls, code: str, text: str, **params) -> ParseWarning:
        warning = super().__new__(cls, text)
        warning.code, warning.params = code, params
        return warning


FLAT_WARNING = ParseWarning("flat", "no numbering found — imported as a flat list of paragraphs")


# --------------------------------------------------------------------------- result types


@dataclass
class Node:
    """One numbered item of the plan (or an inferred / ¶ / run-in item)."""

    label: str  # as printed ("（一）", "1.", "一是"); "" when the number was not printed
    number: str  # normalised ("一", "1", "（一）", "一是", "¶1")
    level: int = 1
    heading: str = ""
    text: str = ""
    kind: str = "measure"  # "section" | "measure"
    hints: Hints = field(default_factory=Hints)
    children: list[Node] = field(default_factory=list)
    line: int = 0  # 1-based source line of the item
    inferred: bool = False  # number not printed (lost auto-numbering or ¶n)
    framing: bool = False  # 指导思想 / 工作目标 / 存在的问题 … (never a measure)
    paragraphs: list[tuple[int, str]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "number": self.number,
            "level": self.level,
            "heading": self.heading,
            "text": self.text,
            "kind": self.kind,
            "hints": self.hints.to_dict(),
            "children": [child.to_dict() for child in self.children],
            "line": self.line,
        }


@dataclass
class ParsedPlan:
    title: str | None = None
    preamble: str = ""
    trailer: str = ""
    noise: list[str] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The stable JSON shape other tools read."""
        return {
            "title": self.title,
            "preamble": self.preamble,
            "trailer": self.trailer,
            "noise": list(self.noise),
            "nodes": [node.to_dict() for node in self.nodes],
            "warnings": list(self.warnings),
        }

    @property
    def measure_count(self) -> int:
        return sum(1 for _ in iter_measures(self))

    def accounted_text(self) -> str:
        """Everything the parse kept or discarded, for the no-text-lost invariant.

        The multiset of non-whitespace characters of this string equals that of the input.
        """
        parts = [self.title or "", self.preamble, self.trailer, *self.noise]
        parts.extend(node.label + node.text for node in iter_nodes(self.nodes))
        return "\n".join(parts)


def iter_nodes(nodes: Sequence[Node]) -> Iterator[Node]:
    for node in nodes:
        yield node
        yield from iter_nodes(node.children)


def iter_measures(parsed: ParsedPlan | Sequence[Node],
                  _path: tuple[str, ...] = ()) -> Iterator[tuple[list[str], Node]]:
    """Measures in document order with their path of numbers from the top down."""
    nodes = parsed.nodes if isinstance(parsed, ParsedPlan) else parsed
    for node in nodes:
        path = (*_path, node.number)
        if node.kind == "measure":
            yield list(path), node
        yield from iter_measures(node.children, path)


def text_start(node: Node, length: int = 15) -> str:
    """The first ``length`` characters of the node's own first line."""
    return node.text.split("\n", 1)[0][:length]


# --------------------------------------------------------------------------- markers

_CN_DIGIT = "一二三四五六七八九"
_CN = r"[一二三四五六七八九十百]{1,4}"
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


@dataclass(frozen=True)
class Marker:
    """A list marker at the start of a line."""

    family: str  # level family: markers of one family are siblings
    rank: float  # conventional depth of the style (一、 < （一） < 1. < （1） < ①)
    value: int
    label: str  # as printed, without the following blanks
    number: str  # normalised number
    punct: str  # separator or bracket style, for continuity checks
    template: str  # how to print a sibling's number: "{}", "（{}）", "第{}部分" …
    numerals: str  # cn | dec | circled | paren-glyph | stop-glyph | roman | upper | lower
    rest: str  # the text after the marker and its blanks
    inferred: bool = False

    def sibling_number(self, value: int) -> str:
        return self.template.format(format_numeral(value, self.numerals))


def format_numeral(value: int, numerals: str) -> str:
    if numerals == "cn":
        return int_to_cn(value)
    if numerals == "circled" and 1 <= value <= 20:
        return chr(0x2460 + value - 1)
    if numerals == "paren-glyph" and 1 <= value <= 20:
        return chr(0x2474 + value - 1)
    if numerals == "stop-glyph" and 1 <= value <= 20:
        return chr(0x2488 + value - 1)
    if numerals == "roman":
        return int_to_roman(value)
    if numerals in ("upper", "lower") and 1 <= value <= 26:
        letter = chr(ord("A") + value - 1)
        return letter if numerals == "upper" else letter.lower()
    return str(value)


def int_to_cn(value: int) -> str:
    if value < 10:
        return "零一二三四五六七八九"[value]
    if value < 100:
        tens, units = divmod(value, 10)
        return ("" if tens == 1 else _CN_DIGIT[tens - 1]) + "十" + (
            _CN_DIGIT[units - 1] if units else "")
    return str(value)


def int_to_roman(value: int) -> str:
    out = []
    for amount, glyph in ((100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"),
                          (5, "V"), (4, "IV"), (1, "I")):
        while value >= amount:
            out.append(glyph)
            value -= amount
    return "".join(out)


def roman_to_int(text: str) -> int | None:
    total, previous = 0, 0
    for char in reversed(text.upper()):
        value = _ROMAN.get(char)
        if value is None:
            return None
        total = total - value if value < previous else total + value
        previous = max(previous, value)
    return total if int_to_roman(total) == text.upper() else None


@dataclass(frozen=True)
class _Style:
    family: str
    rank: float
    regex: re.Pattern[str]
    numerals: str


def _style(family: str, rank: float, pattern: str, numerals: str) -> _Style:
    return _Style(family, rank, re.compile(pattern), numerals)


#: Order matters: the first style whose pattern matches wins.
_STYLES: tuple[_Style, ...] = (
    _style("part", 0, r"第(?P<n>" + _CN + r"|\d{1,3})(?P<u>部分|篇|章)(?P<p>[、.．：:]?)", "cn"),
    _style("chapter-section", 0.5, r"第(?P<n>" + _CN + r"|\d{1,3})(?P<u>节)(?P<p>[、.．：:]?)",
           "cn"),
    _style("article", 3, r"第(?P<n>" + _CN + r"|\d{1,3})(?P<u>条)(?P<p>[、.．：:]?)", "cn"),
    _style("ordinal", 5, r"第(?P<n>[一二三四五六七八九十]{1,3})(?P<p>[，,、：:])", "cn"),
    _style("run-in", 6, r"(?P<n>[一二三四五六七八九十]{1,3})是(?=\s*[^\s，,。；;、是的])", "cn"),
    _style("cn", 1, r"(?P<n>" + _CN + r")\s*(?P<p>[、.．])(?![.．、])", "cn"),
    _style("cn-paren", 2, r"(?P<o>[（(])\s*(?P<n>" + _CN + r")\s*(?P<c>[）)])(?P<p>[、.．]?)",
           "cn"),
    _style("cn-paren", 2, r"(?P<n>" + _CN + r")(?P<c>[）)])(?P<p>[、.．]?)", "cn"),
    _style("dotted", 3.5, r"(?P<pre>(?:\d{1,2}[.．]){1,3})(?P<n>\d{1,2})"
                          r"(?:(?P<p>[.．、])(?![\d.．])|(?=\s))", "dec"),
    _style("dec", 3, r"(?P<n>\d{1,2})\s*(?P<p>[.．])(?![\d.．、])", "dec"),
    _style("dec", 3, r"(?P<n>\d{1,2})\s*(?P<p>、)(?!、)", "dec"),
    _style("dec-paren", 4, r"(?P<o>[（(])\s*(?P<n>\d{1,2})\s*(?P<c>[）)])(?P<p>[、.．]?)", "dec"),
    _style("dec-paren", 4, r"(?P<n>\d{1,2})(?P<c>[）)])(?P<p>[、.．]?)", "dec"),
    _style("dec-paren", 4, r"(?P<g>[⑴-⒇])", "paren-glyph"),
    _style("dec", 3, r"(?P<g>[⒈-⒛])", "stop-glyph"),
    _style("circled", 5, r"(?P<g>[①-⑳])", "circled"),
    _style("part-en", 0, r"(?P<u>Part|PART|Chapter|CHAPTER|Section|SECTION)\s+"
                         r"(?P<n>\d{1,3}|[IVXL]{1,6})(?P<p>[.:：]?)(?=\s|$)", "dec"),
    _style("roman", 1, r"(?P<n>[IVXL]{1,6})(?:(?P<c>\))|(?P<p>[.．、]))(?=\s)", "roman"),
    _style("upper", 2, r"(?P<n>[A-Z])(?:(?P<c>\))|(?P<p>[.．、]))(?=\s)", "upper"),
    _style("lower", 4.5, r"(?P<o>\()(?P<n>[a-z])(?P<c>\))", "lower"),
    _style("lower", 4.5, r"(?P<n>[a-z])(?:(?P<c>\))|(?P<p>\.))(?=\s)", "lower"),
)

_MARKER_START = set("第一二三四五六七八九十百（(0123456789０１２３４５６７８９"
                    "PCSIVXLABDEFGHJKMNOQRTUWYZabcdefghijklmnopqrstuvwxyz") | {
                        chr(c) for c in range(0x2460, 0x249C)}
#: "一、二年级…", "3、4月份…": a list of numbers joined by 、, not a marker.
_NUMBER_LIST = {"dec": re.compile(r"\d{1,2}(?:年级|月|日|号|个|条|项|点|层|楼|班)"),
                "cn": re.compile(r"[一二三四五六七八九十]{1,2}"
                                 r"(?:年级|月|日|号|个|条|项|点|层|楼|班)")}


def _glyph_value(glyph: str) -> int:
    code = ord(glyph)
    for base in (0x2460, 0x2474, 0x2488):
        if base <= code < base + 20:
            return code - base + 1
    return 0


def _marker_from_match(style: _Style, match: re.Match[str], text: str) -> Marker | None:
    groups = match.groupdict()
    label = match.group(0).rstrip()
    rest = text[match.end():].strip()
    if groups.get("g"):
        value, number, template = _glyph_value(groups["g"]), groups["g"], "{}"
    else:
        raw = groups["n"]
        if style.numerals == "roman" or (style.family == "part-en" and not raw.isdigit()):
            value = roman_to_int(raw) or 0
        elif style.numerals in ("upper", "lower"):
            value = ord(raw.lower()) - ord("a") + 1
        else:
            value = cn_to_int(raw) or 0
        opening, closing, unit = groups.get("o") or "", groups.get("c") or "", groups.get("u")
        prefix = groups.get("pre") or ""
        if style.family in ("part", "chapter-section", "article"):
            template = "第{}" + unit
        elif style.family == "part-en":
            template = groups["u"] + " {}"
        elif style.family == "run-in":
            template = "{}是"
        elif style.family == "ordinal":
            template = "第{}"
        else:
            template = prefix + opening + "{}" + closing
        number = template.format(raw)
    if value <= 0 or value > 99:
        return None
    if (style.family in _NUMBER_LIST and groups.get("p") == "、"
            and _NUMBER_LIST[style.family].match(text, match.end())):
        return None
    if style.family in ("roman", "upper", "lower") and not rest:
        return None
    punct = (groups.get("o") or "") + (groups.get("c") or "") + (groups.get("p") or "")
    family = style.family
    if family == "dotted":  # one family per depth: 1.1 / 1.1.1
        prefix = groups.get("pre") or ""
        family = f"dotted{prefix.count('.') + prefix.count('．')}"
    return Marker(family=family, rank=style.rank, value=value, label=label, number=number,
                  punct=punct, template=template, numerals=style.numerals, rest=rest)


def detect_marker(text: str) -> Marker | None:
    """The list marker at the start of ``text`` (already stripped), if any."""
    if not text or text[0] not in _MARKER_START:
        return None
    for style in _STYLES:
        match = style.regex.match(text)
        if match:
            return _marker_from_match(style, match, text)
    return None


def _inferred_marker(model: Marker, value: int, text: str) -> Marker:
    """A marker for a paragraph whose number (``value``) was lost, in ``model``'s style."""
    return Marker(family=model.family, rank=model.rank, value=value, label="",
                  number=model.sibling_number(value), punct=model.punct,
                  template=model.template, numerals=model.numerals, rest=text, inferred=True)


# --------------------------------------------------------------------------- lines and noise

_BOOKMARK = re.compile(r"\[bookmark:[^\]\n]{0,300}\]")
_FURNITURE = re.compile(
    r"(?:标题|索引号|文号|发文字号|发文日期|发布日期|发布时间|发布机构|发文机关|成文日期|主题分类|"
    r"信息来源|来源|作者|责任编辑|编辑|审核|浏览次数|点击数|阅读次数|访问量|字号|分享到|上一篇|"
    r"下一篇|附件下载)\s*[:：]"
    r"|[•·▪●◆■]\s*(?:字号|打印|关闭|分享|收藏|\||大|中|小|$)"
    r"|(?:发布|发表于|更新于|更新时间)\s*[:：]?\s*(?:19|20)\d{2}[-/.年]"
    r"|【?(?:打印本页|关闭窗口|返回顶部|打印|关闭|字体[:：]?\s*大\s*中\s*小|大\s*中\s*小)】?\s*$"
    r"|第\s*\d+\s*页(?:\s*[/，,]?\s*共\s*\d+\s*页)?\s*$"
    r"|[-—–]\s*\d{1,3}\s*[-—–]\s*$"
    r"|Page\s+\d+(?:\s+of\s+\d+)?\s*$"
)
_TITLE_FIELD = re.compile(r"(标题\s*[:：])\s*(.*)")


@dataclass
class _Line:
    no: int  # 1-based
    text: str  # bookmarks removed, stripped
    role: str = "blank"  # blank | noise | content (later: title, trailer)
    marker: Marker | None = None


def _split_lines(text: str, noise: list[str]) -> list[_Line]:
    """Lines with bookmarks removed (into ``noise``) and furniture classified as noise."""
    lines: list[_Line] = []
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for number, raw in enumerate(raw_lines, start=1):
        if "[bookmark:" in raw:
            noise.extend(_BOOKMARK.findall(raw))
            raw = _BOOKMARK.sub("", raw)
        stripped = raw.strip()
        line = _Line(no=number, text=stripped)
        if not stripped:
            if raw and raw.strip(" \t"):  # a line of only NBSP / U+3000 …
                noise.append(raw)
        elif len(stripped) <= 160 and _FURNITURE.match(stripped):
            line.role = "noise"
        else:
            line.role = "content"
        lines.append(line)
    return lines


# --------------------------------------------------------------------------- title

_TITLE_KEYWORD = re.compile(r"计划|要点|总结|方案|安排|规划|报告|情况|意见|纲要|细则|思路|打算|"
                            r"plan|summary|report|agenda", re.IGNORECASE)
#: A line that names a whole document (a pasted second document), not a sub-heading such
#: as "三月份工作安排": a year or school year and a document kind.
_DOCUMENT_TITLE = re.compile(r"(?:\d{4}|学年|学期|年度).*(?:计划|要点|总结|方案|规划|报告|情况)")
_SENTENCE_PUNCT = re.compile(r"[。；;！？!?]|[，,：:]$")
_ANY_PUNCT = re.compile(r"[，。；：,;:！？!?、]")
_SUBTITLE = re.compile(r"[（(][^（()）]{1,30}[）)]")


def _norm(text: str) -> str:
    return "".join(text.split())


def _title_like(line: _Line) -> bool:
    text = line.text
    return (line.role == "content" and line.marker is None and 4 <= len(text) <= 60
            and not _SENTENCE_PUNCT.search(text) and bool(_TITLE_KEYWORD.search(text)))


def _title_field(lines: list[_Line], before: int) -> tuple[int, re.Match[str]] | None:
    """The page-furniture line ``标题: …`` (index, match) above the first item, if any."""
    for i, line in enumerate(lines[:before]):
        match = _TITLE_FIELD.match(line.text) if line.role == "noise" else None
        if match and match.group(2).strip():
            return i, match
    return None


def _find_title(lines: list[_Line], noise: list[str]) -> str | None:
    """Mark the title line(s) and return the title (see module docstring)."""
    content = [i for i, line in enumerate(lines) if line.role == "content"]
    first_item = next((i for i in content if lines[i].marker), len(lines))
    candidates = [i for i in content[:12] if i < first_item]
    field = _title_field(lines, first_item)
    if field is not None:
        field_index, match = field
        value = match.group(2).strip()
        index = next((i for i in candidates if _norm(lines[i].text) == _norm(value)), None)
        if index is not None:
            return _join_title_lines(lines, index)
        lines[field_index].role = "title"  # the 标题: line is the only copy of the title
        noise.append(match.group(1))
        return value
    index = next((i for i in candidates if _title_like(lines[i])), None)
    return None if index is None else _join_title_lines(lines, index)


def _join_title_lines(lines: list[_Line], index: int) -> str:
    """The title at ``index`` joined with a split first half above / subtitle below."""
    lines[index].role = "title"
    title = lines[index].text
    above = lines[index - 1] if index > 0 else None
    if (above is not None and above.role == "content" and above.marker is None
            and len(above.text) <= 30 and not _ANY_PUNCT.search(above.text)
            and all(line.role != "content" for line in lines[:index - 1])):
        above.role = "title"
        title = above.text + title
    below = lines[index + 1] if index + 1 < len(lines) else None
    if below is not None and below.role == "content" and _SUBTITLE.fullmatch(below.text):
        below.role = "title"
        title += below.text
    return title


# --------------------------------------------------------------------------- trailer

_CLOSING = re.compile(r"(?:总之|综上所述|综上|总而言之|总的来说|最后[，,]|让我们|同志们|老师们|"
                      r"各位老师|亲爱的|In conclusion|To conclude|In summary|To sum up)")
_SIGNATURE = re.compile(
    r"[\u4e00-\u9fff（）()]{2,30}(?:学校|小学|中学|幼儿园|学院|大学|教育局|局|委员会|党支部|"
    r"工会|办公室|中心|政府)"
    r"|(?:(?:19|20)\d{2}|二[〇零○][〇零○一二三四五六七八九]{2})\s*年\s*[\d一二三四五六七八九十]{1,2}\s*月"
    r"(?:\s*[\d一二三四五六七八九十]{1,3}\s*日)?")


def _find_trailer_start(lines: list[_Line], title: str | None) -> int:
    """Index of the first trailer line (``len(lines)`` when there is no trailer)."""
    content = [i for i, line in enumerate(lines) if line.role == "content"]
    marked = [i for i in content if lines[i].marker]
    end = len(lines)
    if marked:
        top_family = min((lines[i].marker for i in marked),  # type: ignore[union-attr]
                         key=lambda m: m.rank).family  # type: ignore[union-attr]
        after = [i for i in content if i > marked[0]]
        for position, i in enumerate(after):
            nxt = lines[after[position + 1]].marker if position + 1 < len(after) else None
            repeats_title = title is not None and _norm(lines[i].text) == _norm(title)
            restarts = (_title_like(lines[i]) and _DOCUMENT_TITLE.search(lines[i].text) is not None
                        and nxt is not None and nxt.family == top_family and nxt.value == 1)
            if repeats_title or restarts:
                end = i
                break
    last_marked = max((i for i in marked if i < end), default=-1)
    if marked:
        for i in content:
            if last_marked < i < end and _CLOSING.match(lines[i].text):
                end = i
                break
    for i in reversed([i for i in content if last_marked < i < end]):
        if len(lines[i].text) <= 40 and _SIGNATURE.fullmatch(lines[i].text):
            end = i
        else:
            break
    return end


# --------------------------------------------------------------------------- lost numbers


def _infer_lost_numbers(lines: list[_Line], body: list[int], warnings: list[str]) -> None:
    """Restore first items lost with Word auto-numbering (see module docstring)."""
    first_seen: dict[str, int] = {}
    for i in body:
        marker = lines[i].marker
        if marker and marker.family not in first_seen:
            first_seen[marker.family] = i
    for family, index in sorted(first_seen.items(), key=lambda item: item[1]):
        model = lines[index].marker
        assert model is not None
        if model.value != 2 or family in ("run-in", "ordinal"):
            continue
        position = body.index(index)
        earliest, start = None, 0
        for j in range(position - 1, -1, -1):
            marker = lines[body[j]].marker
            if marker and marker.rank <= model.rank:
                start = j + 1
                break
            if marker:
                earliest = j
        anchor = earliest if earliest is not None else position
        if anchor - 1 < start:
            continue
        candidate = lines[body[anchor - 1]]
        if (candidate.marker or candidate.text.endswith(("：", ":"))
                or _CLOSING.match(candidate.text)):
            continue
        candidate.marker = _inferred_marker(model, 1, candidate.text)
        warnings.append(ParseWarning(
            "inferred", f"line {candidate.no}: number {candidate.marker.number} inferred "
            f"(lost automatic numbering before {model.label})",
            line=candidate.no, number=candidate.marker.number, label=model.label))


# --------------------------------------------------------------------------- tree building


@dataclass
class _Frame:
    family: str
    rank: float
    last: int
    punct: str
    node: Node


class _TreeBuilder:
    """Places items by sequence continuity (see module docstring)."""

    def __init__(self, warnings: list[str]) -> None:
        self.roots: list[Node] = []
        self.stack: list[_Frame] = []
        self.last_value: dict[str, int] = {}
        self.warnings = warnings

    def add_paragraph(self, line: _Line) -> bool:
        """Attach an un-numbered paragraph to the open item; False before the first item."""
        if not self.stack:
            return False
        node = self.stack[-1].node
        if len(node.paragraphs) == 1 and not node.paragraphs[0][1]:
            node.paragraphs[0] = (node.paragraphs[0][0], line.text)  # "一、" alone on its line
        else:
            node.paragraphs.append((line.no, line.text))
        return True

    def add_item(self, line: _Line, marker: Marker) -> None:
        depth, inherit = self._place(marker, line.no)
        del self.stack[depth:]
        node = Node(label=marker.label, number=marker.number, level=depth + 1, line=line.no,
                    inferred=marker.inferred, paragraphs=[(line.no, marker.rest)])
        siblings = self.stack[-1].node.children if self.stack else self.roots
        siblings.append(node)
        source = inherit or _Frame(marker.family, marker.rank, 0, marker.punct, node)
        self.stack.append(_Frame(source.family, source.rank, marker.value, marker.punct, node))
        self.last_value[marker.family] = marker.value

    def _continuing_ancestor(self, marker: Marker, below: int) -> int | None:
        for depth in range(below - 1, -1, -1):
            frame = self.stack[depth]
            if frame.family != marker.family and frame.last + 1 == marker.value:
                return depth
        return None

    def _place(self, marker: Marker, line_no: int) -> tuple[int, _Frame | None]:
        """(depth for the new item, frame whose family it continues if it is a glitch)."""
        stack = self.stack
        own = next((d for d, frame in enumerate(stack) if frame.family == marker.family), None)
        if own is not None:
            frame = stack[own]
            if marker.value == frame.last + 1 or marker.value == 1:
                if marker.value == 1 and frame.last >= 1:
                    self.warnings.append(ParseWarning(
                        "restart", f"line {line_no}: numbering restarts at {marker.label}",
                        line=line_no, label=marker.label))
                return own, None
            if marker.punct[-1:] != frame.punct[-1:]:
                ancestor = self._continuing_ancestor(marker, own)
                if ancestor is not None:
                    return self._glitch(ancestor, marker, line_no)
            self.warnings.append(ParseWarning(
                "sequence", f"line {line_no}: {marker.label} is out of sequence "
                f"(expected {frame.last + 1})",
                line=line_no, label=marker.label, expected=frame.last + 1))
            return own, None
        continues = marker.value in (1, 2, self.last_value.get(marker.family, 0) + 1)
        if not continues:
            ancestor = self._continuing_ancestor(marker, len(stack))
            if ancestor is not None:
                return self._glitch(ancestor, marker, line_no)
        if marker.value != 1 and stack and marker.rank < stack[-1].rank:
            depth = next(d for d, frame in enumerate(stack) if frame.rank > marker.rank)
            return depth, None
        return len(stack), None

    def _glitch(self, depth: int, marker: Marker, line_no: int) -> tuple[int, _Frame]:
        self.warnings.append(ParseWarning(
            "continues", f"line {line_no}: {marker.label} taken as the next item of level "
            f"{depth + 1} (its number continues that level)",
            line=line_no, label=marker.label, level=depth + 1))
        return depth, self.stack[depth]


# --------------------------------------------------------------------------- post-processing

_FRAMING = re.compile(
    r"(?:学校|本学期|本学年|本年度|年度|\d{4}年|\s)*(?:指导思想|指导方针|总体思路|工作思路|基本思路|总体目标|工作目标|主要目标|发展目标|"
    r"奋斗目标|目标任务|目标(?:和|与|及)任务|工作主题|存在的?(?:主要)?问题|主要问题|问题(?:与|和|及)不足|"
    r"不足之处|主要不足|基本情况|现状分析|形势分析|工作背景|总体要求|基本原则|工作原则|指导原则|"
    r"guiding|objectives?|goals?|background|problems|principles)", re.IGNORECASE)
_NOT_FRAMING = re.compile(r"措施|举措|重点工作|主要工作|具体工作|工作安排|行动|"
                          r"measures|actions|tasks", re.IGNORECASE)
_HEADING_END = re.compile(r"[。！？]|[.!?](?=\s|$)")
_HEADING_TRIM = "：:，,；;"
_RUN_IN = re.compile(r"([一二三四五六七八九十]{1,2})是")
_RUN_IN_BOUNDARY = set("。；;，,：:！？!?、“”\"'‘’（）()【】")


def heading_of(first_line: str) -> str:
    """Text up to the first 。！？ (or end of line), trailing ：:，,；; and blanks trimmed."""
    match = _HEADING_END.search(first_line)
    heading = first_line[:match.start()] if match else first_line
    return heading.rstrip().rstrip(_HEADING_TRIM + " \t").strip()


def _is_framing(heading: str) -> bool:
    """A framing heading starts with a framing term and says little more."""
    match = _FRAMING.match(heading)
    return (match is not None and len(heading) - match.end() <= 12
            and not _NOT_FRAMING.search(heading))


def _mark_framing(nodes: list[Node], inherited: bool = False) -> None:
    for node in nodes:
        node.framing = inherited or _is_framing(heading_of(node.paragraphs[0][1]))
        _mark_framing(node.children, node.framing)


def _move_section_closings(roots: list[Node]) -> None:
    """In documents of one-paragraph items, a paragraph after a list's last item that
    already has body text sums up the section: it goes to the parent (000 line 33)."""
    def walk(nodes: list[Node]) -> Iterator[tuple[Node | None, list[Node]]]:
        yield None, nodes
        for node in iter_nodes(nodes):
            if node.children:
                yield node, node.children

    groups = list(walk(roots))
    for _, siblings in groups:
        for node in siblings[:-1]:
            if not node.children and len(node.paragraphs) > 1:
                return  # items here do have body paragraphs: nothing to move
    for parent, siblings in groups:
        last = siblings[-1] if siblings else None
        if (parent is None or last is None or last.children or len(last.paragraphs) < 2
                or last.framing):
            continue
        own = last.paragraphs[0][1]
        cut = _HEADING_END.search(own)
        if cut and own[cut.end():].strip():
            parent.paragraphs.extend(last.paragraphs[1:])
            del last.paragraphs[1:]


def _split_paragraph_items(nodes: list[Node]) -> None:
    """A childless heading beside headings with items, holding several paragraphs, gets one
    ¶ measure per paragraph (004 四)."""
    has_items = any(node.children for node in nodes)
    for node in nodes:
        if node.children:
            _split_paragraph_items(node.children)
        elif has_items and not node.framing and len(node.paragraphs) >= 3:
            node.children = [
                Node(label="", number=f"¶{index}", line=line, inferred=True,
                     paragraphs=[(line, text)])
                for index, (line, text) in enumerate(node.paragraphs[1:], start=1)]
            del node.paragraphs[1:]


def _find_run_ins(text: str) -> list[re.Match[str]]:
    found: list[re.Match[str]] = []
    for match in _RUN_IN.finditer(text):
        if cn_to_int(match.group(1)) != len(found) + 1:
            continue
        before = text[match.start() - 1] if match.start() else "\n"
        if before.isspace() or before in _RUN_IN_BOUNDARY:
            found.append(match)
    return found if len(found) >= 2 else []


def _slice_paragraphs(paragraphs: list[tuple[int, str]], offsets: list[int], start: int,
                      end: int) -> list[tuple[int, str]]:
    """The parts of ``paragraphs`` (joined with newlines; ``offsets`` are their start
    offsets in the joined text) between offsets ``start`` and ``end``."""
    pieces = []
    for index in range(max(0, bisect_right(offsets, start) - 1), len(paragraphs)):
        offset = offsets[index]
        if offset >= end:
            break
        line, text = paragraphs[index]
        lo, hi = max(start, offset), min(end, offset + len(text))
        if lo < hi and text[lo - offset:hi - offset].strip():
            pieces.append((line, text[lo - offset:hi - offset].strip()))
    return pieces


def _split_run_ins(node: Node) -> None:
    """Split 一是…二是… inside a leaf item into leaves; the item keeps its lead-in."""
    if node.children:
        for child in node.children:
            _split_run_ins(child)
        return
    if node.framing or node.number.startswith("¶"):
        return
    joined = "\n".join(text for _, text in node.paragraphs)
    matches = _find_run_ins(joined)
    if not matches:
        return
    offsets, position = [], 0
    for _, text in node.paragraphs:
        offsets.append(position)
        position += len(text) + 1
    bounds = [m.start() for m in matches[1:]] + [len(joined)]
    for match, end in zip(matches, bounds):
        pieces = _slice_paragraphs(node.paragraphs, offsets, match.end(), end)
        line = pieces[0][0] if pieces else node.paragraphs[-1][0]
        node.children.append(Node(label=match.group(0), number=match.group(0), line=line,
                                  paragraphs=pieces or [(line, "")]))
    node.paragraphs = _slice_paragraphs(node.paragraphs, offsets, 0, matches[0].start()) or [
        (node.line, "")]


def _finish(nodes: list[Node], level: int, lead: str, hint_args: tuple) -> None:
    """Fill level, heading, text, kind and hints (measures only) recursively."""
    for node in nodes:
        node.level = level
        node.text = "\n".join(text for _, text in node.paragraphs if text)
        node.heading = heading_of(node.paragraphs[0][1]) if node.paragraphs else ""
        node.kind = "section" if node.children or node.framing else "measure"
        child_lead = node.text if node.children and node.children[0].label.endswith("是") else ""
        _finish(node.children, level + 1, child_lead, hint_args)
        if node.kind == "measure":
            source = f"{lead}\n{node.text}" if lead else node.text
            node.hints = extract_hints(source, *hint_args)


# --------------------------------------------------------------------------- entry point


def _disambiguate_letters(lines: list[_Line]) -> None:
    """``I.``/``V.``/``X.`` are letters when they continue an A. B. C. list."""
    last: dict[str, int] = {}
    for line in lines:
        marker = line.marker
        if marker is None:
            continue
        if marker.family == "roman" and len(marker.number) == 1:
            letter = ord(marker.number) - ord("A") + 1
            if last.get("upper") == letter - 1 and last.get("roman") != marker.value - 1:
                line.marker = Marker("upper", 2, letter, marker.label, marker.number,
                                     marker.punct, "{}", "upper", marker.rest)
        last[line.marker.family] = line.marker.value  # type: ignore[union-attr]


def parse_plan(text: str, calendar: TermCalendar | None = None,
               departments: Sequence[str] | None = None) -> ParsedPlan:
    """Parse a plan's text into a :class:`ParsedPlan` (never raises on any text)."""
    noise: list[str] = []
    warnings: list[str] = []
    lines = _split_lines(text, noise)
    for line in lines:
        if line.role == "content":
            line.marker = detect_marker(line.text)
    _disambiguate_letters(lines)
    title = _find_title(lines, noise)
    trailer_start = _find_trailer_start(lines, title)
    for line in lines[trailer_start:]:
        if line.role == "content":
            line.role = "trailer"
    noise.extend(line.text for line in lines if line.role == "noise")
    first_content = next((i for i, line in enumerate(lines) if line.role == "title"), -1)
    pre_title = [line.text for line in lines[:max(first_content, 0)] if line.role == "content"]
    body = [i for i, line in enumerate(lines) if line.role == "content" and i > first_content]
    nodes, preamble = _build_tree(lines, body, warnings)
    if body and not any(lines[i].marker for i in body):
        warnings.append(FLAT_WARNING)
    _finish(nodes, 1, "", (departments, calendar))
    return ParsedPlan(
        title=title,
        preamble="\n".join(pre_title + preamble),
        trailer="\n".join(line.text for line in lines if line.role == "trailer"),
        noise=noise,
        nodes=nodes,
        warnings=warnings,
    )


def _build_tree(lines: list[_Line], body: list[int],
                warnings: list[str]) -> tuple[list[Node], list[str]]:
    """The node tree of the body lines, and the preamble paragraphs before the first item."""
    if not any(lines[i].marker for i in body):
        nodes = [Node(label="", number=f"¶{n}", line=lines[i].no, inferred=True,
                      paragraphs=[(lines[i].no, lines[i].text)])
                 for n, i in enumerate(body, start=1)]
        return nodes, []
    _infer_lost_numbers(lines, body, warnings)
    builder = _TreeBuilder(warnings)
    preamble: list[str] = []
    for i in body:
        line = lines[i]
        if line.marker is not None:
            builder.add_item(line, line.marker)
        elif not builder.add_paragraph(line):
            preamble.append(line.text)
    nodes = builder.roots
    _mark_framing(nodes)
    _move_section_closings(nodes)
    _split_paragraph_items(nodes)
    for node in nodes:
        _split_run_ins(node)
    return nodes, preamble


def count_chars(text: str) -> Counter[str]:
    """Multiset of the non-whitespace characters of ``text`` (the no-loss invariant)."""
    return Counter(char for char in text if not char.isspace())
