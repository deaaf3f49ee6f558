"""District data generator: a realistic 教体局 with N schools, for benchmarks and load tests.

``build_district(spec, ids)`` is pure: from a seed, the term calendar and the first free
id of every table it returns the rows to insert, as plain dicts. The same inputs give
the same rows (ids, titles, dates, statuses) every time. ``generate(session, spec)``
reads the first free ids, hashes the shared password once and inserts the rows with
bulk ``INSERT``s in chunks; it flushes and never commits (the caller does).

Shape of the district (``--schools 100 --tasks-per-school 300 --users 10000``):

* one district organisation (its own departments, term, staff and an active plan
  without tasks — what a cascade would push down) and N schools under it;
* per school 10–15 departments, the current term (``tracker.calendar.default_term``),
  an active plan of sections (一、), sub-sections (（一）) and measures (1.) written
  from a vocabulary, and exactly ``tasks_per_school`` tasks: one per measure plus the
  occurrences of the recurring ones (每月, 每周, 每学期);
* tasks in every status with due dates spread over the term; those due before today
  are mostly done, the rest overdue; in schools that require acceptance (验收) most
  done tasks are accepted, the rest wait; about 20 % have 1–5 history events;
* users spread over the schools with unique e-mails and phones, and known accounts
  for benchmarks: ``admin|leader|staff@schoolNNN.bench`` and ``admin|leader|staff@
  district.bench``, all with the password ``bench1234``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from tracker.calendar import TermDates, default_term
from tracker.tasks.recurrence import occurrences as recurrence_occurrences

BENCH_PASSWORD = "bench1234"
DISTRICT_DOMAIN = "district.bench"
TIMEZONE = "Asia/Shanghai"
EVENT_SHARE = 0.2          # tasks with a history
DISTRICT_USERS = 24        # of the --users total (fewer below 9,600); the rest go to schools
CHUNK = 5000               # rows per INSERT statement

KNOWN_LOCALS = ("admin", "leader", "staff")


def school_domain(number: int) -> str:
    return f"school{number:03d}.bench"


# ----------------------------------------------------------------------------- vocabulary

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
            "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺"
            "顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚燕辉鹏华飞玲红波宇浩凯晨婷雪琳欣悦瑶怡佳颖"
         "璐蕾倩萍建国志文俊峰斌亮林海东梅兰英秀云莉丹琴慧晶亚楠宁")
PLACES = ("城关", "东城", "西城", "南湖", "北苑", "青山", "河西", "新华", "胜利", "解放", "人民路",
          "实验", "文昌", "红旗", "光明", "长安", "滨河", "育才", "锦绣", "和平", "朝阳", "兴华",
          "春晖", "阳光", "启明")
SCHOOL_KINDS = ("小学", "第二小学", "中学", "初级中学", "实验小学", "九年一贯制学校",
                "中心小学", "第三小学")

CORE_DEPARTMENTS = ("校长室", "办公室", "教务处", "德育处", "总务处", "安全办", "教科室", "党支部",
                    "工会", "少先队")
EXTRA_DEPARTMENTS = ("信息中心", "体卫艺处", "心理健康中心", "语文教研组", "数学教研组", "英语教研组",
                     "科学教研组", "一年级组", "六年级组", "团委", "招生办", "财务室")
DISTRICT_DEPARTMENTS = ("局办公室", "基础教育科", "教研室", "安全管理科", "人事科", "计划财务科",
                        "督导室", "体卫艺科", "德育科", "装备中心")

# Sections of a plan: heading, owning department, sub-section headings, measures. A
# measure is (what is done, what for); time phrases, targets and recurrence are added
# from the lists below so that no two schools' plans read alike.
SECTIONS = (
    ("德育工作", "德育处", ("强化思想引领", "深化养成教育", "推进家校共育", "加强班主任队伍建设"), (
        ("开展升旗仪式和国旗下讲话", "增强学生爱国情感"),
        ("组织“文明班级”评比活动", "促进学生良好行为习惯养成"),
        ("召开班主任工作例会", "总结交流班级管理经验"),
        ("开展心理健康主题班会", "提升学生心理调适能力"),
        ("举办家长学校专题讲座", "提高家庭教育水平"),
        ("开展“红领巾”社会实践活动", "培养学生社会责任感"),
        ("组织学生行为规范检查", "落实《中小学生守则》"),
        ("开展传统节日主题教育", "弘扬中华优秀传统文化"),
        ("开展家访活动", "做到每生每学期至少家访一次"),
        ("评选“美德少年”", "树立身边榜样"),
    )),
    ("教学工作", "教务处", ("规范教学常规管理", "深化课堂教学改革", "落实“双减”要求", "提高教学质量"), (
        ("开展教学常规检查", "规范备课、上课、作业批改和辅导"),
        ("组织学科素养评价", "了解各年级学生学业水平"),
        ("召开毕业班任课教师会议", "研究复习备考策略"),
        ("开展作业设计评比", "控制作业总量，提高作业质量"),
        ("组织期中学业质量检测", "分析质量，调整教学"),
        ("开展课后服务课程", "丰富学生课后生活"),
        ("开展推门听课活动", "及时发现课堂教学问题"),
        ("组织演示实验和分组实验", "确保实验开出率达到100%"),
        ("开展阅读打卡活动", "营造书香校园"),
        ("组织学困生辅导", "落实培优补差措施"),
        ("开展期末复习研讨", "提高复习效率"),
    )),
    ("教科研工作", "教科室", ("课题引领", "校本教研", "教师培训"), (
        ("开展集体备课活动", "发挥备课组集体智慧"),
        ("组织青年教师汇报课", "促进青年教师专业成长"),
        ("推进在研课题研究", "按时完成中期报告"),
        ("开展“大单元”教学研讨", "落实新课标理念"),
        ("组织教师参加网络研修", "完成继续教育学时"),
        ("举办教学论坛", "以理论提升促行动跟进"),
        ("开展优秀教学设计评选", "积累优质教学资源"),
        ("组织骨干教师示范课", "发挥骨干引领作用"),
    )),
    ("教师队伍建设", "校长室", ("加强师德师风建设", "完善考核评价", "促进专业成长"), (
        ("开展师德师风专题学习", "签订师德承诺书"),
        ("组织教师读书分享会", "提升教师人文素养"),
        ("开展“青蓝工程”师徒结对", "帮助新教师尽快站稳讲台"),
        ("完善教师绩效考核方案", "激发教师工作积极性"),
        ("评选优秀教师和优秀班主任", "表彰先进、树立典型"),
        ("组织教师基本功比赛", "提高教师教学基本功"),
    )),
    ("安全工作", "安全办", ("健全安全责任体系", "加强安全教育", "做好隐患排查"), (
        ("开展消防疏散演练", "提高师生应急避险能力"),
        ("组织校园安全隐患排查", "做到隐患早发现、早整改"),
        ("开展防溺水专题教育", "防止发生溺水事故"),
        ("落实食堂食品安全检查", "杜绝群体性食物中毒事故"),
        ("开展交通安全教育", "增强学生交通安全意识"),
        ("签订安全工作责任书", "落实“一岗双责”"),
        ("开展防欺凌教育", "营造平安和谐校园"),
        ("做好上下学时段护学岗值守", "保障学生上下学安全"),
    )),
    ("后勤保障", "总务处", ("加强财务管理", "改善办学条件", "做好服务保障"), (
        ("开展校舍安全检查和维修", "保障教育教学正常进行"),
        ("完成教学设备资产清查", "做到账实相符"),
        ("做好教材和教辅发放", "确保课前到书率100%"),
        ("落实节能降耗措施", "建设节约型校园"),
        ("完善食堂管理制度", "提高膳食服务质量"),
        ("做好校园绿化美化", "营造优美育人环境"),
    )),
    ("体育卫生艺术工作", "体卫艺处", ("落实体育课时", "加强卫生健康", "丰富艺术活动"), (
        ("开展大课间活动", "保证学生每天校园体育活动一小时"),
        ("组织学生体质健康测试", "按时上报测试数据"),
        ("举办校园运动会", "展示学生体育风采"),
        ("开展近视防控宣传", "降低学生近视率"),
        ("组织艺术节展演", "提高学生审美素养"),
        ("开展传染病防控工作", "做好晨午检和因病缺课登记"),
    )),
    ("少先队工作", "少先队", ("加强组织建设", "开展主题队日"), (
        ("召开少代会", "健全少先队组织"),
        ("开展新队员入队仪式", "增强队员光荣感"),
        ("组织主题队日活动", "培养队员集体荣誉感"),
        ("开展红领巾广播站活动", "发挥阵地育人作用"),
        ("评选优秀少先队员和优秀中队", "激励队员争先创优"),
    )),
    ("党建工作", "党支部", ("加强思想建设", "落实组织生活制度", "推进党风廉政建设"), (
        ("组织党员集中学习", "持续强化理论武装"),
        ("召开组织生活会", "开展批评与自我批评"),
        ("开展“三会一课”", "提升支部管理质量"),
        ("开展党员志愿服务活动", "发挥党员先锋模范作用"),
        ("落实党风廉政建设责任制", "筑牢廉洁自律防线"),
    )),
    ("办公室与信息化工作", "办公室", ("规范行政管理", "推进智慧校园建设"), (
        ("完善学校规章制度汇编", "做到有章可循"),
        ("做好档案收集归档", "保证档案完整规范"),
        ("更新校园网站和公众号", "及时宣传学校工作"),
        ("开展教师信息技术应用培训", "提升信息素养"),
        ("做好各类统计报表上报", "确保数据准确及时"),
    )),
)

DISTRICT_SECTIONS = (
    ("全面加强党的建设", ("落实全面从严治党主体责任", "推进党建与业务深度融合", "加强教育系统意识形态工作")),
    ("推进义务教育优质均衡发展", ("推进集团化办学", "做好义务教育招生入学工作", "加强薄弱学校改造")),
    ("深化教育教学改革", ("落实“双减”政策", "开展区域教研和质量监测", "推进课后服务提质增效")),
    ("建设高素质教师队伍", ("开展师德师风专项整治", "实施教师全员培训", "推进校长教师交流轮岗")),
    ("守牢校园安全底线", ("开展校园安全专项检查", "加强防溺水和交通安全教育", "落实食品安全校长负责制")),
)

NOTES_PROGRESS = ("已制定方案，正在推进。", "已召开专题会议，布置到各年级。", "完成一半，下周继续。",
                  "材料收集中。", "已完成前期准备工作。")
NOTES_DONE = ("已完成，过程材料已归档。", "活动已开展，照片和总结已上传。", "按计划完成，效果良好。")
NOTES_BLOCKED = ("场地未落实，等待总务处协调。", "经费审批未通过，暂缓。", "等待上级文件。")
NOTES_ACCEPTED = ("验收通过。", "材料齐全，同意验收。")
NOTES_SENT_BACK = ("佐证材料不全，请补充后再提交。",)
CHINESE_NUMERALS = "一二三四五六七八九十"
MONTH_NAMES = ("一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月",
               "十一月", "十二月")


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十 (plans rarely go past 二十)."""
    if n <= 10:
        return CHINESE_NUMERALS[n - 1]
    tens, units = divmod(n, 10)
    return (CHINESE_NUMERALS[tens - 1] if tens > 1 else "") + "十" + \
        (CHINESE_NUMERALS[units - 1] if units else "")


