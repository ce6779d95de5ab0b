"""What the desk tells a requester, in the same words on its pages and in its mail.

The sender address and the support address come from settings (DEFAULT_FROM_EMAIL, SUPPORT_EMAIL),
the answer time from HELPDESK_ANSWER_DAYS, the links in mail from SITE_URL.
"""

from email.utils import parseaddr
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from .models import Status

# What each status means to the person who filed the request. A new status is one more line here
# (tests/helpdesk/test_status.py checks that every Status has one). {answer_time} is filled in.
STATUS_EXPLANATIONS = {
    Status.NEW: (
        "Заявка зарегистрирована и ждёт проверки специалистом службы технической поддержки. "
        "Ответ — {answer_time} со дня регистрации."
    ),
    Status.IN_PROGRESS: (
        "Специалист проверяет скан письма и данные заявки. Если всё в порядке, новый пароль придёт "
        "по SMS на мобильный телефон, указанный в заявке, а на e-mail — письмо о выполнении."
    ),
    Status.SENDING: (
        "Заявка одобрена: новый пароль отправляется по SMS на мобильный телефон, указанный в заявке. "
        "Когда SMS уйдёт, заявка будет выполнена и на e-mail придёт письмо о выполнении."
    ),
    Status.WAITING: (
        "Специалисту нужно уточнение: что именно, написано в письме, отправленном на e-mail из заявки. "
        "Ответьте по ссылке из письма — приложите файлы и комментарий; заявка вернётся специалисту. "
        "Если ответа не будет {wait_time}, заявка закроется."
    ),
    Status.DONE: (
        "Новый пароль отправлен по SMS на мобильный телефон, указанный в заявке; на e-mail отправлено "
        "письмо о выполнении. При первом входе с этим паролем задайте собственный."
    ),
    Status.REJECTED: (
        "Заявку выполнить нельзя по причине, указанной ниже. Исправьте указанное и подайте новую заявку."
    ),
}


def answer_time():
    """«в течение 1 рабочего дня», «в течение 3 рабочих дней»."""
    return f"в течение {working_days(settings.HELPDESK_ANSWER_DAYS)}"


def working_days(days):
    """«1 рабочего дня», «5 рабочих дней» (after «в течение»)."""
    unit = "рабочего дня" if days % 10 == 1 and days % 100 != 11 else "рабочих дней"
    return f"{days} {unit}"


def wait_time():
    """«в течение 5 рабочих дней»: how long a request waits for its requester before it closes."""
    return f"в течение {working_days(settings.HELPDESK_WAIT_DAYS)}"


def explain(status):
    return STATUS_EXPLANATIONS.get(status, "").format(answer_time=answer_time(), wait_time=wait_time())


def sender_email():
    """The bare address mail comes from, «servicedesk@fioco.ru», however DEFAULT_FROM_EMAIL is written."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL


def absolute(path):
    return settings.SITE_URL.rstrip("/") + path


def status_url(number):
    """The status page with the number filled in (the email is still asked for)."""
    return absolute(f"{reverse('helpdesk:status')}?{urlencode({'number': number})}")


def desk_context():
    """What every helpdesk page and email may say about the desk itself."""
    return {
        "support_email": settings.SUPPORT_EMAIL,
        "sender_email": sender_email(),
        "answer_time": answer_time(),
        "wait_time": wait_time(),
    }
