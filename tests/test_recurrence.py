from datetime import date

import pytest

from tracker.tasks.recurrence import occurrences

TERM = (date(2024, 9, 2), date(2025, 1, 17))  # Monday to Friday


def test_weekly_one_per_week_due_friday():
    result = occurrences("weekly", *TERM)
    assert len(result) == 20
    assert result[0].start == date(2024, 9, 2) and result[0].due == date(2024, 9, 6)
    assert all(o.due.weekday() == 4 for o in result)
    assert result[-1].due == date(2025, 1, 17)
    assert [o.index for o in result] == list(range(1, 21))


def test_weekly_short_first_week_is_merged():
    # Term starts on a Friday: that lone day joins the next week.
    result = occurrences("weekly", date(2024, 8, 30), date(2024, 9, 27))
    assert result[0].start == date(2024, 8, 30) and result[0].due == date(2024, 9, 6)
    assert len(result) == 4


def test_monthly_clipped_to_the_term():
    result = occurrences("monthly", date(2025, 2, 17), date(2025, 7, 4))
    assert [(o.start, o.due) for o in result] == [
        (date(2025, 2, 17), date(2025, 2, 28)), (date(2025, 3, 1), date(2025, 3, 31)),
        (date(2025, 4, 1), date(2025, 4, 30)), (date(2025, 5, 1), date(2025, 5, 31)),
        (date(2025, 6, 1), date(2025, 7, 4))]  # 1–4 July merged into June
    assert result[1].label == "2025年3月"


def test_termly_and_daily():
    assert [(o.start, o.due) for o in occurrences("termly", *TERM)] == [TERM]
    daily = occurrences("daily", date(2024, 9, 2), date(2024, 9, 15))
    assert len(daily) == 10 and all(o.due.weekday() < 5 for o in daily)


def test_empty_and_unknown():
    assert occurrences("weekly", date(2025, 1, 2), date(2025, 1, 1)) == []
    with pytest.raises(ValueError):
        occurrences("fortnightly", *TERM)
