"""District cascade: a district plan pushed to three schools rolls their completion back up."""
from datetime import date, timedelta

from sqlalchemy import func, select

from tests.conftest import login
from tests.test_plan_import import PLAN
from tracker.extensions import db
from tracker.models import OrgKind, Plan, Role, Task, TaskStatus
from tracker.plans import cascade
from tracker.plans.importing import create_plan
from tracker.plans.parsing import parse_plan


def _district(app, make_org, make_user):
    with app.app_context():
        district = make_org("高新区教体局", kind=OrgKind.district)
        schools = [make_org(f"第{i}小学", parent_id=district.id) for i in (1, 2, 3)]
        leader = make_user(district, Role.leader, email="leader@district.edu.cn")
        heads = [make_user(s, Role.leader, email=f"head{i}@school.edu.cn")
                 for i, s in enumerate(schools, 1)]
        plan = create_plan(district, None, parse_plan(PLAN).to_dict(), actor=leader)
        for task in db.session.execute(select(Task).where(Task.plan_id == plan.id)).scalars():
            task.due_date = date.today() + timedelta(days=5)
        db.session.commit()
        return district.id, [s.id for s in schools], plan.id, [h.id for h in heads]


def test_push_to_three_schools_and_roll_up(app, client, make_org, make_user):
    district_id, school_ids, plan_id, head_ids = _district(app, make_org, make_user)
    login(client, "leader@district.edu.cn")
    response = client.post(f"/plans/{plan_id}/cascade", data={"school": school_ids})
    assert response.status_code == 302
    with app.app_context():
        for school_id in school_ids:
            copy = db.session.execute(select(Plan).where(Plan.organization_id == school_id)) \
                .scalar_one()
            assert copy.source_plan_id == plan_id
            assert db.session.execute(select(func.count()).select_from(Task).where(
                Task.plan_id == copy.id)).scalar() == 3
        # School 1 completes everything, school 2 one measure, school 3 nothing.
        tasks = {s: db.session.execute(select(Task).where(Task.organization_id == s)
                                       .order_by(Task.source_task_id)).scalars().all()
                 for s in school_ids}
        for task in tasks[school_ids[0]] + tasks[school_ids[1]][:1]:
            task.status = TaskStatus.done
        db.session.commit()
        rows = cascade.rollup(db.session.get(Plan, plan_id), date.today())
        assert [(r.schools, r.done) for r in rows] == [(3, 2), (3, 1), (3, 1)]
        assert rows[0].completion == 2 / 3
    # Pushing again creates nothing new.
    client.post(f"/plans/{plan_id}/cascade", data={"school": school_ids})
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Task).where(
            Task.source_task_id.is_not(None))).scalar() == 9
    page = client.get(f"/plans/{plan_id}/cascade").get_data(as_text=True)
    assert "67%" in page and "33%" in page


def test_school_leaders_work_their_copy_and_cannot_push(app, client, make_org, make_user):
    district_id, school_ids, plan_id, head_ids = _district(app, make_org, make_user)
    login(client, "leader@district.edu.cn")
    client.post(f"/plans/{plan_id}/cascade", data={"school": school_ids[:1]})
    client.post("/account/logout")
    login(client, "head1@school.edu.cn")
    assert client.get(f"/plans/{plan_id}/cascade").status_code == 404  # another organisation
    with app.app_context():
        copy_id = db.session.execute(select(Plan.id).where(
            Plan.organization_id == school_ids[0])).scalar_one()
    assert client.get(f"/plans/{copy_id}").status_code == 200
    assert client.get(f"/plans/{copy_id}/cascade").status_code == 403
