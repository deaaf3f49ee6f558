"""Chart images for the report (PNG bytes), drawn offline with matplotlib.

Why matplotlib and not Kaleido: it draws in this process (no browser to start or keep
warm, no network), takes about 0.1 s per chart, and reads the Noto CJK font straight
from ``fonts-noto-cjk``. The dashboards keep Plotly for the interactive charts; the
report only needs still images. Without a CJK font the labels would be boxes, so
``ensure_font`` fails loudly instead.
"""
from __future__ import annotations

import io
import threading
from pathlib import Path

from tracker.reports.document import ChartSpec

FONT_FILES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
]
FONT_FAMILY = "Noto Sans CJK SC"
COLOURS = {"bar": "#2e7d32", "bar_low": "#f9a825", "bar_bad": "#c62828",
           "lines": ["#2e7d32", "#6f42c1", "#9e9e9e"], "today": "#c62828"}
DPI = 120
_lock = threading.Lock()   # matplotlib's font cache is not thread-safe
_ready = False


class ChartError(RuntimeError):
    pass


def ensure_font() -> None:
    global _ready
    if _ready:
        return
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    for path in FONT_FILES:
        if Path(path).exists():
            font_manager.fontManager.addfont(path)
            _ready = True
            return
    if any(f.name == FONT_FAMILY for f in font_manager.fontManager.ttflist):
        _ready = True
        return
    raise ChartError("No CJK font for the report's charts: install fonts-noto-cjk")


def _short(label: str, limit: int = 18) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def render(spec: ChartSpec) -> bytes:
    with _lock:
        ensure_font()
        from matplotlib import rc_context
        from matplotlib.figure import Figure

        with rc_context({"font.family": [FONT_FAMILY, "DejaVu Sans"], "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False}):
            figure = _bars(spec, Figure) if spec.kind == "bars" else _burnup(spec, Figure)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _bars(spec: ChartSpec, Figure):
    n = len(spec.labels)
    height = max(1.6, 0.38 * n + 0.9)
    figure = Figure(figsize=(6.4, height))
    ax = figure.subplots()
    labels = [_short(label) for label in spec.labels][::-1]
    values = [v * 100 for v in spec.values][::-1]
    colours = [COLOURS["bar"] if v >= 80 else COLOURS["bar_low"] if v >= 50
               else COLOURS["bar_bad"] for v in values]
    bars = ax.barh(range(n), values, color=colours, height=0.6)
    ax.set_yticks(range(n), labels)
    ax.set_xlim(0, 112)
    ax.set_xlabel(f"{spec.axis_label} (%)")
    ax.set_title(spec.title, loc="left", fontsize=10)
    counts = spec.counts[::-1] if spec.counts else [""] * n
    for bar, value, count in zip(bars, values, counts, strict=False):
        text = f"{value:.0f}%" + (f"  {count}" if count else "")
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, text, va="center",
                fontsize=8)
    # Fixed margins instead of tight_layout (which draws the figure one extra time).
    widest = max((sum(2 if ord(ch) > 0x2e80 else 1 for ch in label) for label in labels),
                 default=4)
    figure.subplots_adjust(left=min(0.5, 0.04 + widest * 0.0125), right=0.97,
                           top=1 - 0.35 / height, bottom=0.55 / height)
    return figure


def _burnup(spec: ChartSpec, Figure):
    figure = Figure(figsize=(6.4, 2.8))
    ax = figure.subplots()
    for (label, values), colour in zip(spec.lines.items(), COLOURS["lines"], strict=False):
        style = "--" if colour == COLOURS["lines"][-1] else "-"
        ax.plot(spec.days[: len(values)], values, style, color=colour, label=label,
                linewidth=1.6 if style == "-" else 1)
    if spec.today is not None:
        ax.axvline(spec.today, color=COLOURS["today"], linewidth=0.8, linestyle=":")
    ax.set_ylabel(spec.axis_label)
    ax.set_title(spec.title, loc="left", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    from matplotlib.dates import DateFormatter

    ax.xaxis.set_major_formatter(DateFormatter("%m-%d"))
    figure.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.12)
    return figure


def render_all(specs: list[ChartSpec]) -> dict[str, bytes]:
    return {spec.key: render(spec) for spec in specs}
