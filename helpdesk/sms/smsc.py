"""SMSC.ru HTTP API (https://smsc.ru/api/http/): POST to ``sys/send.php`` with a JSON answer (fmt=3).

Each message goes with an ``id`` of the sender's choosing (SMSC takes a number from 1 to 2147483647),
so that after a send whose answer was lost, ``sys/status.php`` (``phone`` and ``id``) tells whether
SMSC has it: status -3 is «message not found», -1 «waiting to be sent», 0 «passed to the operator»,
1 «delivered», 2 «read», 4 «link opened»; 3 «expired», 20 «cannot be delivered», 22 «wrong number»,
23 «forbidden», 24 «not enough money», 25 «unreachable number».
"""

import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

from . import BaseBackend, Outcome, SmsError, SmsMessage

log = logging.getLogger(__name__)

# error_code -> description, for send.php.
ERRORS = {
    1: "bad parameters",
    2: "wrong login or password",
    3: "not enough money on the account",
    4: "IP address temporarily blocked after too many bad requests",
    5: "invalid date format",
    6: "message banned (by its text or sender name)",
    7: "invalid number format",
    8: "message cannot be delivered to this number",
    9: "too many identical or concurrent requests",
}
# The same, as operators read them in the admin (sms.in_russian): logs and tests keep the English.
ERRORS_RU = {
    1: "ошибка в параметрах запроса",
    2: "неверный логин или пароль SMSC",
    3: "недостаточно средств на счёте SMSC",
    4: "IP-адрес временно заблокирован SMSC из-за частых ошибочных запросов",
    5: "неверный формат даты",
    6: "сообщение запрещено (по тексту или имени отправителя)",
    7: "неверный формат номера телефона",
    8: "сообщение не может быть доставлено на этот номер",
    9: "слишком много одинаковых или одновременных запросов",
}
# Worth retrying later: the account can be topped up, the block expires, the rate limit passes.
TRANSIENT_ERRORS = {3, 4, 9}
# Client errors that still clear up by themselves.
TRANSIENT_HTTP = {408, 429}
# status.php: the message never reached SMSC; it reached SMSC and will not be delivered.
STATUS_NOT_FOUND = -3
STATUS_FAILED = {3, 20, 22, 23, 24, 25}


class SmscBackend(BaseBackend):
    def send(self, message: SmsMessage) -> str:
        if not settings.SMSC_LOGIN or not settings.SMSC_PASSWORD:
            raise SmsError("SMSC_LOGIN and SMSC_PASSWORD must be set", permanent=True)
        try:
            provider_id = self._send(message)
        except SmsError as e:
            log.warning(
                "SMS to %s via SMSC failed (%s): %s",
                message.phone,
                "permanent" if e.permanent else "transient",
                e,
            )
            raise
        log.info("SMS to %s accepted by SMSC, id %s", message.phone, provider_id)
        return provider_id

    def status(self, message: SmsMessage) -> Outcome:
        if not settings.SMSC_LOGIN or not settings.SMSC_PASSWORD:
            raise SmsError("SMSC_LOGIN and SMSC_PASSWORD must be set", permanent=True)
        fields = {"phone": message.phone, "id": message.id}
        answer = self._error_checked(self._call(status_url(), fields, unclear=False))
        try:
            status = int(answer["status"])
        except (KeyError, TypeError, ValueError) as e:
            raise SmsError("SMSC status answer has no status") from e
        log.info("SMS %s to %s: SMSC status %s", message.id, message.phone, status)
        if status == STATUS_NOT_FOUND:
            return Outcome.NOT_FOUND
        # Any other status means SMSC has the message; only these say it will not arrive.
        return Outcome.FAILED if status in STATUS_FAILED else Outcome.ACCEPTED

    def _send(self, message: SmsMessage) -> str:
        fields = {"phones": message.phone, "mes": message.text}
        if message.id:
            fields["id"] = message.id
        if settings.SMSC_SENDER:
            fields["sender"] = settings.SMSC_SENDER
        answer = self._error_checked(self._call(settings.SMSC_URL, fields, unclear=True))
        if answer.get("id") is None:
            raise SmsError("SMSC answer has neither an id nor an error", unclear=True)
        return str(answer["id"])

    def _call(self, url, fields, *, unclear):
        """POST ``fields`` (with the credentials) to ``url``; the JSON answer as a dict.

        With ``unclear``, failures after the request went out (no answer in time, the connection
        dropped, an unreadable answer) say so: SMSC may have taken the message all the same.
        """
        fields = {
            "login": settings.SMSC_LOGIN,
            "psw": settings.SMSC_PASSWORD,
            **fields,
            "charset": "utf-8",
            "fmt": "3",
        }
        data = urllib.parse.urlencode(fields, encoding="utf-8").encode("ascii")
        # Error messages below never quote the request: it holds the password and the text.
        try:
            request = urllib.request.Request(
                url,
                data=data,
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=settings.SMSC_TIMEOUT) as response:
                body = response.read()
        except urllib.error.HTTPError as e:
            e.close()
            permanent = 400 <= e.code < 500 and e.code not in TRANSIENT_HTTP
            raise SmsError(f"SMSC answered HTTP {e.code} {e.reason}", permanent=permanent) from e
        except urllib.error.URLError as e:
            # urllib raises URLError only while connecting and writing the request: SMSC has no
            # whole request. A failure while waiting for the answer comes through as it is, below.
            raise SmsError(f"cannot reach SMSC: {e.reason}") from e
        except TimeoutError as e:
            raise SmsError(f"SMSC did not answer within {settings.SMSC_TIMEOUT} s", unclear=unclear) from e
        except (OSError, http.client.HTTPException) as e:
            raise SmsError(f"connection to SMSC failed: {e.__class__.__name__}: {e}", unclear=unclear) from e
        except ValueError as e:  # not an http(s) URL
            raise SmsError(f"bad SMSC_URL: {e}", permanent=True) from e
        try:
            answer = json.loads(body.decode("utf-8"))
        except ValueError as e:
            raise SmsError(
                f"SMSC answered something other than JSON ({len(body)} bytes)", unclear=unclear
            ) from e
        if not isinstance(answer, dict):
            raise SmsError("SMSC answered unexpected JSON", unclear=unclear)
        return answer

    def _error_checked(self, answer):
        if "error" in answer or "error_code" in answer:
            try:
                code = int(answer.get("error_code"))
            except (TypeError, ValueError):
                code = None
            description = ERRORS.get(code) or str(answer.get("error") or "unknown error")[:200]
            raise SmsError(f"SMSC error {code}: {description}", permanent=code not in TRANSIENT_ERRORS)
        return answer


def status_url():
    """``sys/status.php`` beside the configured ``sys/send.php``."""
    base, _, _ = settings.SMSC_URL.rpartition("/")
    return f"{base}/status.php"