# ----------------------------------------------------------------------------- the spec


@dataclass(frozen=True)
class Spec:
    schools: int = 100
    tasks_per_school: int = 300
    users: int = 10_000
    seed: int = 1
    today: date = field(default_factory=date.today)

    def __post_init__(self) -> None:
        if self.schools < 1:
            raise ValueError("at least one school")
        if self.tasks_per_school < 1:
            raise ValueError("at least one task per school")
        if self.users < self.district_users + 5 * self.schools:
            raise ValueError(f"at least {3 + 5 * self.schools} users "
                             "(3 at the district and 5 per school)")

    @property
    def district_users(self) -> int:
        return min(DISTRICT_USERS, max(3, self.users // 400))


@dataclass
class Rows:
    """What to insert, table by table, in an order that satisfies foreign keys."""

    organizations: list[dict] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)
    departments: list[dict] = field(default_factory=list)
    user_departments: list[dict] = field(default_factory=list)
    terms: list[dict] = field(default_factory=list)
    plans: list[dict] = field(default_factory=list)
    plan_nodes: list[dict] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)
    task_supporting_users: list[dict] = field(default_factory=list)
    task_supporting_departments: list[dict] = field(default_factory=list)
    task_events: list[dict] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)  # role key → e-mail

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in TABLE_ORDER}


