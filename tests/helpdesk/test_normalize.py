"""Numbers and phones as people type them (helpdesk/normalize.py), and the form that stores phones."""

import pytest

from helpdesk import normalize
from helpdesk.models import Ticket
from tests.helpdesk.conftest import pdf


@pytest.mark.parametrize(
    "typed",
    [
        "ABCE-HK23",
        "abce-hk23",
        "АВСЕ-НК23",
        "авсе нк23",
        "АВСЕНК23",
        " ab ce hk 23 ",
        "АВСЕ–НК23",
        "№ ABCE-HK23",
    ],
)
def test_a_number_typed_any_way_is_the_stored_number(typed):
    assert normalize.ticket_number(typed) == "ABCE-HK23"


def test_every_russian_look_alike_maps_to_its_latin_letter():
    assert normalize.ticket_number("АВСЕ НКМР") == "ABCE-HKMP"
    assert normalize.ticket_number("тхух тхух") == "TXYX-TXYX"


@pytest.mark.parametrize(
    "typed", ["", "ABCE-HK2", "ABCE-HK234", "ABCE-HK21", "ДЖЗИ-НК23", "sch771234", "Гимназия"]
)
def test_what_cannot_be_a_number_is_none(typed):
    # 1 (and 0, O, I, L) is not in the alphabet; Д, Ж, З, И look like no Latin letter.
    assert normalize.ticket_number(typed) is None


@pytest.mark.parametrize(
    "typed",
    ["8 912 345-67-89", "89123456789", "9123456789", "+7 (912) 345-67-89", "+79123456789", "7 912 345 67 89"],
)
def test_a_phone_typed_any_way_is_the_stored_phone(typed):
    assert normalize.phone(typed) == "+79123456789"


@pytest.mark.parametrize("typed", ["", "12345", "школа 9123456789", "8 912 SCH-OOL1"])
def test_what_is_not_only_a_phone_is_none(typed):
    assert normalize.phone(typed) is None


def test_a_stored_phone_is_read_back_grouped():
    assert normalize.phone_display("+79123456789") == "+7 912 345-67-89"


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["8 912 345-67-89", "89123456789", "9123456789"])
def test_the_form_takes_the_phone_as_people_type_it(client, valid_data, typed):
    response = client.post("/apply/", {**valid_data, "phone": typed, "attachments": [pdf()]})
    assert response.status_code == 302 and response.url == "/apply/done/"
    assert Ticket.objects.get().phone == "+79123456789"
