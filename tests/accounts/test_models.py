import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.logins import Role as RoleEnum
from accounts.models import Region, Role, User
from accounts.regions import load_regions

pytestmark = pytest.mark.django_db


def test_create_user_derives_role_and_region_from_school_login():
    user = get_user_model().objects.create_user("sch771234", password="pw-123456789")
    user.refresh_from_db()
    assert (user.role, user.region_id, user.school_code, user.municipality_code) == (
        "school",
        "77",
        "1234",
        "",
    )
    assert user.region.name == "г. Москва"
    assert user.check_password("pw-123456789")


def test_create_user_derives_municipality_code():
    user = User.objects.create_user("reg50_vpr_m012", password="x")
    assert (user.role, user.region_id, user.municipality_code) == ("municipal_vpr", "50", "012")


def test_login_of_unknown_shape_is_refused_and_nothing_is_stored():
    with pytest.raises(ValidationError) as error:
        User.objects.create_user("Sch771234", password="x")
    assert "не соответствует ни одному шаблону" in error.value.messages[0]
    assert "schRRNNNN" in error.value.messages[0]
    assert not User.objects.exists()


def test_login_with_unknown_region_is_refused():
    with pytest.raises(ValidationError) as error:
        User.objects.create_user("sch801234", password="x")  # 80 is no longer a region
    assert error.value.messages == ["В логине «sch801234» указан неизвестный код региона 80."]
    assert not User.objects.exists()


def test_staff_may_have_any_username_and_get_no_role():
    operator = User.objects.create_user("ivanova.tp", password="x", is_staff=True)
    admin = User.objects.create_superuser("admin", password="x")
    assert (operator.role, operator.region_id) == ("", None)
    assert admin.is_staff and admin.role == ""


def test_renaming_an_account_in_the_admin_rederives_it():
    user = User.objects.create_user("sch771234", password="x")
    user.username = "reg16_kko"
    user.full_clean()
    user.save()
    user.refresh_from_db()
    assert (user.role, user.region_id, user.school_code) == ("regional_kko", "16", "")


def test_model_validation_puts_the_message_on_the_username_field():
    user = User(username="reg99_vpr")
    user.set_password("x")
    with pytest.raises(ValidationError) as error:
        user.full_clean()
    assert error.value.message_dict["username"] == ["В логине «reg99_vpr» указан неизвестный код региона 99."]


def test_database_refuses_a_cabinet_account_without_role():
    user = User.objects.create_user("sch771234", password="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=user.pk).update(role="")


def test_regions_are_loaded_with_new_subjects():
    assert Region.objects.count() == 89
    names = dict(Region.objects.filter(code__gte="90").values_list("code", "name"))
    assert names == {
        "90": "Запорожская область",
        "91": "Республика Крым",
        "92": "г. Севастополь",
        "93": "Донецкая Народная Республика",
        "94": "Луганская Народная Республика",
        "95": "Херсонская область",
    }
    assert not Region.objects.filter(code__in=["80", "81", "82", "84", "85", "88"]).exists()


def test_adding_a_region_is_a_data_change(tmp_path):
    data = tmp_path / "regions.csv"
    data.write_text("code,name\n77,г. Москва\n96,Новый субъект\n", encoding="utf-8")
    assert load_regions(Region, data) == 1
    assert User.objects.create_user("sch961234", password="x").region.name == "Новый субъект"


def test_role_rows_match_the_login_roles():
    assert dict(Role.objects.values_list("code", "name")) == {r.value: r.label for r in RoleEnum}
