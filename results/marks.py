"""Marks and a school's sums from its participants' rows: pure functions, no database."""

from dataclasses import dataclass, field


def mark_for(primary, scale):
    """The mark of a primary score through ``scale`` (the lowest scores of 3, 4 and 5)."""
    scale_3, scale_4, scale_5 = scale
    if primary >= scale_5:
        return 5
    if primary >= scale_4:
        return 4
    if primary >= scale_3:
        return 3
    return 2


def primary_of(scores):
    """The sum of the task points; «Х» (None) scores 0."""
    return sum(points or 0 for points in scores)


@dataclass
class Sums:
    """What ``Summary`` keeps for one school and work."""

    participants: int = 0
    absent: int = 0
    marks: dict = field(default_factory=lambda: {2: 0, 3: 0, 4: 0, 5: 0})
    lowered: int = 0
    confirmed: int = 0
    raised: int = 0
    score_sum: int = 0
    tasks: list = field(default_factory=list)
    scores: list = field(default_factory=list)


def sums_of(rows, *, task_count, max_total, scale):
    """Add up participants' rows: (scores or None when absent, journal mark or None)."""
    sums = Sums(tasks=[0] * task_count, scores=[0] * (max_total + 1))
    for scores, journal in rows:
        if scores is None:
            sums.absent += 1
            continue
        primary = primary_of(scores)
        mark = mark_for(primary, scale)
        sums.participants += 1
        sums.marks[mark] += 1
        sums.score_sum += primary
        sums.scores[primary] += 1
        for n, points in enumerate(scores):
            sums.tasks[n] += points or 0
        if journal is not None:
            if mark < journal:
                sums.lowered += 1
            elif mark == journal:
                sums.confirmed += 1
            else:
                sums.raised += 1
    return sums
