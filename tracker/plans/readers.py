"""Reading uploaded plan files: bytes + filename → text (or task-table rows). Pure.

* ``.txt`` / ``.md`` — UTF-8, UTF-8 with BOM, UTF-16 with BOM and GB18030/GBK are detected
  automatically (charset-normalizer as a last resort). Markdown heading marks are removed.
* ``.docx`` — python-docx, in body order including tables. Word automatic list numbering
  (the visible "一、" lives in numbering.xml, not in the text) is rebuilt from the
  abstract numbering's ``lvlText``/``numFmt``/``start`` and running counters, and
  prefixed to the paragraph. A table with a task-table header becomes numbered lines
  (task, owner, deadline); other tables give one line per row, cells joined by " | ".
* ``.xlsx`` — openpyxl; the header row is found by its column names (任务/工作内容…,
  牵头单位/责任部门…, 完成时限/时间节点…), each following row is a measure
  (:func:`rows_to_plan` turns rows into a :class:`ParsedPlan`).

Every failure raises :class:`PlanReadError` with a specific, plain-English message.
"""
from __future__ import annotations

import codecs
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath

from tracker.plans.hints import (
    Hints,
    OwnerHint,
    TargetHint,
    TermCalendar,
    TimeHint,
    extract_hints,
    find_times,
)
from tracker.plans.parsing import (
    Node,
    ParsedPlan,
    ParseWarning,
    int_to_cn,
    int_to_roman,
    parse_plan,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "PlanReadError",
    "ReadResult",
    "TaskRow",
    "decode_text",
    "load_plan",
    "read_docx",
    "read_upload",
    "read_xlsx",
    "rows_to_plan",
]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
TEXT_EXTENSIONS = (".txt", ".md")
SUPPORTED = (".txt", ".md", ".docx", ".xlsx")
_OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")
_MAGIC = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
          b"%PDF": "a PDF document", b"BM": "a BMP image", b"Rar!": "a RAR archive",
          b"7z\xbc\xaf": "a 7-Zip archive"}


def N_(message: str) -> str:
    """Marks a message for translation; the app translates it and fills in ``params``."""
    return message


class PlanReadError(ValueError):
    """A file that cannot be read as a plan; ``message`` (a msgid) and ``params`` say why."""

    def __init__(self, message: str, **params) -> None:
        super().__init__(message % params if params else message)
        self.message, self.params = message, params


@dataclass
class TaskRow:
    """One data row of a task table."""

    row: int  # 1-based row in the sheet
    task: str
    number: str = ""
    category: str = ""
    owners: list[str] = field(default_factory=list)
    deadline: str = ""
    due: date | None = None  # when the deadline cell holds a real date
    target: str = ""


@dataclass
class ReadResult:
    kind: str  # "text" | "docx" | "xlsx"
    text: str | None = None
    rows: list[TaskRow] | None = None
    title: str | None = None  # xlsx: a title row above the header, if any


# --------------------------------------------------------------------------- entry points


