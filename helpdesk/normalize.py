"""Request numbers and phones as people type them, turned into the form they are stored in.

A number read off a letter is typed on whatever layout the keyboard is in: «АВСЕ нк23» in the
Russian one, with Cyrillic letters that look like the Latin ones, in lower case, without the dash
or with spaces. A phone comes as «8 912 345-67-89», «89123456789» or «9123456789»; it is stored as
+7XXXXXXXXXX (E.164). Used by the request form, the status page and the operators' search.
"""

import re

import phonenumbers

from .models import NUMBER_ALPHABET

# Cyrillic capitals drawn like the Latin letters of the number alphabet. Lower case is folded first.
LOOK_ALIKES = str.maketrans("АВСЕНКМРТХУ", "ABCEHKMPTXY")
# Spaces, dashes of every width, and the «№» copied from a subject line along with the number.
_SEPARATORS = str.maketrans("", "", " -\u2010\u2011\u2012\u2013\u2014\u00a0№")
# phonenumbers would find a number inside any text («школа 9123456789», letters as on a keypad):
# a phone is digits and the marks people write between them, nothing else.
PHONE_CHARS = re.compile(r"\+?[0-9\s().\-\u2010-\u2014\u00a0]+")


def ticket_number(text):
    """«XXXX-XXXX» when the text, typed in any of those ways, can be a request number, else None."""
    raw = (text or "").upper().translate(LOOK_ALIKES).translate(_SEPARATORS)
    if len(raw) != 8 or any(char not in NUMBER_ALPHABET for char in raw):
        return None
    return f"{raw[:4]}-{raw[4:]}"


# Eight characters of letters and digits in two fours, split by a space or a dash at most: the shapes
# ticket_number() takes, found inside a subject line («Re: Заявка № ABCE-HK23 — ответ»).
_NUMBER_IN_TEXT = re.compile(r"(?<!\w)(\w{4}[ \-\u2010-\u2014]?\w{4})(?!\w)")


def ticket_numbers_in(text):
    """The request numbers («XXXX-XXXX») that a text, a letter's subject, carries, in order."""
    found = []
    for match in _NUMBER_IN_TEXT.finditer(text or ""):
        number = ticket_number(match.group(1))
        if number and number not in found:
            found.append(number)
    return found


def parse_phone(text):
    """The phonenumbers object of a valid Russian number, else None (a 10-digit number is taken as
    one without +7, an 11-digit one starting with 8 as the domestic form)."""
    if not PHONE_CHARS.fullmatch((text or "").strip()):
        return None
    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number_for_region(number, "RU") else None


def phone(text):
    """+7XXXXXXXXXX, the stored form, for any typing of a valid Russian number, else None."""
    number = parse_phone(text)
    return None if number is None else phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_display(stored):
    """«+7 912 345-67-89»: the stored phone as a person reads it back to catch a typo."""
    number = parse_phone(stored)
    if number is None:
        return stored
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
