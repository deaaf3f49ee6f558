"""The report's wording in Chinese and English (pure; no Flask).

The report is an administrative document (公文) handed in to the education bureau;
its phrases are part of the product and are kept here, reviewed as one text, rather
than in the UI catalogue: the Chinese document must read right whatever state the UI
translations are in. Pages, buttons and e-mails use Flask-Babel as usual.
Keys are the English phrase's id; values are (zh_CN, en) with ``str.format`` fields.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

LANGUAGES = ("zh_CN", "en")

PHRASES: dict[str, tuple[str, str]] = {
    "title": ("{org}{term}工作计划执行、完成情况",
              "{org}: {term} work plan — implementation and completion"),
    "title_no_term": ("{org}工作计划执行、完成情况",
                      "{org}: work plan — implementation and completion"),
    "subtitle": ("依据《{plan}》　生成日期：{day}", "Based on “{plan}” · generated {day}"),
    "intro": ("{term}，{org}按照《{plan}》组织实施，将计划分解为{measures}项措施、{tasks}项任务"
              "（周期性措施按每次计），逐项明确牵头部门、责任人和完成时限，"
              "推进情况和佐证材料全程留痕。"
              "截至{day}，{status_sentence}现将计划执行、完成情况总结如下：",
              "In {term}, {org} carried out “{plan}”: {measures} measures, tracked as "
              "{tasks} tasks (a recurring measure counts each time), each with a lead "
              "department, an owner and a deadline, and progress and evidence recorded along "
              "the way. As of {day}, {status_sentence} The implementation is summarised below."),
    "status_sentence": (
        "已完成{completed}项，完成率{rate}；按期完成率{on_time}；逾期未完成{overdue}项。",
        "{completed} are completed (completion rate {rate}); on-time rate {on_time}; "
        "{overdue} are overdue."),
    "status_nothing": ("计划尚无需要完成的任务。", "the plan has no tasks to complete yet."),
    "extra_blocked": ("另有{n}项受阻。", "{n} more are blocked."),
    "extra_awaiting": ("{n}项已完成待验收。", "{n} are done and awaiting acceptance."),
    "no_rate": ("—", "—"),
    "figures": ("总体完成情况", "Overall figures"),
    "fig_measures": ("计划措施（项）", "Measures in the plan"),
    "fig_tasks": ("任务（项，周期性措施按次计）", "Tasks (recurring measures count each time)"),
    "fig_cancelled": ("已取消（项，不计入完成率）", "Cancelled (not in the rates)"),
    "fig_completed": ("已完成（项）", "Completed"),
    "fig_rate": ("完成率", "Completion rate"),
    "fig_on_time": ("按期完成率", "On-time rate"),
    "fig_overdue": ("逾期未完成（项）", "Overdue"),
    "fig_blocked": ("受阻（项）", "Blocked"),
    "fig_awaiting": ("已完成待验收（项）", "Done, awaiting acceptance"),
    "fig_delay": ("逾期完成平均延迟（天）", "Average delay of late completions (days)"),
    "fig_item": ("项目", "Figure"),
    "fig_value": ("数值", "Value"),
    "chart_sections": ("各部分完成率", "Completion by section"),
    "chart_departments": ("各部门完成率", "Completion by department"),
    "chart_burnup": ("完成进度（累计）", "Burn-up (cumulative)"),
    "burnup_completed": ("累计完成", "Completed"),
    "burnup_planned": ("累计到期", "Due"),
    "burnup_ideal": ("理想进度", "Ideal"),
    "axis_rate": ("完成率", "Completion rate"),
    "axis_tasks": ("任务数", "Tasks"),
    "departments": ("各部门完成情况", "By department"),
    "dept_name": ("牵头部门", "Lead department"),
    "dept_none": ("未指定部门", "No department"),
    "col_tasks": ("任务数", "Tasks"),
    "col_completed": ("已完成", "Completed"),
    "col_rate": ("完成率", "Completion"),
    "col_on_time": ("按期率", "On time"),
    "col_overdue": ("逾期", "Overdue"),
    "section_rate": ("本部分共{tasks}项任务，已完成{completed}项，完成率{rate}。",
                     "This section has {tasks} tasks; {completed} completed ({rate})."),
    "section_rate_overdue": (
        "本部分共{tasks}项任务，已完成{completed}项，完成率{rate}；逾期未完成{overdue}项。",
        "This section has {tasks} tasks; {completed} completed ({rate}); {overdue} overdue."),
    "section_all_cancelled": ("本部分{tasks}项任务均已取消。",
                              "All {tasks} tasks of this section were cancelled."),
    "done_title": ("已完成", "Done"),
    "not_done_title": ("未完成", "Not done"),
    "done_title_continued": ("{section}（续）：已完成", "{section} (continued): done"),
    "not_done_title_continued": ("{section}（续）：未完成", "{section} (continued): not done"),
    "done_on": ("{day}完成", "completed {day}"),
    "on_time": ("按期", "on time"),
    "late_by": ("逾期{days}天完成", "{days} days late"),
    "recurring": ("共{total}次，已完成{done}次", "{done} of {total} times done"),
    "notes": ("工作记录：{notes}", "Recorded: {notes}"),
    "evidence": ("佐证材料{n}份", "{n} evidence files"),
    "no_evidence": ("未上传佐证材料", "no evidence uploaded"),
    "target": ("目标：{target}", "target: {target}"),
    "actual": ("实际：{actual}", "actual: {actual}"),
    "lead": ("牵头：{who}", "lead: {who}"),
    "due": ("完成时限{day}", "due {day}"),
    "overdue_days": ("已逾期{days}天", "{days} days overdue"),
    "progress": ("进度{n}%", "{n}% done"),
    "reason": ("原因：{reason}", "reason: {reason}"),
    "no_reason": ("未说明原因", "no reason recorded"),
    "status_not_started": ("未开始", "not started"),
    "status_in_progress": ("进行中", "in progress"),
    "status_blocked": ("受阻", "blocked"),
    "status_cancelled": ("已取消", "cancelled"),
    "status_done": ("已完成", "done"),
    "status_awaiting": ("已完成，待验收", "done, awaiting acceptance"),
    "other_tasks": ("其他任务（未对应计划条目）", "Other tasks (not linked to a plan item)"),
    "main_work": ("主要工作完成情况", "Work done"),
    "changes": ("计划调整情况", "Changes against the plan"),
    "changes_none": ("本学期计划执行中未作调整，各项措施均按原计划推进。",
                     "The plan was carried out as written: no measures were added, cancelled or "
                     "rescheduled."),
    "added": ("新增措施{n}项", "{n} measures added"),
    "added_item": ("{day}新增", "added {day}"),
    "cancelled": ("取消措施{n}项", "{n} measures cancelled"),
    "moved": ("调整完成时限{n}项", "{n} deadlines moved"),
    "moved_item": ("完成时限由{old}调整为{new}", "deadline moved from {old} to {new}"),
    "revised": ("计划修订时调整措施表述{n}项。",
                "{n} measures were reworded in a revision of the plan."),
    "removed_in_revision": ("计划修订时删除", "removed in a revision of the plan"),
    "comparison": ("与上学期对比", "Compared with the previous term"),
    "comparison_text": (
        "{previous}（《{plan}》）共{tasks}项任务，完成率{rate}，按期完成率{on_time}；"
        "本学期完成率{cur_rate}，{rate_change}；按期完成率{cur_on_time}，{on_time_change}。",
        "{previous} (“{plan}”) had {tasks} tasks, completion rate {rate}, on-time rate "
        "{on_time}; this term: completion rate {cur_rate} ({rate_change}), on-time rate "
        "{cur_on_time} ({on_time_change})."),
    "col_term": ("学期", "Term"),
    "up": ("提高{pp}个百分点", "up {pp} points"),
    "down": ("下降{pp}个百分点", "down {pp} points"),
    "same": ("与上学期持平", "unchanged"),
    "not_comparable": ("无法比较", "not comparable"),
    "problems": ("存在问题与下步打算", "Problems and next steps"),
    "problems_title": ("存在问题", "Problems"),
    "next_title": ("下步打算", "Next steps"),
    "problem_blocked": ("{n}项措施推进受阻", "{n} measures are blocked"),
    "problem_overdue": ("{n}项任务逾期未完成，主要集中在{departments}",
                        "{n} tasks are overdue, mostly in {departments}"),
    "problem_overdue_plain": ("{n}项任务逾期未完成", "{n} tasks are overdue"),
    "problem_late": ("{n}项任务逾期完成，平均延迟{days}天",
                     "{n} tasks were completed late, by {days} days on average"),
    "problem_awaiting": ("{n}项任务已完成但尚未验收", "{n} tasks are done but not yet accepted"),
    "problem_no_evidence": ("{n}项已完成措施未上传佐证材料",
                            "{n} completed measures have no evidence uploaded"),
    "problems_none": ("本学期各项措施均已按期完成，未发现突出问题。",
                      "Every measure was completed on time; no problems stand out."),
    "next_item": ("{lead}（{who}）：{what}", "{lead} ({who}): {what}"),
    "next_blocked": ("协调解决受阻问题，尽快恢复推进", "resolve what blocks it and resume"),
    "next_overdue": ("抓紧推进，尽快完成", "catch up and finish"),
    "next_accept": ("及时组织对{n}项已完成任务的验收", "accept the {n} tasks that are done"),
    "next_evidence": ("补齐已完成措施的佐证材料，做好归档",
                      "add the missing evidence to completed measures"),
    "next_more": ("另有{n}项，详见附件台账", "{n} more: see the ledger in the appendix"),
    "next_keep": ("总结经验，在下学期计划中继续保持。", "Keep what worked in next term's plan."),
    "ledger": ("附件：工作台账", "Appendix: task ledger"),
    "col_no": ("序号", "No."),
    "col_path": ("计划条目", "Plan item"),
    "col_measure": ("措施", "Measure"),
    "col_department": ("牵头部门", "Lead department"),
    "col_owner": ("负责人", "Owner"),
    "col_due": ("完成时限", "Due"),
    "col_status": ("状态", "Status"),
    "col_progress": ("进度", "Progress"),
    "col_done_on": ("完成日期", "Completed"),
    "col_evidence": ("佐证材料", "Evidence"),
    "col_target": ("目标", "Target"),
    "col_actual": ("实际", "Actual"),
    "col_note": ("最新记录", "Latest note"),
    "nobody": ("未指定", "unassigned"),
    "list_sep": ("；", "; "),
    "name_sep": ("、", ", "),
    "sentence_end": ("。", "."),
    "unit_times": ("次", "times"),
    # District report
    "district_title": ("{org}{term}各校工作计划执行、完成情况",
                       "{org}: {term} — schools' work plans, implementation and completion"),
    "district_intro": (
        "{term}，{org}所属{schools}所学校共有{tasks}项任务，已完成{completed}项，完成率{rate}；"
        "按期完成率{on_time}；逾期未完成{overdue}项。各校情况如下：",
        "In {term}, the {schools} schools of {org} had {tasks} tasks: {completed} completed "
        "(completion rate {rate}), on-time rate {on_time}, {overdue} overdue. By school:"),
    "district_schools": ("各校完成情况", "By school"),
    "district_ranking": ("完成率排名", "Ranking by completion"),
    "district_problems": ("共性问题", "Common problems"),
    "district_problem_dept": (
        "{n}所学校的“{department}”有逾期任务，合计{tasks}项",
        "{n} schools have overdue tasks led by “{department}” ({tasks} in all)"),
    "district_problem_reason": ("{n}所学校反映：{reason}", "{n} schools report: {reason}"),
    "district_no_problems": ("各校未反映共性问题。", "No problem is shared by several schools."),
    "district_no_tasks": ("本学期各校尚无任务。", "The schools have no tasks this term."),
    "col_school": ("学校", "School"),
    "col_rank": ("名次", "Rank"),
    "chart_schools": ("各校完成率", "Completion by school"),
    "district_ledger": ("附件：各校台账", "Appendix: schools"),
}

_ZH_MONTH_DAY = "{y}年{m}月{d}日"


def translator(lang: str) -> Callable[..., str]:
    index = 0 if lang.startswith("zh") else 1

    def t(key: str, **fields) -> str:
        return PHRASES[key][index].format(**fields)

    return t


def fmt_date(day: date | None, lang: str) -> str:
    if day is None:
        return "—"
    if lang.startswith("zh"):
        return _ZH_MONTH_DAY.format(y=day.year, m=day.month, d=day.day)
    return day.isoformat()


def fmt_rate(value: float | None) -> str:
    """0.857 → "85.7%", 1 → "100%", None (nothing to divide by) → "—"."""
    if value is None:
        return "—"
    text = f"{value * 100:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return f"{text}%"


def fmt_number(value) -> str:
    """A Decimal or float without trailing zeros: 98.50 → "98.5", 3.00 → "3"."""
    if value is None:
        return ""
    text = f"{value:f}" if not isinstance(value, float) else f"{value:.2f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
