"""Shared helpers for the plan-parser tests: the sample plans in shared/plans."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

PLANS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "plans"


def sample_files() -> list[Path]:
    return sorted(PLANS_DIR.glob("*.txt")) if PLANS_DIR.is_dir() else []


def sample_ids() -> list[str]:
    return [path.stem.split("_")[0] for path in sample_files()] or ["missing"]


@pytest.fixture
def plans_dir() -> Path:
    if not PLANS_DIR.is_dir() or not sample_files():
        pytest.skip(f"sample plans not found at {PLANS_DIR} (shared/plans is missing)")
    return PLANS_DIR


def load_sample(path: Path) -> tuple[str, dict]:
    text = path.read_text(encoding="utf-8")
    expected_path = path.with_name(path.stem + ".expected.json")
    if not expected_path.exists():
        pytest.skip(f"{expected_path.name} is missing")
    return text, json.loads(expected_path.read_text(encoding="utf-8"))
