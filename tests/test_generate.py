"""The district generator: deterministic, complete, consistent, on SQLite and PostgreSQL."""
from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import and_, func, select

from tracker import generate as generator
from tracker.extensions import db
from tracker.models import (
    Base,
    Organization,
    Task,
    TaskEvent,
    TaskStatus,
    User,
)

TODAY = date(2024, 11, 4)        # week 10 of 2024—2025学年第一学期
SPEC = generator.Spec(schools=3, tasks_per_school=20, users=60, seed=7, today=TODAY)


def test_rows_are_deterministic_for_a_seed():
    first = generator.build_district(SPEC, {})
    again = generator.build_district(SPEC, {})
    assert first == again
    other = generator.build_district(
        generator.Spec(schools=3, tasks_per_school=20, users=60, seed=8, today=TODAY), {})
    assert [t["title"] for t in other.tasks] != [t["title"] for t in first.tasks]


def test_counts_and_shape_of_the_rows():
    rows = generator.build_district(SPEC, {})
    assert len(rows.organizations) == 4
    assert [o["kind"] for o in rows.organizations] == ["district"] + ["school"] * 3
    assert len(rows.users) == 60
    assert len({u["email"] for u in rows.users}) == 60
    phones = [u["phone"] for u in rows.users if u["phone"]]
    assert len(set(phones)) == len(phones)
    per_school = Counter(t["organization_id"] for t in rows.tasks)
    assert sorted(per_school.values()) == [20, 20, 20]
    # Numbering as printed in real plans.
    labels = {n["label"] for n in rows.plan_nodes}
    assert {"一、", "1."} <= labels
    assert all(n["kind"] in ("section", "measure") for n in rows.plan_nodes)
    measures = {n["id"] for n in rows.plan_nodes if n["kind"] == "measure"}
    assert all(t["plan_node_id"] in measures for t in rows.tasks)
    term = generator.default_term(TODAY)
    assert all(term.start <= t["due_date"] <= term.end for t in rows.tasks)


def test_known_accounts():
    rows = generator.build_district(SPEC, {})
    emails = {u["email"]: u for u in rows.users}
    for local in ("admin", "leader", "staff"):
        assert emails[f"{local}@district.bench"]["role"] == local
        for school in (1, 2, 3):
            assert emails[f"{local}@school{school:03d}.bench"]["role"] == local


def test_sample_plan_text_parses_into_many_measures():
    from tracker.plans.parsing import iter_measures, parse_plan

    text = generator.sample_plan_text(20_000, today=TODAY)
    assert len(text) >= 20_000
    assert len(list(iter_measures(parse_plan(text)))) > 200


def _dangling_references(session) -> dict[str, int]:
    """For every foreign key: rows pointing at a row that does not exist."""
    found = {}
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            target = fk.column.table.alias()
            stmt = (select(func.count()).select_from(table.outerjoin(
                target, fk.parent == target.c[fk.column.name]))
                .where(and_(fk.parent.is_not(None), target.c[fk.column.name].is_(None))))
            count = session.execute(stmt).scalar()
            if count:
                found[f"{table.name}.{fk.parent.name}"] = count
    return found


def test_generate_inserts_the_rows(app):
    with app.app_context():
        result = generator.generate(db.session, SPEC)
        db.session.commit()
        generator.analyze(db.session)
        db.session.commit()
        expected = generator.build_district(SPEC, {})

        assert result.counts == expected.counts()
        tasks = db.session.execute(select(Task.id, Task.title).order_by(Task.id)).all()
        assert [tuple(t) for t in tasks] == sorted((t["id"], t["title"]) for t in expected.tasks)
        assert db.session.execute(select(func.count(User.id))).scalar() == 60
        assert db.session.execute(select(func.count(Organization.id))).scalar() == 4
        assert _dangling_references(db.session) == {}

        statuses = set(db.session.execute(select(Task.status).distinct()).scalars())
        assert statuses == set(TaskStatus)
        overdue = db.session.execute(select(func.count(Task.id)).where(
            Task.due_date < TODAY, Task.status.in_(
                [TaskStatus.not_started, TaskStatus.in_progress, TaskStatus.blocked]))).scalar()
        assert overdue > 0
        assert db.session.execute(select(func.count(Task.id)).where(
            Task.acceptance == "accepted")).scalar() > 0
        recurring = db.session.execute(select(Task).where(Task.recurrence.is_not(None))).scalars()
        assert any(db.session.execute(select(func.count(Task.id)).where(
            Task.parent_id == parent.id)).scalar() > 1 for parent in recurring)
        with_history = db.session.execute(select(func.count(func.distinct(TaskEvent.task_id)))
                                          ).scalar()
        assert 0.05 <= with_history / 60 <= 0.4
        per_task = db.session.execute(select(func.count()).select_from(TaskEvent)
                                      .group_by(TaskEvent.task_id)).scalars().all()
        assert 1 <= min(per_task) and max(per_task) <= 5

        staff = db.session.execute(select(User).where(
            User.email == "staff@school001.bench")).scalar_one()
        assert staff.check_password(generator.BENCH_PASSWORD)
        # Sequences (PostgreSQL) and rowids (SQLite) continue after the explicit ids.
        db.session.add(Task(organization_id=staff.organization_id, title="新任务"))
        db.session.commit()


def test_generate_command(app, runner):
    args = ["tracker", "generate", "--schools", "2", "--tasks-per-school", "10", "--users",
            "30", "--seed", "3", "--today", "2025-04-01"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "20 tasks" in result.output
    assert "leader@school001.bench" in result.output
    with app.app_context():
        assert db.session.execute(select(func.count(Task.id))).scalar() == 20
        titles = db.session.execute(select(Task.title)).scalars().all()
        assert all(titles)
        db.session.remove()
    again = runner.invoke(args=args)
    assert again.exit_code != 0
    assert "already" in again.output


def test_generate_command_rejects_too_few_users(runner):
    result = runner.invoke(args=["tracker", "generate", "--schools", "10", "--users", "20"])
    assert result.exit_code != 0
    assert "at least 53 users" in result.output


def test_login_with_a_generated_account(app, client):
    with app.app_context():
        generator.generate(db.session, SPEC)
        db.session.commit()
        db.session.remove()
    response = client.post("/account/login", data={"identifier": "staff@school001.bench",
                                                   "password": generator.BENCH_PASSWORD})
    assert response.status_code == 302
    assert client.get("/tasks/mine").status_code == 200