TABLE_ORDER = ("organizations", "users", "departments", "user_departments", "terms", "plans",
               "plan_nodes", "tasks", "task_supporting_users", "task_supporting_departments",
               "task_events")
ID_TABLES = ("organizations", "users", "departments", "terms", "plans", "plan_nodes", "tasks",
             "task_events")


class _Ids:
    """Next free id per table (explicit ids let one pass link rows without RETURNING)."""

    def __init__(self, first: dict[str, int]):
        self._next = {table: first.get(table, 1) for table in ID_TABLES}

    def __call__(self, table: str) -> int:
        value = self._next[table]
        self._next[table] = value + 1
        return value


# ----------------------------------------------------------------------------- plans


@dataclass
class Node:
    label: str
    number: str
    level: int
    heading: str
    text: str
    kind: str                      # section | measure
    children: list["Node"] = field(default_factory=list)
    department: str | None = None  # owning department (sections)
    due: date | None = None        # measures: from the time phrase
    recurrence: str | None = None  # measures: monthly / weekly / termly
    target: str | None = None


def _term_months(term: TermDates) -> list[tuple[str, date]]:
    """(三月份, last day of March clipped to the term) for every month of the term."""
    months, first = [], term.start.replace(day=1)
    while first <= term.end:
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        months.append((f"{MONTH_NAMES[first.month - 1]}份", min(following - timedelta(days=1),
                                                                  term.end)))
        first = following
    return months


def _measure(rng: random.Random, action: str, purpose: str, term: TermDates,
             recurrence: str | None) -> tuple[str, str, date | None, str | None]:
    """Heading, full text, due date and target of one measure, worded with variety."""
    months = _term_months(term)
    phrase, due = "", None
    if recurrence == "monthly":
        phrase = rng.choice(("每月", "每月定期", "每月按时"))
    elif recurrence == "weekly":
        phrase = rng.choice(("每周", "每周定期"))
    elif recurrence == "termly":
        phrase = "每学期"
    else:
        roll = rng.random()
        if roll < 0.15:
            phrase, due = rng.choice(("开学初", "学期初")), term.start + timedelta(days=14)
        elif roll < 0.25:
            phrase, due = "期中", term.mid + timedelta(days=4)
        elif roll < 0.35:
            phrase, due = rng.choice(("期末", "学期末")), term.end - timedelta(days=7)
        elif roll < 0.7:
            phrase, due = rng.choice(months)
            if rng.random() < 0.4:
                phrase = phrase.removesuffix("份") + "底前"
    target = None
    roll = rng.random()
    if "100%" in purpose:
        target = "100%"
    elif roll < 0.12:
        target = f"{rng.choice((90, 95, 98, 100))}%"
        purpose += f"，参与率达到{target}"
    elif roll < 0.2:
        n = rng.choice((2, 3, 4, 6))
        target = f"不少于{n}次"
        purpose += f"，全学期{target}"
    heading = f"{phrase}{action}"
    detail = rng.choice(("", "", "由各年级组具体落实，", "做到有计划、有过程、有记录，",
                         "活动结束后及时收集过程性材料，"))
    text_ = f"{heading}，{detail}{purpose}。"
    return heading, text_, due, target


