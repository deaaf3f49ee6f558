"""Chinese really renders by default, English on request, and the catalog is complete."""
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from tests.conftest import login
from tracker.extensions import db
from tracker.models import User

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "tracker" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"


def test_chinese_is_the_default(client):
    body = client.get("/account/login").get_data(as_text=True)
    assert "登录" in body and 'lang="zh-CN"' in body


def test_browser_language_english(client):
    body = client.get("/account/login", headers={"Accept-Language": "en-US,en;q=0.9"}) \
        .get_data(as_text=True)
    assert "Log in" in body and 'lang="en"' in body


def test_language_switch_is_remembered_per_user(client, app, world):
    login(client, world.emails["lead"])
    client.post("/account/language/en", data={"next": "/tasks/mine"})
    assert "My tasks" in client.get("/tasks/mine").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, world.user_ids["lead"]).locale == "en"
    client.post("/account/logout")
    fresh = app.test_client()
    login(fresh, world.emails["lead"])
    assert "My tasks" in fresh.get("/tasks/mine").get_data(as_text=True)
    fresh.post("/account/language/zh_CN", data={"next": "/"})
    assert "我的任务" in fresh.get("/tasks/mine").get_data(as_text=True)


def test_catalog_is_complete_and_placeholders_match():
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    import re

    placeholder = re.compile(r"%\(\w+\)[sd]")
    missing, broken = [], []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings) or message.fuzzy:
            missing.append(ids[0])
            continue
        if set(placeholder.findall(ids[-1])) != set(placeholder.findall(strings[0])):
            broken.append(ids[0])
    assert not missing, f"untranslated: {missing}"
    assert not broken, f"placeholders differ: {broken}"


def message_sources() -> list[str]:
    """What ``make extract-messages`` reads. Babel's directory walk skips folders named
    "_…" (templates/_macros, templates/_partials), so those are named explicitly."""
    hidden = sorted(str(p.relative_to(ROOT)) for top in ("tracker", "templates")
                    for p in (ROOT / top).rglob("_*")
                    if p.is_dir() and p.name != "__pycache__")
    return ["tracker", "templates", *hidden]


def test_catalog_covers_every_message_in_the_code(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    "babel.cfg", "-k", "_l", "-k", "N_", "--no-location", "-o", str(pot),
                    *message_sources()], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as handle:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    with PO.open("rb") as handle:
        have = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}
    assert wanted - have == set(), "run `make extract-messages` and translate the new strings"
    assert {"Pages", "Reminders"} <= wanted  # from templates/_partials: the walk skips it
