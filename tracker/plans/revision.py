"""Matching a revised plan's measures to the existing ones (pure).

A measure keeps its task (and history) when the revision still has it: first at the
same printed path with similar text, then anywhere with very similar text (it was
renumbered or moved). What is left is added (new tasks) or removed (tasks cancelled).
"""
from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

SAME_PATH_MIN = 0.5
MOVED_MIN = 0.8


@dataclass(frozen=True)
class Measure:
    key: int          # node id (old) or row key (new)
    path: str         # printed path, e.g. "三、（一）1."
    text: str


@dataclass
class Matching:
    matched: list[tuple[int, int, float]]  # (old key, new key, similarity)
    added: list[int]
    removed: list[int]


def _compact(text: str) -> str:
    return "".join(text.split())


def similarity(a: str, b: str) -> float:
    a, b = _compact(a), _compact(b)
    if not a and not b:
        return 1.0
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < MOVED_MIN / 2:
        return matcher.real_quick_ratio()
    return matcher.ratio()


def match(old: list[Measure], new: list[Measure]) -> Matching:
    pairs: list[tuple[int, int, float]] = []
    old_left = {m.key: m for m in old}
    new_left = {m.key: m for m in new}
    by_path = {m.path: m for m in old}
    for candidate in new:
        previous = by_path.get(candidate.path)
        if previous is None or previous.key not in old_left:
            continue
        score = similarity(previous.text, candidate.text)
        if score >= SAME_PATH_MIN:
            pairs.append((previous.key, candidate.key, score))
            del old_left[previous.key], new_left[candidate.key]
    scored = sorted(((similarity(o.text, n.text), o.key, n.key)
                     for o in old_left.values() for n in new_left.values()), reverse=True)
    for score, old_key, new_key in scored:
        if score < MOVED_MIN:
            break
        if old_key in old_left and new_key in new_left:
            pairs.append((old_key, new_key, score))
            del old_left[old_key], new_left[new_key]
    return Matching(matched=sorted(pairs, key=lambda p: p[1]),
                    added=sorted(new_left), removed=sorted(old_left))
