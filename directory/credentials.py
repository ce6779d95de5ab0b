"""Access credentials for schools («Реквизиты доступа»): new initial passwords, handed over once.

The rule: a plain password exists only in the .xlsx the coordinator downloads. So
- the view makes a key pair; the private half goes into an HttpOnly cookie of the coordinator's
  browser (scoped to the handover's download address) and is never stored on the server; the
  public half is saved with the handover;
- the task takes the handover's id only, generates the passwords in the worker, hashes them,
  writes the .xlsx in memory and seals it to the public key (``sealed``) before storing it;
- the download opens it with the key from the cookie, in memory, and deletes the stored file in
  the same transaction; a file not downloaded in CREDENTIALS_FILE_SECONDS is deleted by the beat.
The database, the storage, the broker and the logs see hashes and ciphertext only.
"""

import io
import os
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import xlsxwriter
from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.logins import Role
from accounts.models import Municipality, School, User

from . import sealed
from .models import CredentialHandover

SCHOOL_ROLES = [Role.SCHOOL, Role.SCHOOL_NIKO]
# No 0/O, 1/l/I: the password is read off a sheet and typed. 55^12 is about 2^69.
ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 12
HEADER = ["Логин", "Наименование ОО", "Пароль"]


class CredentialsRefused(ValueError):
    pass


def may_issue(user):
    """Regional ВПР coordinators; municipal ones too where CREDENTIALS_MUNICIPAL allows."""
    if not user.is_cabinet_user:
        return False
    return user.role == Role.REGIONAL_VPR or (
        user.role == Role.MUNICIPAL_VPR and settings.CREDENTIALS_MUNICIPAL
    )


def schools_of(user):
    schools = School.objects.filter(region_id=user.region_id)
    if user.role == Role.MUNICIPAL_VPR:
        schools = schools.filter(
            municipality__region_id=user.region_id, municipality__code=user.municipality_code
        )
    return schools


def municipalities_of(user):
    municipalities = Municipality.objects.filter(region_id=user.region_id)
    if user.role == Role.MUNICIPAL_VPR:
        municipalities = municipalities.filter(code=user.municipality_code)
    return municipalities


def _accounts(user, schools):
    return User.objects.filter(
        region_id=user.region_id,
        role__in=SCHOOL_ROLES,
        is_staff=False,
        is_active=True,
        school_code__in=schools.order_by().values("code"),
    )


def handover_request(*, coordinator, scope, municipality_code="", codes=""):
    """Record a handover for the chosen schools and queue its task; return (handover, private key).

    ``scope``: "without" (every school account that never had a password), "municipality" or
    "chosen" (school codes separated by spaces, commas or new lines).
    """
    if not may_issue(coordinator):
        raise CredentialsRefused("Выдавать реквизиты доступа может только региональный координатор.")
    schools = schools_of(coordinator)
    if scope == "without":
        accounts = _accounts(coordinator, schools).filter(password__startswith=UNUSABLE_PASSWORD_PREFIX)
    elif scope == "municipality":
        if not municipalities_of(coordinator).filter(code=municipality_code).exists():
            raise CredentialsRefused("Выберите муниципалитет из списка.")
        accounts = _accounts(coordinator, schools.filter(municipality__code=municipality_code))
    elif scope == "chosen":
        wanted = set(re.findall(r"[^\s,;]+", codes))
        if not wanted:
            raise CredentialsRefused("Укажите коды ОО.")
        known = set(schools.filter(code__in=wanted).values_list("code", flat=True))
        unknown = sorted(wanted - known)
        if unknown:
            raise CredentialsRefused(f"Нет ваших ОО с кодами: {', '.join(unknown[:20])}.")
        accounts = _accounts(coordinator, schools.filter(code__in=known))
    else:
        raise CredentialsRefused("Выберите, каким ОО выдать реквизиты.")
    account_ids = list(accounts.values_list("pk", flat=True))
    if not account_ids:
        raise CredentialsRefused("У выбранных ОО нет учётных записей, которым нужно выдать реквизиты.")
    private_key, public_key = sealed.new_keypair()
    with transaction.atomic():
        handover = CredentialHandover.objects.create(coordinator=coordinator, public_key=public_key)
        handover.accounts.add(*account_ids)
        from . import tasks  # tasks import this module

        pk = handover.pk
        transaction.on_commit(lambda: tasks.make_credentials.delay(pk))
    return handover, private_key


def new_password():
    return "".join(secrets.choice(ALPHABET) for _ in range(PASSWORD_LENGTH))


