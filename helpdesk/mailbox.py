"""Email in: letters to the support mailbox become requests, or join the request they answer.

A beat task (``tasks.poll_mailbox``) reads the folder of ``IMAP_URL``. Each letter is taken exactly
once: it is read without marking it (``BODY.PEEK``), its request is committed together with the
letter's Message-ID (unique), and only then is the letter flagged ``$FisokoTaken`` on the server. A
poller killed between the commit and the flag reads the letter again next time, finds its
Message-ID and only flags it; one killed before the commit left nothing, and the letter is still
unflagged. A keyword rather than ``\\Seen``: a person who opens the mailbox in a mail client marks
letters seen, and they must not be skipped for that.

What becomes of a letter:
- its subject carries the number of a request and it comes from that request's email: it joins the
  request (a ``TicketMessage``; its files as attachments);
- otherwise it becomes a request of kind «Вопрос» (no password is ever issued on it), with a note
  when its subject named a request that does not exist or is not the sender's.
Attachments pass the checks of ``/apply/`` (``uploads.check_file``); a refused one is recorded on
the request as an event with the reason. Letters from auto-responders (``Auto-Submitted`` other than
``no``, ``Precedence: bulk/junk/list``) never get a confirmation, so two robots cannot loop.
"""

import email
import email.policy
import hashlib
import html
import imaplib
import logging
import re
from dataclasses import dataclass
from email.utils import getaddresses
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat

from fisoko_portal import uploads

from . import normalize
from .models import (
    Attachment,
    Channel,
    Direction,
    Kind,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketMessage,
)

log = logging.getLogger(__name__)

TAKEN = "$FisokoTaken"
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class MailboxConfig:
    host: str
    port: int
    user: str
    password: str
    folder: str
    ssl: bool


