"""Random and hostile input posted to the public forms: /login/, /apply/, /apply/status/.

For every example: no 500; nothing stored for a refused request; nothing the
client sent comes back unescaped; /login/ logs nobody in and says only
«Неверный логин или пароль»; /apply/status/ shows a ticket only for its own
number and email.

``FUZZ_EXAMPLES`` sets the examples per test (default 700: 2,100 for the three).
Each run draws new examples (no example database); a failure prints the falsifying
example, to be pinned with @example, and a @reproduce_failure blob.
"""

import collections
import io
import os
import re
import zipfile
from urllib.parse import urlencode, urlsplit

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.forms import INVALID_LOGIN
from helpdesk.models import Attachment, Status, Ticket
from tests.conftest import PASSWORD
from tests.helpdesk.conftest import PDF

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "700"))

fuzz = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=False,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

LOGIN = "sch771234"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32
ZIP = b"PK\x03\x04" + b"\x00" * 60
EXE = b"MZ\x90\x00\x03" + b"\0" * 60 + b"PE\0\0" + b"\0" * 200
HTML = b"<!DOCTYPE html><script>alert(1)</script>"


def zip_of(*names):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, b"x")
    return out.getvalue()


ZIPS = [
    zip_of("scan.pdf"),
    zip_of("../../<fuzz-7>.txt"),
    zip_of('"><img src=x onerror=alert(1)>/../x'),
    zip_of(*[f"{i}.txt" for i in range(1001)]),
]

# ---------------------------------------------------------------- strategies

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1 --",
    "'; DROP TABLE helpdesk_ticket; --",
    '" OR ""="',
    "%",
    "_",
    "%_%",
    "\\",
    "{{ 7|add:7 }}",
    "{% debug %}",
    "${7*7}",
    "Иванова Мария Петровна",
    "ГБОУ «Школа № 1234»",
    "مرحبا",
    "שלום",
    "\u202egpj.exe",
    "\u200f\u200e\u2066",
    "👩\u200d👩\u200d👧\u200d👦🏳️\u200d🌈",
    "e\u0301\u0301\u0301\u0301",
    "Z\u0337\u0322\u031ba\u0338l\u0335g\u0336o",
    "\x00",
    "\x00\x01\x02\x1b[31m\x7f\x85\x9f",
    "\r\n",
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "javascript:alert(1)",
    "//evil.example/",
    "../../../../etc/passwd",
    "sch771234",
    "sch771234\x00",
    "ｓｃｈ７７１２３４",
    "sch٧٧1234",
    "reg77_vpr",
    "reg50_vpr",
    "+7 (912) 345-67-89",
    "89123456789",
    "+1 202 555 0143",
    "director@school1234.ru",
    "директор@школа.рф",
    "77",
    "50",
    "999",
    "fis_oko",
    "school",
    "lost",
    "on",
    "off",
    "NaN",
    "-1",
    "1e309",
    "True",
    "None",
    "[]",
    "{}",
    "",
    " ",
]


class Repeated(str):
    """A long string that a failure report shows as ``chunk * n``, not in full."""

    def __new__(cls, chunk, n):
        text = super().__new__(cls, chunk * n)
        text.shown = f"{chunk!r} * {n}"
        return text

    def __repr__(self):
        return self.shown


markers = st.integers(0, 10**6).map(lambda n: f"<fuzz-{n}>")
controls = st.text(st.characters(categories=["Cc"]), min_size=1, max_size=20)
long_strings = st.builds(
    Repeated,
    st.sampled_from(["A", "Я", "<", '"', "\x00", "😀", "e\u0301"]),
    st.sampled_from([256, 501, 5_001, 60_000, 200_000]),
)
# Over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): Django refuses the request as a whole. Pinned by
# @example rather than drawn: Hypothesis would draw it in a fifth of the examples.
HUGE = Repeated("A", 2_700_000)
mixed = st.lists(
    st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE), markers, controls), min_size=1, max_size=5
).map("".join)
scalars = st.one_of(
    st.text(max_size=200),
    st.sampled_from(HOSTILE),
    mixed,
    controls,
    long_strings,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.binary(max_size=64),  # not UTF-8 at all
)
# None: the field is left out; a list: the field is sent once per item.
values = st.one_of(st.none(), scalars, st.lists(scalars, max_size=4))

