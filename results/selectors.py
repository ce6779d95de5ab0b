"""Reads of results: the upload window and what a school has uploaded."""

from dataclasses import dataclass

from django.utils import timezone

from accounts.logins import Role

from .models import Summary


@dataclass(frozen=True)
class UploadWindow:
    open: bool
    message: str


def upload_window(work, today=None):
    """Uploads are taken from ``results_from`` to ``results_until`` inclusive, Moscow dates."""
    today = today or timezone.localdate()
    since, until = work.results_from.strftime("%d.%m.%Y"), work.results_until.strftime("%d.%m.%Y")
    if today < work.results_from:
        return UploadWindow(False, f"Загрузка результатов начнётся {since}.")
    if today > work.results_until:
        return UploadWindow(False, f"Загрузка результатов завершена {until}: файлы больше не принимаются.")
    return UploadWindow(True, f"Результаты принимаются с {since} по {until} включительно (МСК).")


def summary_of(work, school):
    return Summary.objects.filter(work=work, school=school).first()


def works_for(user):
    """The works of the procedures whose tab the user has, newest procedure first."""
    from procedures.models import Work
    from procedures.selectors import COORDINATOR_KINDS, SCHOOL_KINDS

    role = Role(user.role)
    kinds = SCHOOL_KINDS.get(role) or COORDINATOR_KINDS.get(role, set())
    return (
        Work.objects.filter(procedure__kind__in=kinds)
        .select_related("procedure")
        .order_by("-procedure__year", "procedure__title", "grade", "subject", "code")
    )
