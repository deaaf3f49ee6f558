"""HTML helpers written in Python: escaped, and the selected option marked."""
from tracker.widgets import options


def test_options_escape_values_and_labels_and_mark_the_selected_one():
    html = str(options([(1, "张三"), (2, '<script>alert("x")</script>'), ('"3', "a&b")],
                       selected=2))
    assert html == ('<option value="1">张三</option>'
                    '<option value="2" selected>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;'
                    '</option><option value="&#34;3">a&amp;b</option>')


def test_options_without_a_selection_and_with_none():
    assert str(options([(1, "a")])) == '<option value="1">a</option>'
    assert str(options([])) == ""
    assert "selected" not in str(options([(1, "a")], selected=None))