GOOD_NAMES = ["scan.pdf", "письмо.pdf", "фото письма.jpg", "SCAN.PDF", "a.jpeg", "b.png", "c.gif", "d.zip"]
HOSTILE_NAMES = [
    "../../etc/passwd.pdf",
    "..\\..\\windows\\win.ini.pdf",
    "/etc/passwd",
    "C:\\boot.ini.pdf",
    "scan\x00.pdf",
    "scan.pdf\x00.exe",
    "\u202efdp.exe",
    "scan\u202egpj.exe",
    "<script>alert(1)</script>.pdf",
    '"><img src=x onerror=alert(1)>.pdf',
    "<fuzz-1>.pdf",
    "&lt;fuzz-2&gt;.pdf",
    "' OR 1=1 --.pdf",
    "..",
    ".",
    "",
    " ",
    ".pdf",
    "...pdf",
    "CON.pdf",
    "scan.pdf.exe",
    "scan.exe.pdf",
    "scan.PDF ",
    "x" * 300 + ".pdf",
    "я" * 300 + ".pdf",
    "😀" * 100 + ".pdf",
    "e\u0301.pdf",
    "a\r\nContent-Type: text/html\r\n\r\n<fuzz-3>.pdf",
    'a"; name="consent.pdf',
]
extensions = st.sampled_from(["pdf", "jpg", "png", "gif", "zip", "docx", "exe", "html", "svg", "", "pdf."])
file_names = st.one_of(
    st.sampled_from(GOOD_NAMES),
    st.sampled_from(HOSTILE_NAMES),
    st.builds(lambda stem, ext: f"{stem}.{ext}", st.one_of(st.text(max_size=40), mixed), extensions),
)
file_contents = st.one_of(
    st.sampled_from([PDF, PDF, JPEG, PNG, GIF, ZIP, EXE, HTML, b"", b"%PDF", *ZIPS]),
    st.binary(max_size=256),
)
content_types = st.sampled_from(
    ["application/pdf", "image/jpeg", "application/octet-stream", "text/html", "application/x-msdownload", ""]
)
file_specs = st.tuples(file_names, file_contents, content_types)
file_lists = st.one_of(
    st.builds(lambda spec: [spec], st.tuples(st.sampled_from(GOOD_NAMES[:2]), st.just(PDF), content_types)),
    st.lists(file_specs, max_size=5),
    st.builds(lambda spec, n: [spec] * n, file_specs, st.integers(20, 60)),
    st.lists(file_specs, min_size=20, max_size=60),
)

APPLY_FIELDS = [
    "organization_name",
    "information_system",
    "region",
    "phone",
    "email",
    "organization_type",
    "login",
    "person_name",
    "head_name",
    "reason",
    "description",
    "consent",
    "website",
]
field_names = st.one_of(
    st.sampled_from(APPLY_FIELDS),
    st.sampled_from(["attachments", "variant", "csrfmiddlewaretoken", "", "<fuzz-4>", "a\r\nb"]),
)

# ---------------------------------------------------------------- encoding

BOUNDARY = "fuzzb0undaryQ7MA4YWxkTrZu0gW"


def as_bytes(value):
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def as_text(value):
    """What Django makes of ``value`` once it has parsed the request."""
    return as_bytes(value).decode("utf-8", "replace")


def pairs_of(data):
    """(name, value) pairs: a list value repeats the name, None leaves it out."""
    pairs = []
    for name, value in data.items():
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, item))
    return pairs


