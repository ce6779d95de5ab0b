import pytest

from accounts.logins import LoginInfo, Role, parse_login


@pytest.mark.parametrize(
    "login, expected",
    [
        ("reg77_vpr", LoginInfo("reg77_vpr", Role.REGIONAL_VPR, "77")),
        ("reg01_vpr", LoginInfo("reg01_vpr", Role.REGIONAL_VPR, "01")),
        ("reg50_vpr_m012", LoginInfo("reg50_vpr_m012", Role.MUNICIPAL_VPR, "50", municipality_code="012")),
        ("reg95_vpr_m000", LoginInfo("reg95_vpr_m000", Role.MUNICIPAL_VPR, "95", municipality_code="000")),
        ("niko_24", LoginInfo("niko_24", Role.REGIONAL_NIKO, "24")),
        ("spo_coord_66", LoginInfo("spo_coord_66", Role.REGIONAL_SPO, "66")),
        ("reg16_kko", LoginInfo("reg16_kko", Role.REGIONAL_KKO, "16")),
        ("sch771234", LoginInfo("sch771234", Role.SCHOOL, "77", school_code="1234")),
        ("sch7712345", LoginInfo("sch7712345", Role.SCHOOL, "77", school_code="12345")),
        ("sch77123456", LoginInfo("sch77123456", Role.SCHOOL, "77", school_code="123456")),
        ("edu240017", LoginInfo("edu240017", Role.SCHOOL_NIKO, "24", school_code="0017")),
        ("edu24001700", LoginInfo("edu24001700", Role.SCHOOL_NIKO, "24", school_code="001700")),
    ],
)
def test_valid_login_is_parsed(login, expected):
    assert parse_login(login) == expected


@pytest.mark.parametrize(
    "login",
    [
        "",
        "Reg77_vpr",  # wrong case
        "REG77_VPR",
        "reg77_VPR",
        "Sch771234",
        "NIKO_24",
        " reg77_vpr",  # surrounding spaces
        "reg77_vpr ",
        "reg77_vpr\n",
        "\treg77_vpr",
        "reg77_vpr_",  # extra characters
        "reg77_vprx",
        "reg77_vpr_m01",  # municipality code too short
        "reg77_vpr_m0123",  # too long
        "reg77_vpr_mabc",
        "reg7_vpr",  # one-digit region
        "reg777_vpr",
        "regAB_vpr",
        "niko24",
        "niko_2",
        "niko_245",
        "spo_coord66",
        "spo-coord_66",
        "reg16kko",
        "sch77123",  # school code 3 digits
        "sch771234567",  # 7 digits
        "ѕch771234",  # Cyrillic «ѕ» (dze)
        "sсh771234",  # Cyrillic «с» in «sch»
        "edu24001",
        "edu2400a7",
        "sch77١٢٣٤",  # Arabic-Indic digits
        "reg77_vpr; DROP TABLE accounts_user",
        "x" * 1000,
        "sch" + "7" * 997,
        "reg77_kko_m012",
    ],
)
def test_invalid_login_is_refused(login):
    assert parse_login(login) is None


def test_non_string_is_refused():
    assert parse_login(None) is None
    assert parse_login(771234) is None


def test_each_role_has_a_russian_label():
    assert Role.SCHOOL.label == "Образовательная организация"
    assert {role.is_regional for role in Role} == {True, False}
    assert [r for r in Role if r.is_regional] == [
        Role.REGIONAL_VPR,
        Role.REGIONAL_NIKO,
        Role.REGIONAL_SPO,
        Role.REGIONAL_KKO,
    ]
