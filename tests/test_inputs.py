"""Whole numbers from forms and URLs: ASCII digits only, bounded."""
import pytest

from tracker.inputs import MAX_ID, whole_number


@pytest.mark.parametrize("text,expected", [
    ("12", 12), (" 7 ", 7), ("0", 0), (str(MAX_ID), MAX_ID),
    (str(MAX_ID + 1), None), ("²", None), ("٣", None), ("1²", None), ("-1", None),
    ("1.5", None), ("", None), (None, None), ("9" * 5000, None), ("abc", None),
])
def test_whole_number(text, expected):
    assert whole_number(text) == expected


def test_unbounded_keeps_large_numbers_for_a_404_rather_than_ignoring_them():
    assert whole_number(str(MAX_ID + 1), maximum=None) == MAX_ID + 1
    assert whole_number("9" * 19, maximum=None) is None


ODD = ["²", "٣", "9" * 5000, "99999999999999999999999"]


@pytest.mark.parametrize("value", ODD)
def test_odd_numbers_in_urls_and_forms_are_never_a_server_error(client, world, value):
    from tests.conftest import login

    login(client, world.emails["leader"])
    for path in (f"/tasks/?plan={value}", f"/tasks/?owner={value}", f"/dashboard/?term={value}",
                 f"/api/v1/stats?plan={value}"):
        assert client.get(path).status_code in (200, 400, 404), path
    posts = [
        ("/tasks/bulk", {"task": [value], "action": "cancel", "note": "x"}),
        ("/tasks/bulk", {"task": [str(world.task)], f"version-{world.task}": value,
                         "action": "cancel", "note": "x"}),
        (f"/tasks/{world.task}/update", {"version": value, "note": "x"}),
    ]
    for path, data in posts:
        assert client.post(path, data=data).status_code < 500, (path, data)
