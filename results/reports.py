"""«Аналитика» (SPEC §8): the reports of a work for the groups a user may see, added up by SQL
from the schools' ``Summary`` rows, never from the participants' rows.

A report page costs one query for all its groups at once: a conditional SUM per group of the
counts and of the task and score arrays' elements. Every report is a ``Table`` that the page
shows and the .xlsx download writes, so both say the same.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, F, FloatField, IntegerField, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, NullIf

from accounts.logins import Role

from .models import Summary

MARKS = (2, 3, 4, 5)
COUNTS = [
    "participants",
    "absent",
    *[f"marks_{m}" for m in MARKS],
    "lowered",
    "confirmed",
    "raised",
    "score_sum",
]


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    column: str | None  # the Summary column that picks the group's rows; None for all of them
    value: object = None

    @property
    def condition(self):
        return Q(**{self.column: self.value}) if self.column else Q()


def groups_for(user, school=None):
    """The school (for a school), its municipality, its region, and «Вся выборка»."""
    groups = []
    role = Role(user.role)
    if school is not None:
        groups.append(Group("school", f"ОО {school.region_id}{school.code}", "school_id", school.pk))
        if school.municipality_id:
            groups.append(Group("municipality", "Муниципалитет", "municipality_id", school.municipality_id))
    elif role == Role.MUNICIPAL_VPR:
        from accounts.models import Municipality

        municipality = Municipality.objects.filter(
            region_id=user.region_id, code=user.municipality_code
        ).first()
        groups.append(
            Group("municipality", "Муниципалитет", "municipality_id", municipality.pk if municipality else -1)
        )
    groups.append(Group("region", f"Регион {user.region_id}", "region_id", user.region_id))
    groups.append(Group("all", "Вся выборка", None))
    return groups


@dataclass
class Figures:
    group: Group
    schools: int = 0
    counts: dict = field(default_factory=dict)
    tasks: list = field(default_factory=list)
    scores: list = field(default_factory=list)

    @property
    def participants(self):
        return self.counts.get("participants") or 0

    def share(self, count):
        return 100.0 * count / self.participants if self.participants else None


def figures_of(work, groups, tasks):
    """Each group's sums for ``work`` in one query, whatever the number of groups or schools: a
    conditional SUM per group of every count and of every element of the task and score arrays
    (``tasks->>n`` on PostgreSQL, ``json_extract`` on SQLite) — no row per element is made."""
    max_total = sum(t.max for t in tasks)
    sums = {}
    for group in groups:
        condition = group.condition
        sums[f"{group.key}__schools"] = Count("pk", filter=condition)
        for name in COUNTS:
            sums[f"{group.key}__{name}"] = Sum(name, filter=condition)
        for n in range(len(tasks)):
            sums[f"{group.key}__t{n}"] = Sum(Cast(KT(f"tasks__{n}"), IntegerField()), filter=condition)
        for n in range(max_total + 1):
            sums[f"{group.key}__s{n}"] = Sum(Cast(KT(f"scores__{n}"), IntegerField()), filter=condition)
    row = Summary.objects.filter(work=work).aggregate(**sums)
    result = []
    for group in groups:
        key = group.key
        found = Figures(group=group, schools=row[f"{key}__schools"] or 0)
        found.counts = {name: row[f"{key}__{name}"] or 0 for name in COUNTS}
        found.tasks = [row[f"{key}__t{n}"] or 0 for n in range(len(tasks))]
        found.scores = [row[f"{key}__s{n}"] or 0 for n in range(max_total + 1)]
        result.append(found)
    return result


# ------------------------------------------------------------------ the reports as tables


@dataclass
class Table:
    slug: str
    title: str
    header: list
    rows: list
    note: str = ""


def marks_table(figures):
    rows = [
        [f.group.title, f.schools, f.participants, *[f.share(f.counts[f"marks_{m}"]) for m in MARKS]]
        for f in figures
    ]
    return Table(
        "marks",
        "Статистика по отметкам",
        ["Группа", "ОО", "Участников", "«2», %", "«3», %", "«4», %", "«5», %"],
        rows,
        "Участники — выполнявшие работу; доли — от их числа.",
    )


def scores_table(figures):
    width = len(figures[0].scores) if figures else 0
    rows = [[score, *[f.share(f.scores[score]) for f in figures]] for score in range(width)]
    return Table(
        "scores",
        "Распределение первичных баллов",
        ["Первичный балл", *[f"{f.group.title}, %" for f in figures]],
        rows,
        "Доля участников группы, набравших данный первичный балл.",
    )


def tasks_table(figures, tasks):
    rows = []
    for n, task in enumerate(tasks):
        row = [task.label, task.max]
        for f in figures:
            row.append(100.0 * f.tasks[n] / (task.max * f.participants) if f.participants else None)
        rows.append(row)
    return Table(
        "tasks",
        "Выполнение заданий",
        ["Задание", "Макс. балл", *[f"{f.group.title}, %" for f in figures]],
        rows,
        "Доля от максимального балла задания, набранная участниками группы в сумме.",
    )


def journal_table(figures):
    rows = []
    for f in figures:
        row = [f.group.title]
        for name in ("lowered", "confirmed", "raised"):
            row += [f.counts[name], f.share(f.counts[name])]
        rows.append(row)
    return Table(
        "journal",
        "Соответствие отметок за выполненную работу и отметок по журналу",
        ["Группа", "Понизили", "%", "Подтвердили", "%", "Повысили", "%"],
        rows,
        "Понизили — отметка за работу ниже отметки по журналу; повысили — выше.",
    )


# ------------------------------------------------------------------ a coordinator's schools


def _share(column):
    return Cast(F(column), FloatField()) * 100.0 / NullIf(F("participants"), 0)


SORTS = {
    "code": ("Код ОО", ["region_id", "school__code"]),
    "participants": ("Участников", ["participants"]),
    "share_2": ("«2», %", ["share_2"]),
    "share_5": ("«5», %", ["share_5"]),
    "mean": ("Средний балл", ["mean"]),
    "raised": ("Повысили, %", ["share_raised"]),
}


def schools_side_by_side(work, area, sort="code", descending=False):
    """The area's schools that uploaded results of ``work``, one row each, sorted by a column
    of ``SORTS``; the page shows them a page at a time, the .xlsx all of them."""
    order = SORTS.get(sort, SORTS["code"])[1]
    summaries = (
        Summary.objects.filter(work=work, school__in=area.order_by().values("pk"))
        .select_related("school", "municipality")
        .annotate(
            **{f"share_{m}": _share(f"marks_{m}") for m in MARKS},
            share_lowered=_share("lowered"),
            share_confirmed=_share("confirmed"),
            share_raised=_share("raised"),
            mean=Cast(F("score_sum"), FloatField()) / NullIf(F("participants"), 0),
        )
    )
    direction = [F(n).desc(nulls_last=True) if descending else F(n).asc(nulls_last=True) for n in order]
    return summaries.order_by(*direction, "school__code")


SCHOOLS_HEADER = [
    "Код ОО",
    "ОО",
    "Муниципалитет",
    "Участников",
    "Отсутствовали",
    "«2», %",
    "«3», %",
    "«4», %",
    "«5», %",
    "Средний первичный балл",
    "Понизили, %",
    "Подтвердили, %",
    "Повысили, %",
]


def school_row(s):
    return [
        f"{s.region_id}{s.school.code}",
        s.school.name,
        s.municipality.name if s.municipality else "",
        s.participants,
        s.absent,
        s.share_2,
        s.share_3,
        s.share_4,
        s.share_5,
        s.mean,
        s.share_lowered,
        s.share_confirmed,
        s.share_raised,
    ]


# ------------------------------------------------------------------ signs of biased grading


@dataclass(frozen=True)
class BiasRule:
    min_participants: int
    fives_above_region: float  # percentage points
    raised_share: float  # percent

    @classmethod
    def from_settings(cls):
        return cls(
            settings.RESULTS_BIAS_MIN_PARTICIPANTS,
            settings.RESULTS_BIAS_FIVES_ABOVE_REGION,
            settings.RESULTS_BIAS_RAISED_SHARE,
        )

    def text(self, region_fives):
        shown = "—" if region_fives is None else f"{region_fives:.1f}".replace(".", ",")
        return (
            f"ОО попадает в список, если работу в ней выполняли не менее {self.min_participants} участников, "
            f"доля отметок «5» выше доли по региону ({shown} %) не менее чем на "
            f"{self.fives_above_region:g} процентных пунктов и не менее {self.raised_share:g} % участников "
            "получили за работу отметку выше, чем по журналу (повысили)."
        )


def biased_schools(work, area, region_fives, rule):
    """The area's schools matching ``rule`` against the region's share of 5s."""
    if region_fives is None:
        return Summary.objects.none()
    return (
        schools_side_by_side(work, area, "share_5", descending=True)
        .filter(participants__gte=rule.min_participants)
        .filter(share_5__gte=region_fives + rule.fives_above_region, share_raised__gte=rule.raised_share)
    )