def header_param(text, escape):
    # Browsers percent-encode these three (WHATWG); a hostile client need not.
    if escape:
        text = text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    return text.encode()


def multipart(pairs, files=(), files_field="attachments", escape=True):
    """A multipart body written by hand, so that file names reach the server exactly as given."""
    out = []
    for name, value in pairs:
        out += [
            f"--{BOUNDARY}".encode(),
            b'Content-Disposition: form-data; name="' + header_param(name, escape) + b'"',
            b"",
            as_bytes(value),
        ]
    for raw_name, uploaded in files:
        out += [
            f"--{BOUNDARY}".encode(),
            b'Content-Disposition: form-data; name="'
            + header_param(files_field, escape)
            + b'"; filename="'
            + header_param(raw_name, escape)
            + b'"',
        ]
        if uploaded.content_type:
            out.append(f"Content-Type: {uploaded.content_type}".encode())
        out += [b"", uploaded.read()]
    out += [f"--{BOUNDARY}--".encode(), b""]
    return b"\r\n".join(out), f"multipart/form-data; boundary={BOUNDARY}"


def post(client, path, pairs, *, urlencoded=False, **file_args):
    if urlencoded:
        body = urlencode([(name, as_bytes(value)) for name, value in pairs])
        return client.post(path, body, content_type="application/x-www-form-urlencoded")
    body, content_type = multipart(pairs, **file_args)
    return client.post(path, body, content_type=content_type)


# ---------------------------------------------------------------- checks


def assert_not_echoed(body, sent, baseline):
    """Nothing sent that holds ``<`` or ``"`` comes back as it was: Django escapes it."""
    page = body.decode("utf-8", "replace")
    assert "<fuzz-" not in page.lower()
    for value in sent:
        text = as_text(value)
        # Too short, or part of the page anyway, and a match would say nothing.
        if ("<" in text or '"' in text) and len(text.strip()) >= 8 and text not in baseline:
            assert text not in page, f"{text[:200]!r} is echoed unescaped"


def files_on_disk(root):
    return {p for p in root.rglob("*") if p.is_file()}


def last(value):
    """The value a form sees: Django keeps the last of repeated fields."""
    if isinstance(value, list):
        value = value[-1] if value else None
    return None if value is None else as_text(value)


def then(value, spec):
    """``value`` sent first (if anything), then ``spec`` as the last of the repeated field."""
    if value is None:
        return [spec]
    return [*value, spec] if isinstance(value, list) else [value, spec]


class Outcomes(collections.Counter):
    """How many examples ended with each status code, and how many showed what matters (a word)."""

    @property
    def examples(self):
        return sum(n for key, n in self.items() if isinstance(key, int))

    def __repr__(self):
        return f"<{self.examples} examples so far>"


@pytest.fixture
def outcomes(request, capsys):
    seen = Outcomes()
    yield seen
    with capsys.disabled():
        detail = ", ".join(f"{key}: {n}" for key, n in sorted(seen.items(), key=str))
        print(f"\n{request.node.name}: {seen.examples} examples ({detail})")


@pytest.fixture
def open_limits(settings, tmp_path):
    settings.HELPDESK_APPLY_RATE = settings.HELPDESK_APPLY_POST_RATE = (10**9, 3600)
    settings.HELPDESK_STATUS_RATE = (10**9, 600)
    # Lockout stays on, so that django-axes records every hostile login, but never triggers.
    settings.AXES_FAILURE_LIMIT = 10**9
    settings.LOGIN_ADDRESS_FREE_FAILURES = settings.LOGIN_USERNAME_FREE_FAILURES = 10**9
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings


def fresh(client):
    cache.clear()
    client.cookies.clear()


class Pages(dict):
    def __repr__(self):
        return f"<pages {', '.join(self)}>"


@pytest.fixture
def baselines(client):
    """The pages as a GET serves them: text found there anyway proves no echo."""
    return Pages(
        (path, client.get(path).content.decode()) for path in ["/login/", "/apply/", "/apply/status/"]
    )


