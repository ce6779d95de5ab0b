"""SMSC.ru HTTP API (https://smsc.ru/api/http/): POST to ``sys/send.php`` with a JSON answer (fmt=3)."""

import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

from . import BaseBackend, SmsError, SmsMessage

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
# Worth retrying later: the account can be topped up, the block expires, the rate limit passes.
TRANSIENT_ERRORS = {3, 4, 9}
# Client errors that still clear up by themselves.
TRANSIENT_HTTP = {408, 429}


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

    def _send(self, message: SmsMessage) -> str:
        fields = {
            "login": settings.SMSC_LOGIN,
            "psw": settings.SMSC_PASSWORD,
            "phones": message.phone,
            "mes": message.text,
            "charset": "utf-8",
            "fmt": "3",
        }
        if settings.SMSC_SENDER:
            fields["sender"] = settings.SMSC_SENDER
        data = urllib.parse.urlencode(fields, encoding="utf-8").encode("ascii")
        # Error messages below never quote the request: it holds the password and the text.
        try:
            request = urllib.request.Request(
                settings.SMSC_URL,
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
            raise SmsError(f"cannot reach SMSC: {e.reason}") from e
        except TimeoutError as e:
            raise SmsError(f"SMSC did not answer within {settings.SMSC_TIMEOUT} s") from e
        except (OSError, http.client.HTTPException) as e:
            raise SmsError(f"connection to SMSC failed: {e.__class__.__name__}: {e}") from e
        except ValueError as e:  # not an http(s) URL
            raise SmsError(f"bad SMSC_URL: {e}", permanent=True) from e
        return self._parse(body)

    def _parse(self, body: bytes) -> str:
        try:
            answer = json.loads(body.decode("utf-8"))
        except ValueError as e:
            raise SmsError(f"SMSC answered something other than JSON ({len(body)} bytes)") from e
        if not isinstance(answer, dict):
            raise SmsError("SMSC answered unexpected JSON")
        if "error" in answer or "error_code" in answer:
            try:
                code = int(answer.get("error_code"))
            except (TypeError, ValueError):
                code = None
            description = ERRORS.get(code) or str(answer.get("error") or "unknown error")[:200]
            raise SmsError(f"SMSC error {code}: {description}", permanent=code not in TRANSIENT_ERRORS)
        if answer.get("id") is None:
            raise SmsError("SMSC answer has neither an id nor an error")
        return str(answer["id"])