def config_from_url(url):
    """``imaps://user:password@host:993/INBOX`` (or ``imap://`` on loopback) as a MailboxConfig."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
        raise ImproperlyConfigured("IMAP_URL must look like imaps://user:password@host:993/INBOX")
    ssl = parts.scheme == "imaps"
    return MailboxConfig(
        host=parts.hostname,
        port=parts.port or (993 if ssl else 143),
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
        ssl=ssl,
    )


def poll():
    """Take the letters waiting in the mailbox; returns how many were taken (None when it is off).

    A server that is down, refuses the login or answers too slowly is logged and left for the next
    poll: nothing has been flagged, so nothing is lost.
    """
    result = read()
    return None if result is None else result[0]


def read():
    """``poll``, returning (letters taken, whether more than a batch was waiting); None when off."""
    if not settings.IMAP_URL:
        return None
    config = config_from_url(settings.IMAP_URL)
    taken, more = 0, False
    try:
        imap_class = imaplib.IMAP4_SSL if config.ssl else imaplib.IMAP4
        with imap_class(config.host, config.port, timeout=settings.IMAP_TIMEOUT) as imap:
            imap.login(config.user, config.password)
            _ok(imap.select(_quoted(config.folder)))
            _, data = _ok(imap.uid("SEARCH", None, "UNKEYWORD", TAKEN))
            waiting = data[0].split()
            uids, more = waiting[: settings.IMAP_BATCH], len(waiting) > settings.IMAP_BATCH
            for uid in uids:
                raw, size = _fetch(imap, uid)
                try:
                    letter_take(raw=raw, oversize=size if raw is None or size > len(raw) else None)
                except Exception:
                    # A letter this code cannot take stays unflagged and is tried again next time.
                    log.exception("Letter UID %s could not be taken; left in the mailbox", uid.decode())
                    continue
                _ok(imap.uid("STORE", uid, "+FLAGS", f"({TAKEN})"))
                taken += 1
    except (OSError, imaplib.IMAP4.error) as error:  # socket.timeout is an OSError
        log.warning("Mailbox %s:%s not read (%s: %s)", config.host, config.port, type(error).__name__, error)
        more = False  # the next beat tries again
    return taken, more


def _quoted(folder):
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(answer):
    status, data = answer
    if status != "OK":
        raise imaplib.IMAP4.error(f"{status} {data!r}"[:200])
    return answer


def _fetch(imap, uid):
    """(the letter's bytes, its size); only its header when it is larger than IMAP_MAX_LETTER_BYTES."""
    _, data = _ok(imap.uid("FETCH", uid, "(RFC822.SIZE)"))
    size = int(re.search(rb"RFC822\.SIZE (\d+)", data[0]).group(1))
    part = "BODY.PEEK[HEADER]" if size > settings.IMAP_MAX_LETTER_BYTES else "BODY.PEEK[]"
    _, data = _ok(imap.uid("FETCH", uid, f"({part})"))
    raw = next(item[1] for item in data if isinstance(item, tuple))
    return raw, size


# Taking one letter


def letter_take(*, raw, oversize=None):
    """Record one letter (its bytes; only the header when ``oversize`` gives the size of a letter too
    large to download) as a request or a message of one, in one transaction.

    Returns the TicketMessage, or None when the letter was taken before (by its Message-ID).
    """
    letter = email.message_from_bytes(raw, policy=email.policy.default)
    message_id = _message_id(letter, raw)
    if TicketMessage.objects.filter(message_id=message_id).exists():
        log.info("Letter %s taken before; only flagged now", message_id)
        return None
    sender_name, sender = _sender(letter)
    subject = _header(letter, "Subject")[:500]
    notes = []
    if oversize is not None:
        body = ""
        notes.append(
            f"Письмо размером {filesizeformat(oversize)} не загружено (предел "
            f"{filesizeformat(settings.IMAP_MAX_LETTER_BYTES)}): оно осталось в ящике поддержки; "
            "попросите заявителя прислать файлы меньшего размера."
        )
        files = []
    else:
        body, files, refusals = _content(letter)
        notes.extend(refusals)
    if letter.defects and oversize is None:  # a header alone lacks its body: no defect of the letter
        notes.append("Письмо составлено с ошибками (MIME), текст мог быть прочитан не полностью.")
    stored = []
    try:
        with transaction.atomic():
            ticket, joined, note = _ticket_for(letter, subject, sender, sender_name, body)
            if note:
                notes.insert(0, note)
            message = TicketMessage.objects.create(
                ticket=ticket,
                direction=Direction.IN,
                message_id=message_id,
                sender=sender[:254],
                subject=subject,
                body=body,
            )
            for name, content_type, data in files:
                attachment = Attachment(ticket=ticket, message=message, original_name=name)
                attachment.size, attachment.content_type = len(data), content_type
                attachment.file.save(name, ContentFile(data), save=False)
                stored.append(attachment.file)
                attachment.save()
            comment = "Ответ заявителя по e-mail" if joined else "Заявка получена по e-mail"
            comment = " ".join([f"{comment}: «{subject or 'без темы'}».", *notes])
            if joined:  # a request that waited for this answer goes back to the queue
                from .services import requester_answered

                requester_answered(ticket, comment[:5000])
            else:
                _event(ticket, comment)
            if not joined and _may_confirm(letter, sender):
                from .services import _notify

                _notify(ticket, Channel.EMAIL, Kind.RECEIVED)
    except IntegrityError:
        for file in stored:
            file.delete(save=False)
        if TicketMessage.objects.filter(message_id=message_id).exists():
            return None  # another poller took it meanwhile
        raise
    except BaseException:
        for file in stored:
            file.delete(save=False)
        raise
    log.info("Letter %s %s request %s", message_id, "joined" if joined else "filed as", ticket.number)
    return message


def _message_id(letter, raw):
    # A letter without a Message-ID is known by its bytes: the same letter read again is the same.
    value = _header(letter, "Message-ID").strip()
    return value[:998] if value else f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _header(letter, name):
    try:
        return str(letter.get(name, "") or "").strip()
    except (ValueError, TypeError, IndexError):  # a header the parser cannot decode
        return ""


def _sender(letter):
    pairs = getaddresses([_header(letter, "From")])
    name, address = pairs[0] if pairs else ("", "")
    try:
        validate_email(address)
    except ValidationError:
        return name, ""
    return name, address.lower()


def _content(letter):
    """(the text, [(name, type, bytes) of the accepted files], [notes on the refused ones])."""
    try:
        part = letter.get_body(preferencelist=("plain", "html"))
        text = part.get_content() if part is not None else ""
        if part is not None and part.get_content_type() == "text/html":
            text = html.unescape(_TAGS.sub(" ", text))
    except (LookupError, ValueError, AttributeError, TypeError):
        text = ""
    files, refusals, total = [], [], 0
    for part in letter.iter_attachments():
        name = part.get_filename() or "вложение"
        try:
            data = part.get_payload(decode=True) or b""
            total += len(data)
            if total > uploads.MAX_TOTAL_BYTES:
                raise uploads.UploadError(
                    f"Файл «{uploads.clean_name(name)}»: вместе с другими файлами письма больше "
                    f"{filesizeformat(uploads.MAX_TOTAL_BYTES)}."
                )
            upload = ContentFile(data, name=name)
            clean, content_type = uploads.check_file(upload)
        except uploads.UploadError as error:
            refusals.append(f"Вложение не принято: {error}")
            continue
        files.append((clean, content_type, data))
    return text.strip(), files, refusals


def sender_verified(letter):
    """Whether the From: address may be believed. Anyone can write any From:; with
    IMAP_TRUSTED_AUTHSERV set (the authserv-id of the portal's own receiving mail server), a letter joins
    a request only when that server's Authentication-Results header says ``dmarc=pass`` (RFC 8601).
    Headers added by others, before the letter reached that server, name another authserv-id."""
    trusted = settings.IMAP_TRUSTED_AUTHSERV.strip().lower()
    if not trusted:
        return True
    for header in letter.get_all("Authentication-Results", []):
        authserv, _, results = str(header).partition(";")
        if authserv.split() and authserv.split()[0].lower() == trusted:
            if re.search(r"\bdmarc\s*=\s*pass\b", results, re.IGNORECASE):
                return True
    return False


def _ticket_for(letter, subject, sender, sender_name, body):
    """(the request, whether the letter joins it, a note for the event)."""
    numbers = normalize.ticket_numbers_in(subject)
    if numbers:
        ticket = Ticket.objects.filter(number__in=numbers).first()
        if ticket is not None and sender and ticket.email.lower() == sender:
            if sender_verified(letter):
                return Ticket.objects.select_for_update().get(pk=ticket.pk), True, ""
            note = (
                f"В теме номер заявки № {ticket.number}, но почтовый сервер не подтвердил "
                "адрес отправителя (DMARC)."
            )
        elif ticket is not None:
            note = f"В теме номер заявки № {ticket.number}, но письмо пришло не с её адреса."
        else:
            note = f"В теме номер № {numbers[0]}, такой заявки нет."
    else:
        note = ""
    ticket = Ticket(
        kind=TicketKind.QUESTION,
        email=sender,
        person_name=sender_name[:300],
        organization_name="",
        description=(body or subject)[:5000],
    )
    from .services import _save_with_unique_number

    _save_with_unique_number(ticket)
    return ticket, False, note


def _event(ticket, comment):
    TicketEvent.objects.create(
        ticket=ticket, from_status=ticket.status, to_status=ticket.status, comment=comment[:5000]
    )


def is_auto_submitted(letter):
    """An auto-responder or a list: answering it could start a loop (RFC 3834)."""
    auto = _header(letter, "Auto-Submitted").lower()
    precedence = _header(letter, "Precedence").lower()
    return (auto and auto != "no") or precedence in ("bulk", "junk", "list")


def _may_confirm(letter, sender):
    from .services import _confirmations_today

    return (
        bool(sender)
        and not is_auto_submitted(letter)
        and _confirmations_today(sender) < settings.HELPDESK_EMAIL_PER_ADDRESS_DAY
    )