# ---------------------------------------------------------------- /login/


@pytest.fixture
def account(make_account):
    return make_account(LOGIN)


usernames = st.one_of(
    st.just(LOGIN),
    st.sampled_from([f"{LOGIN} ", f" {LOGIN}", LOGIN.upper(), f"{LOGIN}\x00", "sch77 1234", "reg77_vpr"]),
    values,
)
passwords = st.one_of(
    st.just(PASSWORD),
    st.sampled_from([PASSWORD.upper(), f"{PASSWORD} ", f"{PASSWORD}\x00", PASSWORD[:-1], "' OR 1=1 --"]),
    values,
)


@fuzz
@given(
    username=st.one_of(usernames, st.lists(usernames, max_size=3)),
    password=st.one_of(passwords, st.lists(passwords, max_size=3)),
    extra=st.dictionaries(
        st.sampled_from(["remember", "next", "csrfmiddlewaretoken", "<fuzz-5>", ""]), values, max_size=3
    ),
    urlencoded=st.booleans(),
    # The right pair sent last a quarter of the time: the form sees only it, so the login
    # must succeed whatever came before it, and redirect only within the site.
    right=st.one_of(st.none(), st.none(), st.none(), st.just(True)),
)
@example(username=LOGIN, password=PASSWORD, extra={"next": "//evil.example/"}, urlencoded=False, right=None)
@example(username=[LOGIN], password=[PASSWORD, "x"], extra={}, urlencoded=True, right=None)
@example(username=LOGIN, password=PASSWORD, extra={"remember": HUGE}, urlencoded=False, right=None)
# Found by Hypothesis: a NUL byte in either field adds Django's own error, «Данные содержат
# запрещённый символ: ноль-байт», under that field (CharField's ProhibitNullCharactersValidator).
@example(username=None, password=f"{PASSWORD}\x00", extra={}, urlencoded=False, right=None)
def test_login_lets_in_only_the_right_pair_and_never_says_why(
    client, open_limits, account, baselines, outcomes, username, password, extra, urlencoded, right
):
    fresh(client)
    if right:
        username, password = then(username, LOGIN), then(password, PASSWORD)
    pairs = pairs_of({"username": username, "password": password, **extra})

    response = post(client, "/login/", pairs, urlencoded=urlencoded)

    assert response.status_code < 500
    outcomes[response.status_code] += 1
    logged_in = "_auth_user_id" in client.session
    if response.status_code == 400:  # a body Django will not parse: nobody is even asked
        assert not logged_in
        return
    if last(username) == LOGIN and last(password) == PASSWORD:
        assert response.status_code == 302 and logged_in
        target = urlsplit(response.url)
        assert target.netloc in ("", "testserver") and target.scheme in ("", "http")
        client.logout()
        return
    assert not logged_in
    if response.status_code == 200:
        page = response.content.decode()
        alerts = re.findall(r'class="alert alert-danger"[^>]*>(.*?)</div>', page, re.S)
        assert [a.strip() for a in alerts] == [INVALID_LOGIN]
        field_errors = re.findall(r'id="error_\d+_id_\w+"[^>]*>(.*?)</p>', page, re.S)
        assert field_errors == [], f"the page says more than «{INVALID_LOGIN}»: {field_errors}"
        assert_not_echoed(response.content, [v for _, v in pairs], baselines["/login/"])


# ---------------------------------------------------------------- /apply/


def unsafe_name(name):
    return "/" in name or "\\" in name or any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in name)