def handover_make(*, handover_id):
    """Generate, hash and set the passwords, and store the .xlsx sealed to the coordinator's key."""
    claimed = CredentialHandover.objects.filter(
        pk=handover_id, status=CredentialHandover.Status.PENDING
    ).update(status=CredentialHandover.Status.RUNNING)
    if not claimed:
        return
    handover = CredentialHandover.objects.get(pk=handover_id)
    accounts = list(handover.accounts.order_by("username").only("pk", "username", "region_id", "school_code"))
    names = dict(
        ((region, code), name)
        for region, code, name in School.objects.filter(
            region_id__in={a.region_id for a in accounts}, code__in={a.school_code for a in accounts}
        ).values_list("region_id", "code", "name")
    )
    passwords = [new_password() for _ in accounts]
    step = max(1, len(accounts) // 50)
    try:
        # Argon2id runs in C without the GIL: one thread per core makes 2,000 hashes in tens of seconds.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for index, encoded in enumerate(pool.map(make_password, passwords), start=1):
                accounts[index - 1].password = encoded
                accounts[index - 1].must_change_password = True
                if index % step == 0:
                    CredentialHandover.objects.filter(pk=handover_id).update(
                        progress=min(95, index * 95 // len(accounts))
                    )
        rows = [
            (a.username, names.get((a.region_id, a.school_code), ""), p)
            for a, p in zip(accounts, passwords, strict=True)
        ]
        blob = sealed.seal(handover.public_key, credentials_workbook(rows))
        del rows, passwords
        handover.file.save(f"{secrets.token_hex(16)}.sealed", ContentFile(blob), save=False)
        now = timezone.now()
        with transaction.atomic():
            User.objects.bulk_update(accounts, ["password", "must_change_password"], batch_size=1000)
            handover.status = CredentialHandover.Status.READY
            handover.progress = 100
            handover.ready_at = now
            handover.expires_at = now + timedelta(seconds=settings.CREDENTIALS_FILE_SECONDS)
            handover.save(update_fields=["status", "progress", "ready_at", "expires_at", "file"])
    except BaseException:
        if handover.file:
            handover.file.delete(save=False)
        CredentialHandover.objects.filter(pk=handover_id).update(
            status=CredentialHandover.Status.FAILED, file=""
        )
        raise


def credentials_workbook(rows):
    """The .xlsx of (login, school name, password), built in memory: no temporary file on disk."""
    output = io.BytesIO()
    # Strings stay strings: a school name or password starting with «=» is never a formula.
    workbook = xlsxwriter.Workbook(
        output,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet("Реквизиты доступа")
    bold = workbook.add_format({"bold": True})
    sheet.write_row(0, 0, HEADER, bold)
    sheet.set_column(0, 0, 14)
    sheet.set_column(1, 1, 60)
    sheet.set_column(2, 2, 16)
    for index, row in enumerate(rows, start=1):
        sheet.write_row(index, 0, row)
    workbook.close()
    return output.getvalue()


def handover_download(*, handover_id, coordinator, private_key):
    """The .xlsx bytes, once: the stored file is deleted in the same transaction."""
    with transaction.atomic():
        handover = (
            CredentialHandover.objects.select_for_update()
            .filter(pk=handover_id, coordinator=coordinator)
            .first()
        )
        if handover is None:
            raise CredentialsRefused("Нет такой выдачи реквизитов.")
        if handover.status == CredentialHandover.Status.DOWNLOADED:
            raise CredentialsRefused(
                "Файл уже скачан и удалён. Чтобы получить пароли снова, выдайте реквизиты заново."
            )
        if handover.status != CredentialHandover.Status.READY or handover.expires_at <= timezone.now():
            raise CredentialsRefused("Файл больше не доступен. Выдайте реквизиты заново.")
        if not private_key:
            raise CredentialsRefused(
                "Ключ к файлу хранится только в том браузере, где реквизиты запрошены. "
                "Откройте страницу в нём "
                "или выдайте реквизиты заново."
            )
        with handover.file.open("rb") as stored:
            blob = stored.read()
        try:
            data = sealed.unseal(private_key, blob)
        except sealed.SealError:
            raise CredentialsRefused("Ключ к файлу не подходит. Выдайте реквизиты заново.") from None
        handover.file.delete(save=False)
        handover.status = CredentialHandover.Status.DOWNLOADED
        handover.downloaded_at = timezone.now()
        handover.save(update_fields=["status", "downloaded_at", "file"])
    return data


def handover_purge_expired(*, now=None):
    """Delete the files of handovers not downloaded in time; return how many."""
    now = now or timezone.now()
    expired = CredentialHandover.objects.filter(status=CredentialHandover.Status.READY, expires_at__lte=now)
    count = 0
    for handover in expired:
        handover.file.delete(save=False)
        handover.status = CredentialHandover.Status.EXPIRED
        handover.save(update_fields=["status", "file"])
        count += 1
    return count
