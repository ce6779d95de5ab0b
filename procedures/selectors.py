"""Reads that know who may see and change what in a procedure."""

from dataclasses import dataclass

from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.formats import date_format

from accounts.logins import Role
from accounts.models import School

from .models import Application, ApplicationWork, Material, Procedure, Stage, StageRole

# The kinds of procedure a cabinet role applies for (schools) or follows (coordinators).
SCHOOL_KINDS = {Role.SCHOOL: {"vpr", "kko"}, Role.SCHOOL_NIKO: {"niko"}}
COORDINATOR_KINDS = {
    Role.REGIONAL_VPR: {"vpr"},
    Role.MUNICIPAL_VPR: {"vpr"},
    Role.REGIONAL_NIKO: {"niko"},
    Role.REGIONAL_SPO: {"spo"},
    Role.REGIONAL_KKO: {"kko"},
}
STAGE_ROLE = {
    Role.SCHOOL: StageRole.SCHOOL,
    Role.SCHOOL_NIKO: StageRole.SCHOOL,
    Role.MUNICIPAL_VPR: StageRole.MUNICIPAL,
    Role.REGIONAL_VPR: StageRole.REGIONAL,
    Role.REGIONAL_NIKO: StageRole.REGIONAL,
    Role.REGIONAL_SPO: StageRole.REGIONAL,
    Role.REGIONAL_KKO: StageRole.REGIONAL,
}


def moscow(moment):
    return date_format(timezone.localtime(moment), "d.m.Y H:i")


def is_school(user):
    return Role(user.role) in SCHOOL_KINDS


def is_coordinator(user):
    return Role(user.role) in COORDINATOR_KINDS


def procedures_for_tab(slug):
    return Procedure.objects.filter(kind=slug).prefetch_related("stages")


def procedure_for(user, pk, *related):
    """The procedure ``pk`` when its kind is one this user applies for or follows, else None."""
    kinds = SCHOOL_KINDS.get(Role(user.role)) or COORDINATOR_KINDS.get(Role(user.role), set())
    return Procedure.objects.filter(pk=pk, kind__in=kinds).prefetch_related(*related).first()


def school_of(user):
    """The directory row of a school login, or None when the directory does not list it."""
    return School.objects.filter(region_id=user.region_id, code=user.school_code).first()


def schools_of_area(user):
    """The schools a coordinator follows: the region's, or the municipality's by the directory."""
    schools = School.objects.filter(region_id=user.region_id)
    if Role(user.role) == Role.MUNICIPAL_VPR:
        schools = schools.filter(
            municipality__region_id=user.region_id, municipality__code=user.municipality_code
        )
    return schools


@dataclass(frozen=True)
class PlanRow:
    stage: Stage
    state: str  # "past", "current" or "future"
    mine: bool
    next_for_me: bool


def plan_schedule(procedure, user, now=None):
    """The plan-schedule with each stage's state; the first unfinished stage of the user's role is
    what is due next for them."""
    now = now or timezone.now()
    mine_role = STAGE_ROLE.get(Role(user.role))
    stages = sorted(procedure.stages.all(), key=lambda s: (s.order, s.starts, s.pk))
    upcoming = [s for s in stages if s.role == mine_role and s.ends >= now]
    next_stage = min(upcoming, key=lambda s: s.ends) if upcoming else None
    rows = []
    for stage in stages:
        state = "past" if stage.ends < now else "current" if stage.starts <= now else "future"
        rows.append(PlanRow(stage, state, stage.role == mine_role, stage is next_stage))
    return rows


@dataclass(frozen=True)
class EditWindow:
    editable: bool
    message: str


def application_window(procedure, user, now=None):
    """Whether ``user`` may change applications of ``procedure`` now, and what to tell them.

    A school may while its application stage (role «ОО», title with «заяв») is open. A
    coordinator may from that stage's start until the end of their own stage so named (municipal or
    regional), or, when the schedule has none for them, until the end of the school's stage.
    """
    now = now or timezone.now()
    school_stage = procedure.application_stage(StageRole.SCHOOL)
    if school_stage is None:
        return EditWindow(False, "В плане-графике нет этапа подачи заявок: заявки не принимаются.")
    if now < school_stage.starts:
        return EditWindow(False, f"Приём заявок начнётся {moscow(school_stage.starts)} (МСК).")
    if is_school(user):
        if now <= school_stage.ends:
            return EditWindow(True, f"Заявку можно изменять до {moscow(school_stage.ends)} (МСК).")
        return EditWindow(
            False,
            f"Приём заявок завершён {moscow(school_stage.ends)} (МСК): заявку можно только просмотреть.",
        )
    own = procedure.application_stage(STAGE_ROLE[Role(user.role)]) or school_stage
    if now <= own.ends:
        return EditWindow(True, f"Вы можете исправить заявку до {moscow(own.ends)} (МСК).")
    return EditWindow(
        False, f"Срок исправления заявок истёк {moscow(own.ends)} (МСК): заявку можно только просмотреть."
    )


def application_of(procedure, school):
    """The school's application with its works and change log, or None."""
    return (
        Application.objects.filter(procedure=procedure, school=school)
        .prefetch_related(
            Prefetch("works", queryset=ApplicationWork.objects.select_related("work")),
            "changes",
        )
        .first()
    )


def applied_works(procedure, school):
    return ApplicationWork.objects.filter(
        application__procedure=procedure, application__school=school
    ).select_related("work")


def released_materials(procedure, *, work_ids=None, now=None):
    """Documents released by now: the procedure's own, and those of ``work_ids`` (all works when None)."""
    materials = Material.objects.filter(procedure=procedure, release_at__lte=now or timezone.now())
    if work_ids is not None:
        materials = materials.filter(Q(work=None) | Q(work__in=work_ids))
    return materials.select_related("work")


def material_for(user, pk, now=None):
    """A released document this user may download, or None (unreleased ones are not found)."""
    material = (
        Material.objects.filter(pk=pk, release_at__lte=now or timezone.now())
        .select_related("procedure")
        .first()
    )
    if material is None or procedure_for(user, material.procedure_id) is None:
        return None
    if material.work_id and is_school(user):
        school = school_of(user)
        if (
            school is None
            or not applied_works(material.procedure, school).filter(work=material.work_id).exists()
        ):
            return None
    return material


def archive_line_for(user, work_pk, now=None):
    """The school's application line of ``work_pk`` when the user is a school that applied for it
    and its archive is released, else None. No other school's archive has a URL at all."""
    if not is_school(user):
        return None
    school = school_of(user)
    if school is None:
        return None
    return (
        ApplicationWork.objects.filter(
            application__school=school,
            work_id=work_pk,
            work__materials_at__lte=now or timezone.now(),
            work__procedure__kind__in=SCHOOL_KINDS[Role(user.role)],
        )
        .select_related("work__procedure", "application__school")
        .first()
    )