@fuzz
@given(
    changes=st.dictionaries(field_names, values, max_size=5),
    files=file_lists,
    files_field=st.one_of(
        st.just("attachments"), st.sampled_from(["Attachments", "attachments[]", "organization_name", ""])
    ),
    escape=st.booleans(),
)
@example(
    changes={}, files=[("scan.pdf", PDF, "application/pdf")] * 60, files_field="attachments", escape=True
)
@example(  # over DATA_UPLOAD_MAX_NUMBER_FILES (100)
    changes={}, files=[("scan.pdf", PDF, "application/pdf")] * 101, files_field="attachments", escape=True
)
@example(
    changes={},
    files=[(name, PDF, "application/pdf") for name in HOSTILE_NAMES],
    files_field="attachments",
    escape=True,
)
@example(changes={"description": HUGE}, files=[("scan.pdf", PDF, "")], files_field="attachments", escape=True)
def test_apply_stores_a_ticket_only_for_a_valid_request(
    client, open_limits, valid_data, baselines, outcomes, changes, files, files_field, escape
):
    fresh(client)
    media = open_limits.MEDIA_ROOT
    tickets, attachments, on_disk = Ticket.objects.count(), Attachment.objects.count(), files_on_disk(media)
    pairs = pairs_of({**valid_data, **changes})
    uploads = [(name, SimpleUploadedFile("upload", content, content_type=ct)) for name, content, ct in files]

    response = post(client, "/apply/", pairs, files=uploads, files_field=files_field, escape=escape)

    assert response.status_code < 500
    outcomes[response.status_code] += 1
    added = files_on_disk(media) - on_disk
    if response.status_code == 302:
        assert response.url == "/apply/done/"
        assert Ticket.objects.count() == tickets + 1
        stored = list(Attachment.objects.order_by("-pk")[: Attachment.objects.count() - attachments])
        assert 1 <= len(stored) == len(added) <= len(files)
        assert {media / a.file.name for a in stored} == added
        assert all(p.parent == media / "tickets" for p in added)
        assert not [a.original_name for a in stored if unsafe_name(a.original_name)]
        return
    assert (Ticket.objects.count(), Attachment.objects.count()) == (tickets, attachments)
    assert not added, f"files left on disk by a refused request: {added}"
    if response.status_code == 200:
        sent = [v for _, v in pairs] + [name for name, _, _ in files]
        assert_not_echoed(response.content, sent, baselines["/apply/"])


# ---------------------------------------------------------------- /apply/status/

NUMBER_TWISTS = {
    "same": lambda n: n,
    "lower": str.lower,
    "spaces": lambda n: f"  {n.lower()}\t",
    "no dash": lambda n: n.replace("-", ""),
    "underscore": lambda n: n.replace("-", "_"),
    "percent": lambda n: n[:-1] + "%",
    "other last": lambda n: n[:-1] + ("2" if n[-1] != "2" else "3"),
    "prefix": lambda n: "X" + n,
    "suffix": lambda n: n + "X",
    "nul": lambda n: n + "\x00",
    "fullwidth": lambda n: n.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),
    "sql": lambda n: f"{n}' OR 1=1 --",
}
EMAIL_TWISTS = {
    "same": lambda e: e,
    "upper": str.upper,
    "spaces": lambda e: f" {e.title()} ",
    "underscore": lambda e: "_" + e[1:],
    "percent": lambda e: "%" + e[e.index("@") :],
    "plus": lambda e: e.replace("@", "+x@"),
    "other domain": lambda e: e.split("@")[0] + "@example.ru",
    "trailing dot": lambda e: e + ".",
    "sql": lambda e: e.replace("@", "'--@"),
}
# Whole tickets' numbers and emails often, so that right pairs, crossed pairs and near misses all occur.
numbers = st.one_of(
    st.tuples(st.just("number"), st.integers(0, 1), st.sampled_from(["same", "lower", "spaces"])),
    st.tuples(st.just("number"), st.integers(0, 1), st.sampled_from(list(NUMBER_TWISTS))),
    scalars,
)
emails = st.one_of(
    st.tuples(st.just("email"), st.integers(0, 1), st.sampled_from(["same", "upper", "spaces"])),
    st.tuples(st.just("email"), st.integers(0, 1), st.sampled_from(list(EMAIL_TWISTS))),
    scalars,
)

