"""Parse-time benchmark: ``python bench/parse_bench.py``.

Builds plans of ~20,000 characters, 100 KB, 500 KB and 1 MB from the sample plans in
shared/plans (their bodies concatenated, top-level sections renumbered 一、二、… within
numbered parts 第一部分、第二部分 …, so the result is one well-formed plan), and prints the
median parse time of N runs for each size with the time per 100 KB, which stays flat when
parsing is linear. Targets: 20,000 characters < 50 ms, 1 MB < 2 s.
"""
from __future__ import annotations

import re
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.plans.hints import TermCalendar  # noqa: E402
from tracker.plans.parsing import int_to_cn, iter_measures, parse_plan  # noqa: E402

PLANS_DIR = ROOT.parent / "shared" / "plans"
TOP_LEVEL = re.compile(r"^([一二三四五六七八九十]{1,3})、")
SECTIONS_PER_PART = 20


def _bodies() -> list[list[str]]:
    """Each sample's lines from its first top-level heading to the end of its body."""
    bodies = []
    for path in sorted(PLANS_DIR.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        parsed = parse_plan(text)
        lines = text.split("\n")
        first = next((i for i, line in enumerate(lines) if TOP_LEVEL.match(line.strip())), None)
        if first is None:
            continue
        end = len(lines)
        if parsed.trailer:
            head = parsed.trailer.split("\n", 1)[0]
            end = next((i for i in range(len(lines) - 1, first, -1) if lines[i].strip() == head),
                       end)
        bodies.append(lines[first:end])
    if not bodies:
        raise SystemExit(f"no sample plans in {PLANS_DIR}")
    return bodies


def build_plan(size: int) -> str:
    """A plan of at least ``size`` characters (see module docstring)."""
    bodies = _bodies()
    out = ["某某学校2024—2025学年工作计划", "为推进学校高质量发展，特制定本计划。"]
    length, part, section, index = 0, 0, SECTIONS_PER_PART, 0
    while length < size:
        for line in bodies[index % len(bodies)]:
            if TOP_LEVEL.match(line.strip()):
                if section == SECTIONS_PER_PART:
                    part, section = part + 1, 0
                    out.append(f"第{int_to_cn(part)}部分 工作安排（{part}）")
                section += 1
                line = TOP_LEVEL.sub(int_to_cn(section) + "、", line.strip())
            out.append(line)
            length += len(line) + 1
        index += 1
    return "\n".join(out)


def median_ms(text: str, runs: int) -> tuple[float, int]:
    calendar = TermCalendar(start=date(2024, 9, 1), mid=date(2024, 11, 4), end=date(2025, 1, 17))
    timings, measures = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        parsed = parse_plan(text, calendar)
        timings.append((time.perf_counter() - started) * 1000)
        measures = sum(1 for _ in iter_measures(parsed))
    return statistics.median(timings), measures


def main() -> None:
    sizes = [("20,000 chars", 20_000, 21, 50.0), ("100 KB", 100 * 1024, 9, None),
             ("500 KB", 500 * 1024, 5, None), ("1 MB", 1024 * 1024, 5, 2000.0)]
    print(f"{'plan':>14} {'chars':>9} {'measures':>9} {'median ms':>10} {'ms/100K chars':>14}"
          f"  target")
    for name, size, runs, target in sizes:
        text = build_plan(size)
        ms, measures = median_ms(text, runs)
        verdict = "" if target is None else (f"< {target:.0f} ms " +
                                             ("OK" if ms < target else "MISSED"))
        print(f"{name:>14} {len(text):>9,} {measures:>9,} {ms:>10.1f} "
              f"{ms / len(text) * 100_000:>14.1f}  {verdict}")


if __name__ == "__main__":
    main()
