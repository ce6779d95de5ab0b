"""Reads for the operators' request page: what the portal knows of the login a request names."""

from dataclasses import dataclass
from datetime import datetime

from accounts.logins import parse_login
from accounts.models import Municipality, School, User

NO_ACCOUNT = "Учётной записи с логином «{login}» нет: пароль выдать нельзя."
BLOCKED = "Учётная запись «{login}» заблокирована: пароль выдать нельзя."


@dataclass(frozen=True)
class AccountFacts:
    exists: bool
    is_active: bool
    last_login: datetime | None
    # The organization the school directory gives for the login's codes ("" when it has none), to
    # set beside the name the requester typed.
    directory_name: str
    # Why «Выдать новый пароль» cannot work for this login; "" when it can.
    refusal: str


def account_facts(ticket):
    login = ticket.login
    account = User.objects.filter(username=login, is_staff=False).only("is_active", "last_login").first()
    if account is None:
        refusal = NO_ACCOUNT.format(login=login)
    elif not account.is_active:
        refusal = BLOCKED.format(login=login)
    else:
        refusal = ""
    return AccountFacts(
        exists=account is not None,
        is_active=bool(account and account.is_active),
        last_login=account.last_login if account else None,
        directory_name=directory_name(login),
        refusal=refusal,
    )


def directory_name(login):
    """The school's or the municipality's name in the directory for the codes in ``login``; ""."""
    info = parse_login(login)
    if info is None:
        return ""
    if info.school_code:
        rows = School.objects.filter(region_id=info.region_code, code=info.school_code)
    elif info.municipality_code:
        rows = Municipality.objects.filter(region_id=info.region_code, code=info.municipality_code)
    else:
        return ""  # a regional coordinator: the region is in the form already
    return rows.order_by().values_list("name", flat=True).first() or ""