# A ticket's own pair, sent last: repeated fields are fuzzed before it, and the form sees only it.
own_pairs = st.tuples(
    st.integers(0, 1),
    st.sampled_from(["same", "lower", "spaces"]),
    st.sampled_from(["same", "upper", "spaces"]),
)


def resolve(spec, tickets):
    """Turn ("number", 1, "lower") into the second ticket's number in lower case; keep other values."""
    if isinstance(spec, list):
        return [resolve(item, tickets) for item in spec]
    if isinstance(spec, tuple):
        kind, index, twist = spec
        if kind == "number":
            return NUMBER_TWISTS[twist](tickets[index].number)
        return EMAIL_TWISTS[twist](tickets[index].email)
    return spec


@pytest.fixture
def two_tickets(db):
    common = dict(
        information_system="fis_oko",
        region_id="77",
        phone="+79123456789",
        organization_type="school",
        role="school",
        person_name="Иванова М. П.",
        reason="lost",
        description="Замена пароля",
    )
    return [
        Ticket.objects.create(
            **common,
            organization_name="ГБОУ «Школа № 1234»",
            email="director@school1234.ru",
            login="sch771234",
            status=Status.REJECTED,
            rejection_reason="Скан письма без печати (секрет 1234)",
        ),
        Ticket.objects.create(
            **common,
            organization_name="ГБОУ «Гимназия № 56»",
            email="zavuch@school5601.ru",
            login="sch775601",
        ),
    ]


@fuzz
@given(
    number=st.one_of(st.none(), numbers, st.lists(numbers, max_size=3)),
    email=st.one_of(st.none(), emails, st.lists(emails, max_size=3)),
    extra=st.dictionaries(st.sampled_from(["csrfmiddlewaretoken", "status", "<fuzz-6>"]), values, max_size=2),
    urlencoded=st.booleans(),
    own=st.one_of(st.none(), st.none(), st.none(), own_pairs),
)
@example(number=("number", 0, "spaces"), email=("email", 0, "spaces"), extra={}, urlencoded=False, own=None)
@example(number=("number", 0, "same"), email=("email", 1, "same"), extra={}, urlencoded=True, own=None)
@example(number=("number", 1, "same"), email=("email", 1, "underscore"), extra={}, urlencoded=False, own=None)
@example(
    number=("number", 0, "same"),
    email=("email", 0, "same"),
    extra={"status": HUGE},
    urlencoded=True,
    own=None,
)
def test_status_shows_a_ticket_only_for_its_own_number_and_email(
    client, open_limits, two_tickets, baselines, outcomes, number, email, extra, urlencoded, own
):
    fresh(client)
    if own is not None:
        index, number_twist, email_twist = own
        number = then(number, ("number", index, number_twist))
        email = then(email, ("email", index, email_twist))
    number, email = resolve(number, two_tickets), resolve(email, two_tickets)
    pairs = pairs_of({"number": number, "email": email, **extra})

    response = post(client, "/apply/status/", pairs, urlencoded=urlencoded)

    assert response.status_code < 500
    outcomes[response.status_code] += 1
    if response.status_code != 200:
        return
    page = response.content.decode()
    typed_number, typed_email = last(number), last(email)
    for ticket in two_tickets:
        own = (
            typed_number is not None
            and typed_email is not None
            and typed_number.strip().upper() == ticket.number
            and typed_email.strip().lower() == ticket.email.lower()
        )
        assert (f"<strong>{ticket.number}</strong>" in page) == own, (
            ticket.number,
            typed_number,
            typed_email,
        )
        outcomes["shown"] += own
    assert ("секрет 1234" in page) == (f"<strong>{two_tickets[0].number}</strong>" in page)
    assert page.count('data-testid="ticket-status"') <= 1
    assert_not_echoed(response.content, [v for _, v in pairs], baselines["/apply/status/"])
