"""Parse an issued ФИС ОКО login into who it belongs to.

Pure Python on purpose: forms, models, the admin and the helpdesk form all call
``parse_login`` and it is tested without a database. It checks only the shape;
whether the region code is a real subject of the Russian Federation is the
caller's business (the regions live in the database).
"""

import enum
import re
from dataclasses import dataclass


class Role(enum.StrEnum):
    REGIONAL_VPR = "regional_vpr"
    MUNICIPAL_VPR = "municipal_vpr"
    REGIONAL_NIKO = "regional_niko"
    REGIONAL_SPO = "regional_spo"
    REGIONAL_KKO = "regional_kko"
    SCHOOL = "school"
    SCHOOL_NIKO = "school_niko"

    @property
    def label(self):
        return ROLE_LABELS[self]

    @property
    def is_regional(self):
        return self in REGIONAL_ROLES


ROLE_LABELS = {
    Role.REGIONAL_VPR: "Региональный координатор ВПР",
    Role.MUNICIPAL_VPR: "Муниципальный координатор ВПР",
    Role.REGIONAL_NIKO: "Региональный координатор НИКО",
    Role.REGIONAL_SPO: "Региональный координатор СПО",
    Role.REGIONAL_KKO: "Региональный координатор ФГККО",
    Role.SCHOOL: "Образовательная организация",
    Role.SCHOOL_NIKO: "Организатор НИКО в образовательной организации",
}

REGIONAL_ROLES = frozenset({Role.REGIONAL_VPR, Role.REGIONAL_NIKO, Role.REGIONAL_SPO, Role.REGIONAL_KKO})

# ASCII digits only: \d would also accept Arabic-Indic and other Unicode digits.
_PATTERNS = [
    (Role.REGIONAL_VPR, re.compile(r"reg(?P<region>[0-9]{2})_vpr")),
    (Role.MUNICIPAL_VPR, re.compile(r"reg(?P<region>[0-9]{2})_vpr_m(?P<municipality>[0-9]{3})")),
    (Role.REGIONAL_NIKO, re.compile(r"niko_(?P<region>[0-9]{2})")),
    (Role.REGIONAL_SPO, re.compile(r"spo_coord_(?P<region>[0-9]{2})")),
    (Role.REGIONAL_KKO, re.compile(r"reg(?P<region>[0-9]{2})_kko")),
    (Role.SCHOOL, re.compile(r"sch(?P<region>[0-9]{2})(?P<school>[0-9]{4,6})")),
    (Role.SCHOOL_NIKO, re.compile(r"edu(?P<region>[0-9]{2})(?P<school>[0-9]{4,6})")),
]

# The same shapes as one HTML `pattern` attribute (JavaScript syntax: no named groups), so that a
# browser refuses what parse_login would.
HTML_PATTERN = "|".join(re.sub(r"\(\?P<\w+>", "(", pattern.pattern) for _, pattern in _PATTERNS)

# Shown when a login matches no pattern; names every expected shape.
EXPECTED_SHAPES = (
    "regRR_vpr, regRR_vpr_mNNN, niko_RR, spo_coord_RR, regRR_kko, "
    "schRRNNNN (4–6 цифр кода ОО), eduRRNNNN, где RR — код региона"
)

MAX_LOGIN_LENGTH = 32


def shape_error(login):
    """The message for a login that matches no pattern."""
    return f"Логин «{login}» не соответствует ни одному шаблону: {EXPECTED_SHAPES}."


@dataclass(frozen=True)
class LoginInfo:
    login: str
    role: Role
    region_code: str
    municipality_code: str = ""
    school_code: str = ""


def parse_login(login):
    """Return the ``LoginInfo`` for ``login``, or None when it matches no pattern.

    Matching is exact and case-sensitive: no trimming, no case folding, the
    whole string must match.
    """
    if not isinstance(login, str) or len(login) > MAX_LOGIN_LENGTH:
        return None
    for role, pattern in _PATTERNS:
        match = pattern.fullmatch(login)
        if match:
            groups = match.groupdict()
            return LoginInfo(
                login=login,
                role=role,
                region_code=groups["region"],
                municipality_code=groups.get("municipality") or "",
                school_code=groups.get("school") or "",
            )
    return None