def read_upload(data: bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ReadResult:
    """Read an uploaded file; raise :class:`PlanReadError` on any problem."""
    extension = PurePath(filename or "").suffix.lower()
    if extension not in SUPPORTED:
        if extension in (".doc", ".xls"):
            raise PlanReadError(N_("%(ext)s files are the old Office format: save the file again "
                                   "as %(ext)sx and upload that."), ext=extension)
        raise PlanReadError(N_("Unsupported file type %(ext)s: use .txt, .md, .docx or .xlsx."),
                            ext=extension or "(none)")
    if len(data) > max_bytes:
        raise PlanReadError(N_("The file is too large (%(size)s bytes); the limit is "
                               "%(limit)s bytes."), size=f"{len(data):,}", limit=f"{max_bytes:,}")
    if not data or (extension in TEXT_EXTENSIONS and not data.strip()):
        raise PlanReadError(N_("The file is empty."))
    if extension in TEXT_EXTENSIONS:
        text = decode_text(data)
        if extension == ".md":
            text = _strip_markdown(text)
        if not text.strip():
            raise PlanReadError(N_("The file is empty."))
        return ReadResult(kind="text", text=text)
    _check_office_container(data, extension)
    if extension == ".docx":
        text = read_docx(data)
        if not text.strip():
            raise PlanReadError(N_("The .docx document contains no text."))
        return ReadResult(kind="docx", text=text)
    title, rows = read_xlsx(data)
    return ReadResult(kind="xlsx", rows=rows, title=title)


def load_plan(data: bytes, filename: str, *, calendar: TermCalendar | None = None,
              departments: Sequence[str] | None = None,
              max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedPlan:
    """Read and parse any supported file into a :class:`ParsedPlan`."""
    result = read_upload(data, filename, max_bytes=max_bytes)
    if result.rows is not None:
        return rows_to_plan(result.rows, title=result.title, calendar=calendar,
                            departments=departments)
    return parse_plan(result.text or "", calendar=calendar, departments=departments)


# --------------------------------------------------------------------------- text


def decode_text(data: bytes) -> str:
    """Decode text bytes: BOMs, UTF-8, GB18030 (a superset of GBK), then detection."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding)
            except UnicodeDecodeError as error:
                raise PlanReadError(N_("The file starts with a %(encoding)s byte-order mark but "
                                       "is not valid %(encoding)s text."),
                                    encoding=encoding.upper()) from error
    if b"\x00" not in data:
        for encoding in ("utf-8", "gb18030"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
    kind = _sniff(data)
    if kind:
        raise PlanReadError(N_("The file is not text: it looks like %(kind)s."), kind=kind)
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise PlanReadError(N_("The text encoding could not be detected (is this a binary "
                               "file?)."))
    text = str(best)
    if "\x00" in text:
        raise PlanReadError(N_("The file is not text: it contains binary data."))
    return text


def _strip_markdown(text: str) -> str:
    return re.sub(r"(?m)^[ \t]{0,3}#{1,6}[ \t]*", "", text)


def _sniff(data: bytes) -> str | None:
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    return None


def _check_office_container(data: bytes, extension: str) -> None:
    if data.startswith(_OLE2):
        raise PlanReadError(N_("The %(ext)s file is password-protected (encrypted), or is an "
                               "old Office 97–2003 file renamed: remove the password or save it "
                               "again as %(ext)s."), ext=extension)
    if not data.startswith(b"PK"):
        kind = _sniff(data)
        if kind:
            raise PlanReadError(N_("The file is not a valid %(ext)s document: it looks like "
                                   "%(kind)s."), ext=extension, kind=kind)
        raise PlanReadError(N_("The file is not a valid %(ext)s document: it is not an Office "
                               "Open XML (zip) package."), ext=extension)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile as error:
        raise PlanReadError(N_("The %(ext)s file is damaged (its zip structure cannot be "
                               "read)."), ext=extension) from error
    needed = "word/document.xml" if extension == ".docx" else "xl/workbook.xml"
    if needed not in names:
        raise PlanReadError(N_("The file is a zip archive but not a %(ext)s document "
                               "(%(part)s is missing)."), ext=extension, part=needed)


# --------------------------------------------------------------------------- docx

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def read_docx(data: bytes) -> str:
    """The document's text in body order, with automatic numbering rebuilt."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise PlanReadError(N_("The .docx file could not be opened as a Word document.")) \
            from error
    numbering = _Numbering(document)
    lines: list[str] = []
    for element in _body_blocks(document.element.body):
        if element.tag == _W + "p":
            lines.append(numbering.label(element) + _paragraph_text(element))
        elif element.tag == _W + "tbl":
            lines.extend(_table_lines(element))
    return "\n".join(lines)


def _body_blocks(parent) -> Iterator:
    """Paragraphs and tables in order, looking inside content controls (w:sdt)."""
    for child in parent.iterchildren():
        if child.tag in (_W + "p", _W + "tbl"):
            yield child
        elif child.tag == _W + "sdt":
            content = child.find(_W + "sdtContent")
            if content is not None:
                yield from _body_blocks(content)


def _paragraph_text(element) -> str:
    parts: list[str] = []
    for node in element.iter(_W + "t", _W + "tab", _W + "br", _W + "cr"):
        if node.tag == _W + "t":
            parts.append(node.text or "")
        elif node.tag == _W + "tab":
            parts.append("\t")
        else:
            parts.append("\n")
    return "".join(parts)


def _cell_texts(row) -> list[str]:
    cells = []
    for cell in row.iter(_W + "tc"):
        text = " ".join(_paragraph_text(p).strip() for p in cell.iter(_W + "p")).strip()
        cells.append(text)
    return cells


def _table_lines(table) -> list[str]:
    rows = [_cell_texts(row) for row in table.iter(_W + "tr")]
    header_at, columns = _find_header(rows)
    if columns is None:
        return [" | ".join(cell for cell in row if cell) for row in rows if any(row)]
    lines = []
    for index, row in enumerate(_rows_from_table(rows[header_at + 1:], columns,
                                                 first_row=header_at + 2), start=1):
        extra = "".join(f"（{name}：{value}）" for name, value in (
            ("责任单位", "、".join(row.owners)), ("完成时限", row.deadline),
            ("目标", row.target)) if value)
        lines.append(f"{row.number or index}. {row.task}{extra}")
    return lines


class _Numbering:
    """Rebuilds Word automatic list labels (numbering.xml) paragraph by paragraph."""

    def __init__(self, document) -> None:
        self.levels: dict[str, dict[int, tuple[str, str, int, bool]]] = {}
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}
        self.counters: dict[str, list[int | None]] = {}
        self.seen: set[str] = set()
        self.styles = {style.get(_W + "styleId"): style
                       for style in document.styles.element.iter(_W + "style")}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        for abstract in root.iter(_W + "abstractNum"):
            levels = {}
            for lvl in abstract.iter(_W + "lvl"):
                levels[int(lvl.get(_W + "ilvl", "0"))] = (
                    _val(lvl, "numFmt", "decimal"), _val(lvl, "lvlText", ""),
                    int(_val(lvl, "start", "1") or 1), lvl.find(_W + "isLgl") is not None)
            self.levels[abstract.get(_W + "abstractNumId")] = levels
        for num in root.iter(_W + "num"):
            overrides = {}
            for override in num.iter(_W + "lvlOverride"):
                start = override.find(_W + "startOverride")
                if start is not None:
                    overrides[int(override.get(_W + "ilvl", "0"))] = int(start.get(_W + "val"))
            self.nums[num.get(_W + "numId")] = (_val(num, "abstractNumId", ""), overrides)

    def _num_pr(self, paragraph) -> tuple[str, int] | None:
        ppr = paragraph.find(_W + "pPr")
        num_pr = ppr.find(_W + "numPr") if ppr is not None else None
        style_id = _val(ppr, "pStyle", None) if ppr is not None else None
        for _ in range(10):  # follow the style chain for list styles
            if num_pr is not None or style_id is None:
                break
            style = self.styles.get(style_id)
            if style is None:
                break
            sppr = style.find(_W + "pPr")
            num_pr = sppr.find(_W + "numPr") if sppr is not None else None
            style_id = _val(style, "basedOn", None)
        if num_pr is None:
            return None
        num_id = _val(num_pr, "numId", None)
        if num_id is None or num_id == "0":
            return None
        return num_id, int(_val(num_pr, "ilvl", "0") or 0)

    def label(self, paragraph) -> str:
        found = self._num_pr(paragraph)
        if found is None or found[0] not in self.nums:
            return ""
        num_id, ilvl = found
        abstract_id, overrides = self.nums[num_id]
        levels = self.levels.get(abstract_id, {})
        if ilvl not in levels:
            return ""
        counters = self.counters.setdefault(abstract_id, [None] * 9)
        if num_id not in self.seen:
            self.seen.add(num_id)
            for level, start in overrides.items():
                if 0 <= level < 9:
                    counters[level] = start - 1
        fmt, text, start, _ = levels[ilvl]
        current = counters[ilvl]
        counters[ilvl] = start if current is None else current + 1
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = None
        if fmt in ("bullet", "none"):
            return ""
        legal = levels[ilvl][3]

        def substitute(match: re.Match[str]) -> str:
            level = int(match.group(1)) - 1
            value = counters[level] if 0 <= level < 9 else None
            if value is None:
                value = levels.get(level, ("decimal", "", 1, False))[2]
            level_fmt = "decimal" if legal else levels.get(level, (fmt,))[0]
            return format_number(value, level_fmt)

        return re.sub(r"%([1-9])", substitute, text)


def _val(element, tag: str, default):
    child = element.find(_W + tag) if element is not None else None
    return child.get(_W + "val", default) if child is not None else default


_CN_TRADITIONAL = "甲乙丙丁戊己庚辛壬癸"


def format_number(value: int, fmt: str) -> str:
    """One counter in a Word ``numFmt``."""
    if fmt in ("chineseCounting", "chineseCountingThousand", "japaneseCounting",
               "taiwaneseCounting", "chineseLegalSimplified"):
        return int_to_cn(value)
    if fmt == "ideographDigital":
        return "".join("〇一二三四五六七八九"[int(d)] for d in str(value))
    if fmt == "ideographTraditional" and 1 <= value <= 10:
        return _CN_TRADITIONAL[value - 1]
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= value <= 20:
        return chr(0x2460 + value - 1)
    if fmt == "decimalEnclosedParen" and 1 <= value <= 20:
        return chr(0x2474 + value - 1)
    if fmt == "decimalEnclosedFullstop" and 1 <= value <= 20:
        return chr(0x2488 + value - 1)
    if fmt == "decimalFullWidth":
        return "".join(chr(ord(d) + 0xFEE0) for d in str(value))
    if fmt == "decimalZero":
        return f"{value:02d}"
    if fmt in ("upperRoman", "lowerRoman"):
        roman = int_to_roman(value)
        return roman if fmt == "upperRoman" else roman.lower()
    if fmt in ("upperLetter", "lowerLetter") and value >= 1:
        letter = chr(ord("A") + (value - 1) % 26) * ((value - 1) // 26 + 1)
        return letter if fmt == "upperLetter" else letter.lower()
    return str(value)


# --------------------------------------------------------------------------- task tables

COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "task": ("任务", "工作任务", "具体措施", "工作措施", "主要措施", "工作内容", "具体内容",
             "主要任务", "重点任务", "任务内容", "工作事项", "事项", "措施", "内容", "工作要点",
             "目标任务", "task", "tasks", "measure", "action", "item"),
    "owner": ("牵头单位", "责任单位", "责任部门", "责任处室", "牵头部门", "负责部门", "责任人",
              "负责人", "牵头人", "owner", "responsible", "lead"),
    "helper": ("配合单位", "配合部门", "协办单位", "协助部门", "配合人"),
    "deadline": ("完成时限", "时间节点", "完成时间", "时限", "截止时间", "截止日期", "时间安排",
                 "完成期限", "推进时间", "时间", "deadline", "due", "duedate"),
    "number": ("序号", "编号", "序", "no", "no.", "#"),
    "category": ("类别", "项目", "板块", "领域", "方面", "一级指标", "工作类别", "分类", "category",
                 "area"),
    "target": ("目标", "预期目标", "完成标准", "标准", "预期成效", "target"),
}


def _column_kind(header: str) -> str | None:
    name = re.sub(r"\s+", "", header or "").lower()
    if not name:
        return None
    for kind, names in COLUMN_NAMES.items():
        if name in names:
            return kind
    best: tuple[int, str] | None = None
    for kind, names in COLUMN_NAMES.items():
        for candidate in names:
            longer = best is None or len(candidate) > best[0]
            if len(candidate) >= 2 and candidate in name and longer:
                best = (len(candidate), kind)
    return best[1] if best else None


def _find_header(rows: list[list[str]]) -> tuple[int, dict[str, list[int]] | None]:
    for index, row in enumerate(rows[:30]):
        columns: dict[str, list[int]] = {}
        for column, cell in enumerate(row):
            kind = _column_kind(cell)
            if kind:
                columns.setdefault(kind, []).append(column)
        if "task" in columns and ({"owner", "deadline", "helper", "number"} & columns.keys()):
            return index, columns
    return -1, None


def _split_names(text: str) -> list[str]:
    return [name for name in re.split(r"[、，,；;/\s]+", text) if name]


def _rows_from_table(rows: list[list[str]], columns: dict[str, list[int]],
                     first_row: int, dates: list[list[date | None]] | None = None
                     ) -> list[TaskRow]:
    def cell(row: list[str], kind: str) -> str:
        return " ".join(row[c] for c in columns.get(kind, []) if c < len(row) and row[c]).strip()

    out: list[TaskRow] = []
    category = ""
    for offset, row in enumerate(rows):
        if not any(row):
            continue
        category = cell(row, "category") or category
        task = cell(row, "task")
        if not task:
            continue
        owners = _split_names(cell(row, "owner")) + _split_names(cell(row, "helper"))
        due = None
        if dates is not None:
            due = next((dates[offset][c] for c in columns.get("deadline", [])
                        if c < len(dates[offset]) and dates[offset][c]), None)
        out.append(TaskRow(row=first_row + offset, task=task, number=cell(row, "number"),
                           category=category, owners=list(dict.fromkeys(owners)),
                           deadline=cell(row, "deadline"), due=due, target=cell(row, "target")))
    return out


def read_xlsx(data: bytes) -> tuple[str | None, list[TaskRow]]:
    """(title row if any, task rows) of the first sheet that has a task-table header."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for broken files
        raise PlanReadError(N_("The .xlsx file could not be opened as a workbook.")) from error
    try:
        for sheet in workbook.worksheets:
            values = [list(row) for row in sheet.iter_rows(values_only=True)]
            text_rows = [[_cell_text(value) for value in row] for row in values]
            header_at, columns = _find_header(text_rows)
            if columns is None:
                continue
            dates = [[_cell_date(value) for value in row] for row in values[header_at + 1:]]
            rows = _rows_from_table(text_rows[header_at + 1:], columns, header_at + 2, dates)
            title = next((cells[0] for cells in ([c for c in row if c]
                                                 for row in text_rows[:header_at])
                          if len(cells) == 1), None)
            return title, rows
    finally:
        workbook.close()
    looked_for = "; ".join(f"{kind}: {', '.join(names[:8])}" for kind, names in
                           COLUMN_NAMES.items() if kind in ("task", "owner", "deadline"))
    raise PlanReadError(N_("No task-table header row was found in the .xlsx file. A header "
                           "row needs a task column and an owner or deadline column; column "
                           "names looked for — %(names)s."), names=looked_for)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _cell_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def rows_to_plan(rows: list[TaskRow], *, title: str | None = None,
                 calendar: TermCalendar | None = None,
                 departments: Sequence[str] | None = None) -> ParsedPlan:
    """A :class:`ParsedPlan` with one measure per row, grouped by the category column."""
    plan = ParsedPlan(title=title)
    sections: dict[str, Node] = {}
    for index, row in enumerate(rows, start=1):
        node = Node(label=row.number, number=row.number or str(index), line=row.row,
                    text=row.task, heading=row.task.split("\n", 1)[0][:200],
                    hints=_row_hints(row, calendar, departments))
        if row.category:
            if row.category not in sections:
                section = Node(label="", number=int_to_cn(len(sections) + 1), kind="section",
                               heading=row.category, text=row.category, line=row.row,
                               inferred=True)
                sections[row.category] = section
                plan.nodes.append(section)
            node.level = 2
            sections[row.category].children.append(node)
        else:
            plan.nodes.append(node)
    if not rows:
        plan.warnings.append(ParseWarning("empty_table",
                                          "the task table has a header but no task rows"))
    return plan


def _row_hints(row: TaskRow, calendar: TermCalendar | None,
               departments: Sequence[str] | None) -> Hints:
    text_hints = extract_hints(row.task, departments, calendar)
    owners = [OwnerHint(name, row.owners and "、".join(row.owners) or name) for name in row.owners]
    owners += [hint for hint in text_hints.owners if hint.name not in row.owners]
    if row.due is not None:
        times = [TimeHint(row.deadline or row.due.isoformat(), "column", row.due)]
    elif row.deadline:
        found = find_times(row.deadline, calendar)
        dates = [hint.due for hint in found if hint.due is not None]
        recurrence = next((hint.recurrence for hint in found if hint.recurrence), None)
        times = [TimeHint(row.deadline, "column", max(dates) if dates else None, recurrence)]
    else:
        times = text_hints.times
    targets = [TargetHint(row.target)] if row.target else text_hints.targets
    return Hints(owners=owners, times=times, targets=targets)