def build_plan_tree(rng: random.Random, term: TermDates, measure_specs: list[str | None],
                    departments: list[str]) -> list[Node]:
    """Sections 一、 with sub-sections （一） (sometimes skipped) holding measures 1. 2. …

    ``measure_specs`` gives each measure's recurrence (None for one-off measures); the tree
    holds exactly that many measures, in that order."""
    sections = list(SECTIONS)
    rng.shuffle(sections)
    sections = sections[:min(len(sections), max(3, len(measure_specs) // 8))]
    # Share the measures out over the sections, unevenly as real plans do.
    weights = [rng.uniform(0.6, 1.4) for _ in sections]
    total = sum(weights)
    shares = [int(len(measure_specs) * w / total) for w in weights]
    shares[0] += len(measure_specs) - sum(shares)
    tree, cursor = [], 0
    for (title, dept, subheadings, measures), share in zip(sections, shares):
        if share == 0:
            continue
        number = chinese_number(len(tree) + 1)
        section = Node(f"{number}、", number, 1, title, title, "section", department=dept)
        specs = measure_specs[cursor:cursor + share]
        cursor += share
        pool: list[tuple[str, str]] = []     # the section's measures, each once per round
        flat = share < 6 or rng.random() < 0.25        # no （一） level: 一、 then 1.
        groups = [specs] if flat else _split(rng, specs, min(len(subheadings), 2 + share // 12))
        for g, group in enumerate(groups):
            parent = section
            if not flat:
                sub_number = f"（{chinese_number(g + 1)}）"
                heading = subheadings[g]
                parent = Node(sub_number, sub_number, 2, heading, heading, "section",
                              department=section.department)
                section.children.append(parent)
            for m, recurrence in enumerate(group):
                if not pool:
                    pool = rng.sample(measures, len(measures))
                action, purpose = pool.pop()
                heading, body, due, target = _measure(rng, action, purpose, term, recurrence)
                parent.children.append(Node(f"{m + 1}.", str(m + 1), parent.level + 1, heading,
                                            body, "measure", due=due, recurrence=recurrence,
                                            target=target))
        tree.append(section)
    return tree


def _split(rng: random.Random, items: list, parts: int) -> list[list]:
    parts = max(1, min(parts, len(items)))
    cuts = sorted(rng.sample(range(1, len(items)), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, len(items)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:])]


def walk(nodes: list[Node], parent: Node | None = None):
    for node in nodes:
        yield node, parent
        yield from walk(node.children, node)


def plan_text(tree: list[Node], title: str) -> str:
    """The plan as its author would have typed it (input for the parser benchmark)."""
    lines = [title, "为全面贯彻党的教育方针，落实立德树人根本任务，结合我校实际，制定本学期工作计划。"]
    for node, _parent in walk(tree):
        lines.append(f"{node.label}{node.text if node.kind == 'measure' else node.heading}")
    return "\n".join(lines) + "\n"


def sample_plan_text(chars: int = 20_000, seed: int = 1, today: date | None = None) -> str:
    """A plan of at least ``chars`` characters in the generator's wording."""
    term = default_term(today or date.today())
    rng = random.Random(seed)
    measures = 40
    while True:
        specs = [_recurrence(rng) for _ in range(measures)]
        text_ = plan_text(build_plan_tree(random.Random(seed), term, specs,
                                          list(CORE_DEPARTMENTS + EXTRA_DEPARTMENTS)),
                          "实验小学学校工作计划")
        if len(text_) >= chars:
            return text_
        measures = int(measures * chars / len(text_)) + 5


def _recurrence(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.04:
        return "monthly"
    if roll < 0.05:
        return "termly"
    if roll < 0.055:
        return "weekly"
    return None


# ----------------------------------------------------------------------------- people


def _names(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
            for _ in range(count)]


def _school_names(rng: random.Random, count: int) -> list[str]:
    names, seen = [], set()
    combos = [p + k for k in SCHOOL_KINDS for p in PLACES]
    rng.shuffle(combos)
    for i in range(count):
        name = combos[i % len(combos)]
        if name in seen:
            name = f"{name}（{chinese_number(i // len(combos) + 1)}校区）"
        seen.add(name)
        names.append(name)
    return names


def _utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZoneInfo(TIMEZONE)).astimezone(timezone.utc)


# ----------------------------------------------------------------------------- the district


@dataclass
class _School:
    org_id: int
    number: int
    users: list[dict]
    leaders: list[int]
    departments: dict[str, int]
    members: dict[int, list[int]]     # department id → user ids
    requires_acceptance: bool
    staff_id: int                     # the known staff account


def build_district(spec: Spec, first_ids: dict[str, int] | None = None, *,
                   password_hash: str = "") -> Rows:
    """All rows of the district (pure; deterministic for the spec and the first ids)."""
    rng = random.Random(spec.seed)
    ids = _Ids(first_ids or {})
    rows = Rows()
    term = default_term(spec.today)
    created = _utc(term.start - timedelta(days=7), 9)

    district_id = ids("organizations")
    rows.organizations.append({
        "id": district_id, "name": rng.choice(("城区", "高新区", "经开区", "滨海新区")) + "教育和体育局",
        "kind": "district", "parent_id": None, "timezone": TIMEZONE,
        "requires_acceptance": False, "stale_after_days": 14, "created_at": created})
    school_names = _school_names(rng, spec.schools)
    per_school, extra = divmod(spec.users - spec.district_users, spec.schools)

    # The district: departments, staff, term and a plan without tasks.
    district = _people(rng, rows, ids, district_id, DISTRICT_DOMAIN, spec.district_users,
                       list(DISTRICT_DEPARTMENTS), password_hash, created, prefix="d")
    district_term = _term(rows, ids, district_id, term)
    _district_plan(rng, rows, ids, district_id, district_term, district.leaders[0], created,
                   term)
    rows.accounts.update({f"district_{local}": f"{local}@{DISTRICT_DOMAIN}"
                          for local in KNOWN_LOCALS})

    for number in range(1, spec.schools + 1):
        org_id = ids("organizations")
        rows.organizations.append({
            "id": org_id, "name": school_names[number - 1], "kind": "school",
            "parent_id": district_id, "timezone": TIMEZONE,
            "requires_acceptance": number % 3 != 0, "stale_after_days": rng.choice((14, 14, 21)),
            "created_at": created})
        names = list(CORE_DEPARTMENTS) + rng.sample(EXTRA_DEPARTMENTS, rng.randint(0, 5))
        count = per_school + (1 if number <= extra else 0)
        school = _people(rng, rows, ids, org_id, school_domain(number), count, names,
                         password_hash, created, prefix="t")
        school.number = number
        school.requires_acceptance = number % 3 != 0
        term_id = _term(rows, ids, org_id, term)
        _school_plan(rng, rows, ids, school, term_id, term, spec, created)
        if number == 1:
            rows.accounts.update({f"school_{local}": f"{local}@{school_domain(1)}"
                                  for local in KNOWN_LOCALS})
    return rows


def _people(rng, rows: Rows, ids: _Ids, org_id: int, domain: str, count: int,
            department_names: list[str], password_hash: str, created: datetime,
            prefix: str) -> _School:
    """Users (the known accounts first), departments with heads, memberships."""
    names = _names(rng, count)
    users, leaders = [], []
    leader_count = max(2, count // 20)
    for i in range(count):
        uid = ids("users")
        if i < len(KNOWN_LOCALS):
            local = role = KNOWN_LOCALS[i]
        else:
            local, role = f"{prefix}{uid:05d}", "leader" if i < 2 + leader_count else "staff"
        user = {"id": uid, "organization_id": org_id, "name": names[i],
                "email": f"{local}@{domain}",
                "phone": None if rng.random() < 0.1 else f"1{rng.choice('3589')}9{uid:08d}",
                "password_hash": password_hash, "role": role, "locale": None, "active": True,
                "created_at": created, "last_login_at": None, "calendar_token": None}
        if i >= len(KNOWN_LOCALS) and rng.random() < 0.01:
            user["active"] = False          # a few who left
        users.append(user)
        if role in ("admin", "leader"):
            leaders.append(uid)
    rows.users.extend(users)

    departments: dict[str, int] = {}
    members: dict[int, list[int]] = {}
    office = department_names[0]             # 校长室 / 局办公室: the leaders
    staff_depts = department_names[1:]
    assignment: dict[int, list[str]] = {}
    for i, user in enumerate(users):
        if user["role"] in ("admin", "leader"):
            chosen = [office] + ([rng.choice(staff_depts)] if rng.random() < 0.5 else [])
        elif i == 2:                        # the known staff account: 教务处 (or the second)
            chosen = ["教务处" if "教务处" in staff_depts else staff_depts[1]]
        else:
            roll = rng.random()
            chosen = ([] if roll < 0.05 else rng.sample(staff_depts, 2) if roll < 0.3
                      else [rng.choice(staff_depts)])
        assignment[user["id"]] = chosen
    for name in department_names:
        dept_id = ids("departments")
        departments[name] = dept_id
        members[dept_id] = [uid for uid, chosen in assignment.items() if name in chosen]
    for name, dept_id in departments.items():
        people = members[dept_id]
        rows.departments.append({"id": dept_id, "organization_id": org_id, "name": name,
                                 "head_id": people[0] if people else None})
        rows.user_departments.extend({"user_id": uid, "department_id": dept_id}
                                     for uid in people)
    return _School(org_id=org_id, number=0, users=users, leaders=leaders,
                   departments=departments, members=members, requires_acceptance=False,
                   staff_id=users[2]["id"])


def _term(rows: Rows, ids: _Ids, org_id: int, term: TermDates) -> int:
    term_id = ids("terms")
    rows.terms.append({"id": term_id, "organization_id": org_id, "name": term.name,
                       "school_year": term.school_year, "start_date": term.start,
                       "mid_date": term.mid, "end_date": term.end})
    return term_id


def _add_plan(rows: Rows, ids: _Ids, org_id: int, term_id: int, title: str, tree: list[Node],
              author: int, created: datetime) -> tuple[int, dict[int, int]]:
    """The plan and its nodes; returns the plan id and python id(node) → node id."""
    plan_id = ids("plans")
    rows.plans.append({"id": plan_id, "organization_id": org_id, "term_id": term_id,
                       "title": title, "status": "active", "source_filename": f"{title}.docx",
                       "source_text": plan_text(tree, title), "preamble": "", "trailer": "",
                       "created_by_id": author, "created_at": created})
    node_ids: dict[int, int] = {}
    for position, (node, parent) in enumerate(walk(tree)):
        node_id = ids("plan_nodes")
        node_ids[id(node)] = node_id
        rows.plan_nodes.append({
            "id": node_id, "plan_id": plan_id,
            "parent_id": node_ids[id(parent)] if parent else None, "position": position,
            "label": node.label, "number": node.number, "level": node.level,
            "heading": node.heading, "text": node.text, "kind": node.kind,
            "hints": None if node.kind == "section" else {
                "owners": [], "due": node.due.isoformat() if node.due else None,
                "time_phrase": None, "recurrence": node.recurrence, "target": node.target},
            "source_line": position + 3})
    return plan_id, node_ids


def _district_plan(rng, rows: Rows, ids: _Ids, org_id: int, term_id: int, author: int,
                   created: datetime, term: TermDates) -> None:
    tree = []
    for s, (heading, measures) in enumerate(DISTRICT_SECTIONS):
        number = chinese_number(s + 1)
        section = Node(f"{number}、", number, 1, heading, heading, "section")
        for m, measure in enumerate(measures):
            due = term.start + timedelta(days=rng.randint(20, (term.end - term.start).days))
            section.children.append(Node(f"{m + 1}.", str(m + 1), 2, measure, f"{measure}。",
                                         "measure", due=due))
        tree.append(section)
    _add_plan(rows, ids, org_id, term_id, f"{term.school_year}学年教育工作要点", tree, author,
              created)


def _school_plan(rng, rows: Rows, ids: _Ids, school: _School, term_id: int, term: TermDates,
                 spec: Spec, created: datetime) -> None:
    """The plan, exactly ``tasks_per_school`` tasks, their owners and some history."""
    occurrences = {rule: recurrence_occurrences(rule, term.start, term.end)
                   for rule in ("monthly", "weekly", "termly")}
    specs: list[str | None] = []
    budget = spec.tasks_per_school
    while budget > 0:
        rule = _recurrence(rng)
        if rule is not None and 1 + len(occurrences[rule]) <= budget:
            specs.append(rule)
            budget -= 1 + len(occurrences[rule])
        else:
            specs.append(None)
            budget -= 1
    org_name = next(o["name"] for o in rows.organizations if o["id"] == school.org_id)
    tree = build_plan_tree(rng, term, specs, list(school.departments))
    title = f"{org_name}{term.name}工作计划"
    author = school.leaders[1] if len(school.leaders) > 1 else school.leaders[0]
    plan_id, node_ids = _add_plan(rows, ids, school.org_id, term_id, title, tree, author,
                                  created)

    measures = [(node, parent) for node, parent in walk(tree) if node.kind == "measure"]
    section_of: dict[int, Node] = {}
    for node, parent in walk(tree):
        if node.kind == "section":
            section_of[id(node)] = node
    parents, children = [], []
    for index, (node, parent) in enumerate(measures):
        dept_name = section_of[id(parent)].department if parent else None
        dept_id = school.departments.get(dept_name) or school.departments["教务处"]
        task = _task_row(rng, ids, school, plan_id, node_ids[id(node)], node, dept_id, term,
                         spec.today, created, index)
        parents.append(task)
        if node.recurrence:
            for occ in occurrences[node.recurrence]:
                child = dict(task, id=ids("tasks"), parent_id=task["id"], recurrence=None,
                             title=f"{task['title']}（{occ.label}）"[:300], description="",
                             start_date=occ.start, due_date=occ.due)
                _simulate(rng, child, school, spec.today, created)
                children.append(child)
    for task in parents:
        _simulate(rng, task, school, spec.today, created)
    _roll_up(parents, children)
    tasks = parents + children
    rows.tasks.extend(tasks)
    _supporting(rng, rows, school, parents)  # occurrences get none, as in the app
    _history(rng, rows, ids, school, tasks, spec.today, created)


def _task_row(rng, ids: _Ids, school: _School, plan_id: int, node_id: int, node: Node,
              dept_id: int, term: TermDates, today: date, created: datetime,
              index: int) -> dict:
    due = node.due
    if due is None or node.recurrence:
        due = term.end if node.recurrence else \
            term.start + timedelta(days=rng.randint(10, (term.end - term.start).days))
    people = school.members.get(dept_id) or []
    if index % 20 == 3:
        lead_user = school.staff_id          # the known staff account leads ~5 %
    elif not people or rng.random() < 0.08:
        lead_user = None                     # department only, not yet assigned
    else:
        lead_user = rng.choice(people)
    return {
        "id": ids("tasks"), "organization_id": school.org_id, "plan_id": plan_id,
        "plan_node_id": node_id, "parent_id": None, "title": node.heading[:300],
        "description": node.text, "lead_user_id": lead_user, "lead_department_id": dept_id,
        "start_date": term.start, "due_date": due, "recurrence": node.recurrence,
        "status": "not_started", "progress": 0, "target_text": node.target,
        "target_value": None, "target_unit": None, "actual_value": None,
        "acceptance": "not_required", "completed_at": None, "accepted_at": None,
        "accepted_by_id": None, "last_activity_at": created, "version": 1,
        "created_at": created, "updated_at": created}


def _simulate(rng, task: dict, school: _School, today: date, created: datetime) -> None:
    """Where the task stands today: status, progress, completion and acceptance."""
    start, due = task["start_date"], task["due_date"]
    if start > today:
        return
    roll = rng.random()
    if roll < 0.03:
        status = "cancelled"
    elif roll < 0.08:
        status = "blocked"
    elif due < today:
        status = "done" if roll < 0.75 else ("in_progress" if roll < 0.9 else "not_started")
    else:
        status = "done" if roll < 0.22 else ("in_progress" if roll < 0.65 else "not_started")
    task["status"] = status
    if status == "in_progress":
        task["progress"] = rng.choice((10, 20, 30, 40, 50, 60, 70, 80))
    elif status == "blocked":
        task["progress"] = rng.choice((10, 20, 40))
    elif status == "done":
        task["progress"] = 100
        finish = min(today, due + timedelta(days=rng.randint(-20, 5)))
        finish = max(finish, start)
        task["completed_at"] = _utc(finish, rng.randint(8, 17), rng.randrange(60))
        if school.requires_acceptance:
            if finish < today and rng.random() < 0.65:
                task["acceptance"] = "accepted"
                task["accepted_by_id"] = rng.choice(school.leaders)
                task["accepted_at"] = _utc(min(today, finish + timedelta(days=rng.randint(0, 4))),
                                           rng.randint(8, 17))
            else:
                task["acceptance"] = "pending"
    if status == "in_progress" and school.requires_acceptance and rng.random() < 0.03:
        task["acceptance"] = "rejected"      # sent back by a leader
    if status != "not_started":
        last = task["completed_at"] or _utc(
            start + timedelta(days=rng.randint(0, max(0, (today - start).days))), 10)
        task["last_activity_at"] = max(last, created)
        task["updated_at"] = task["last_activity_at"]


def _roll_up(parents: list[dict], children: list[dict]) -> None:
    """A recurring measure's status and progress follow its occurrences (as in the app)."""
    by_parent: dict[int, list[dict]] = {}
    for child in children:
        by_parent.setdefault(child["parent_id"], []).append(child)
    for task in parents:
        occ = [c for c in by_parent.get(task["id"], []) if c["status"] != "cancelled"]
        if not occ:
            continue
        done = sum(c["status"] == "done" for c in occ)
        started = sum(c["status"] in ("done", "in_progress", "blocked") for c in occ)
        task["status"] = ("done" if done == len(occ) else
                          "in_progress" if started else "not_started")
        task["progress"] = round(100 * done / len(occ))
        task["completed_at"] = max(c["completed_at"] for c in occ) if done == len(occ) else None
        task["acceptance"], task["accepted_at"], task["accepted_by_id"] = \
            "not_required", None, None
        task["last_activity_at"] = max(c["last_activity_at"] for c in occ)


def _supporting(rng, rows: Rows, school: _School, tasks: list[dict]) -> None:
    dept_ids = list(school.departments.values())
    staff = [u["id"] for u in school.users if u["role"] == "staff" and u["active"]]
    for i, task in enumerate(tasks):
        if rng.random() < 0.25:
            for dept in rng.sample(dept_ids, rng.choice((1, 1, 2))):
                if dept != task["lead_department_id"]:
                    rows.task_supporting_departments.append(
                        {"task_id": task["id"], "department_id": dept})
        helpers = set()
        if rng.random() < 0.15:
            helpers.update(rng.sample(staff, min(len(staff), rng.choice((1, 2)))))
        if i % 37 == 5:
            helpers.add(school.staff_id)     # the known staff account supports ~3 %
        helpers.discard(task["lead_user_id"])
        rows.task_supporting_users.extend({"task_id": task["id"], "user_id": uid}
                                          for uid in sorted(helpers))


def _history(rng, rows: Rows, ids: _Ids, school: _School, tasks: list[dict], today: date,
             created: datetime) -> None:
    """About 20 % of the tasks get 1–5 events that end in the task's present state."""
    for task in tasks:
        if rng.random() >= EVENT_SHARE or task["start_date"] > today:
            continue
        actor = task["lead_user_id"] or rng.choice(school.leaders)
        first = max(task["start_date"], created.date())
        last = task["completed_at"].date() if task["completed_at"] else today
        last = max(first, min(last, today))
        steps = _steps(rng, task)
        days = sorted(first + timedelta(days=rng.randint(0, (last - first).days))
                      for _ in steps)
        when = None
        for (kind, changes, note, by_leader), day in zip(steps, days):
            when = _utc(day, rng.randint(8, 20), rng.randrange(60))
            if when < created:
                when = created + timedelta(minutes=len(rows.task_events) % 50 + 1)
            rows.task_events.append({
                "id": ids("task_events"), "task_id": task["id"],
                "actor_id": rng.choice(school.leaders) if by_leader else actor,
                "created_at": when, "kind": kind, "changes": changes, "note": note})
        if when is not None:
            task["last_activity_at"] = max(task["last_activity_at"], when)
            task["updated_at"] = task["last_activity_at"]
            task["version"] = 1 + len(steps)


def _steps(rng, task: dict) -> list[tuple[str, dict, str, bool]]:
    """Event kinds, changes and notes leading from not started to the task's state."""
    status, progress = task["status"], task["progress"]
    wanted = rng.randint(1, 5)
    steps: list[tuple[str, dict, str, bool]] = []
    if status == "not_started":
        return [("note", {}, "已收到任务，正在制定方案。", False)]
    if status == "cancelled":
        return [("cancelled", {"status": ["not_started", "cancelled"]},
                 "因上级安排调整，本学期不再开展。", True)]
    # Progress steps up to the final value.
    final = progress if status != "done" else rng.choice((60, 70, 80, 90))
    closing = ({"done": 1, "blocked": 1}.get(status, 0)
               + {"accepted": 1, "rejected": 2}.get(task["acceptance"], 0))
    intermediate = max(1, min(wanted - closing, 3))
    values = sorted({max(10, final * (k + 1) // intermediate) // 10 * 10
                     for k in range(intermediate)}) or [final]
    before_status, before = "not_started", 0
    for value in values:
        changes = {"progress": [before, value]}
        if before_status != "in_progress":
            changes["status"] = [before_status, "in_progress"]
        steps.append(("updated", changes, rng.choice(NOTES_PROGRESS), False))
        before_status, before = "in_progress", value
    if status == "done":
        steps.append(("updated", {"status": ["in_progress", "done"], "progress": [before, 100]},
                      rng.choice(NOTES_DONE), False))
        if task["acceptance"] == "accepted":
            steps.append(("accepted", {"acceptance": ["pending", "accepted"]},
                          rng.choice(NOTES_ACCEPTED), True))
    elif status == "blocked":
        steps.append(("updated", {"status": ["in_progress", "blocked"]},
                      rng.choice(NOTES_BLOCKED), False))
    elif task["acceptance"] == "rejected":
        steps.append(("updated", {"status": ["in_progress", "done"], "progress": [before, 100]},
                      rng.choice(NOTES_DONE), False))
        steps.append(("sent_back", {"acceptance": ["pending", "rejected"],
                                    "status": ["done", "in_progress"],
                                    "progress": [100, progress]},
                      rng.choice(NOTES_SENT_BACK), True))
    return steps


# ----------------------------------------------------------------------------- database


@dataclass(frozen=True)
class Result:
    district_id: int
    counts: dict[str, int]
    accounts: dict[str, str]
    seconds: float


def first_free_ids(session: Session) -> dict[str, int]:
    from tracker.models import Base

    tables = Base.metadata.tables
    return {name: (session.execute(select(func.max(tables[name].c.id))).scalar() or 0) + 1
            for name in ID_TABLES}


def district_exists(session: Session) -> bool:
    from tracker.models import User

    return session.execute(select(User.id).where(
        User.email == f"leader@{DISTRICT_DOMAIN}")).first() is not None


def generate(session: Session, spec: Spec, *, password: str = BENCH_PASSWORD) -> Result:
    """Insert the district described by ``spec``; flushes, the caller commits."""
    import time as _time

    from werkzeug.security import generate_password_hash

    import tracker.models.org as org_models
    from tracker.models import Base

    started = _time.perf_counter()
    # One hash for every account: scrypt costs ~50 ms, ten thousand of them 8 minutes.
    password_hash = generate_password_hash(password, method=org_models.PASSWORD_HASH_METHOD)
    rows = build_district(spec, first_free_ids(session), password_hash=password_hash)
    tables = Base.metadata.tables
    for name in TABLE_ORDER:
        data = getattr(rows, name)
        for start in range(0, len(data), CHUNK):
            session.execute(insert(tables[name]), data[start:start + CHUNK])
    if session.get_bind().dialect.name == "postgresql":
        # Explicit ids leave the sequences behind; move them past the new rows.
        for name in ID_TABLES:
            session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(max(id), 1) FROM {name}))"))
    session.flush()
    return Result(district_id=rows.organizations[0]["id"], counts=rows.counts(),
                  accounts=rows.accounts, seconds=_time.perf_counter() - started)


def analyze(session: Session) -> None:
    """Refresh the planner's statistics after a bulk load (PostgreSQL and SQLite)."""
    session.execute(text("ANALYZE"))
