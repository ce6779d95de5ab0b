import re

import phonenumbers
from django import forms
from django.template.defaultfilters import filesizeformat

from accounts.logins import HTML_PATTERN, parse_login, shape_error
from accounts.models import Region
from fisoko_portal.uploads import ALLOWED_EXTENSIONS, MAX_TOTAL_BYTES, UploadError, check_file, check_name

from . import normalize
from .models import InformationSystem, Ticket

EMPTY_CHOICE = "— выберите —"
TOO_BIG = "Вложения занимают {size}, а можно не более 40 МБ в сумме."

# A Russian keyboard layout typed where a Latin login was meant: «ыср771234» is «sch771234».
_RU_KEYS = "йцукенгшщзхъфывапролджэячсмитьбю"
_EN_KEYS = "qwertyuiop[]asdfghjkl;'zxcvbnm,."
_LAYOUT = str.maketrans(_RU_KEYS + _RU_KEYS.upper(), _EN_KEYS + _EN_KEYS.upper())
# Cyrillic letters that look like Latin ones: «sсh771234» with a Cyrillic «с».
_LOOKALIKE = str.maketrans("асеикмнорстухАСЕКМНОРТХ", "aceukmhopctyxACEKMHOPTX")
_CYRILLIC = re.compile("[\u0400-\u04ff]")


def login_error(login):
    """What is wrong with a login that matches no pattern, in the words that help fix it."""
    if _CYRILLIC.search(login):
        for guess in (login.translate(_LAYOUT), login.translate(_LOOKALIKE)):
            if parse_login(guess.lower()):
                return (
                    f"Логин набран русскими буквами: переключите раскладку клавиатуры на английскую. "
                    f"Вероятно, ваш логин — {guess.lower()}."
                )
        return (
            "В логине есть русские буквы: переключите раскладку клавиатуры на английскую "
            "и введите логин латиницей."
        )
    if login != login.lower():
        if parse_login(login.lower()):
            return f"Логин вводится строчными буквами: {login.lower()}."
        return "Логин вводится строчными (маленькими) латинскими буквами. " + shape_error(login)
    if login != login.strip() or " " in login:
        if parse_login(login.replace(" ", "").strip()):
            return f"Уберите пробелы из логина: {login.replace(' ', '').strip()}."
    return shape_error(login)


def declared_files_errors(names, sizes):
    """The refusals the chosen files earn by their names and sizes alone (the check before upload)."""
    if not names:
        return [ApplyForm.base_fields["attachments"].error_messages["required"]]
    errors = []
    total = sum(int(size) if str(size).isdigit() else 0 for size in sizes)
    if total > MAX_TOTAL_BYTES:
        errors.append(TOO_BIG.format(size=filesizeformat(total)))
    for name in names:
        try:
            check_name(name)
        except UploadError as error:
            errors.append(str(error))
    return errors


def clean_russian_mobile(raw):
    """A Russian mobile number as +7XXXXXXXXXX, or ValidationError (the form's and the operator's check).

    Taken as people type it: «8 912 345-67-89», «89123456789», «9123456789», «+7 (912) 345-67-89».
    """
    number = normalize.parse_phone(raw)
    if number is None:
        raise forms.ValidationError("Введите номер мобильного телефона в России, например +7 912 345-67-89.")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise forms.ValidationError(
            "Это не мобильный номер. Укажите мобильный телефон: новый пароль приходит по SMS."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def checked_uploads(files):
    """(uploaded file, clean name, detected type) for each file, or the first refusal: the 40 MB in
    sum, then each file's name, content and (when on) antivirus check. /apply/ and the answer to a
    clarification take files through this one gate."""
    total = sum(f.size for f in files)
    if total > MAX_TOTAL_BYTES:
        raise forms.ValidationError(TOO_BIG.format(size=filesizeformat(total)))
    checked = []
    for uploaded in files:
        try:
            name, content_type = check_file(uploaded)
        except UploadError as error:
            raise forms.ValidationError(str(error)) from error
        checked.append((uploaded, name, content_type))
    return checked


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        items = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not items and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        single = super().clean
        return [single(item, initial) for item in items]


class ApplyForm(forms.ModelForm):
    # Filled in from the login's region code when left empty (by the page's script, and here).
    region = forms.ModelChoiceField(
        Region.objects.all(),
        label="Субъект РФ",
        empty_label=EMPTY_CHOICE,
        required=False,
        help_text="Подставляется по коду региона в логине.",
    )
    attachments = MultipleFileField(
        label="Вложения",
        error_messages={"required": "Приложите скан письма-заявки на замену пароля."},
        help_text=(
            "Скан или фото письма с подписью руководителя (и печатью — для образовательной организации). "
            f"Не более 40 МБ в сумме: {', '.join(ALLOWED_EXTENSIONS)}. Файлы можно добавлять по одному; "
            "лишний убирается кнопкой «Удалить»."
        ),
        widget=MultipleFileInput(attrs={"accept": ",".join(f".{e}" for e in ALLOWED_EXTENSIONS)}),
    )
    phone = forms.CharField(
        label="Телефон",
        max_length=40,
        help_text="Мобильный телефон: на него придёт SMS с новым паролем.",
        widget=forms.TextInput(
            attrs={"type": "tel", "autocomplete": "tel", "placeholder": "+7 9XX XXX-XX-XX"}
        ),
    )
    consent = forms.BooleanField(
        label="Даю согласие на обработку персональных данных",
        error_messages={"required": "Без согласия на обработку персональных данных заявку принять нельзя."},
    )
    # Honeypot: hidden from people by CSS, filled in by bots.
    website = forms.CharField(
        label="Оставьте это поле пустым",
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    class Meta:
        model = Ticket
        fields = [
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
        ]
        labels = {"person_name": "ФИО лица, для которого меняется пароль", "email": "E-mail"}
        help_texts = {
            "email": "На этот адрес придёт ответ на заявку (пароль по почте не отправляется).",
            "login": "Логин, для которого нужно заменить пароль, например sch771234 или reg77_vpr.",
            "head_name": "Для шаблона письма.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "email": forms.EmailInput(attrs={"autocomplete": "email"}),
            # Phones capitalize and «correct» the first letter: Sch771234 is not a login.
            "login": forms.TextInput(
                attrs={
                    "autocapitalize": "none",
                    "autocorrect": "off",
                    "spellcheck": "false",
                    "autocomplete": "username",
                    "pattern": HTML_PATTERN,
                    "title": "Латинские строчные буквы, цифры и «_», например sch771234 или reg77_vpr",
                }
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["information_system"].initial = InformationSystem.FIS_OKO
        self.fields["description"].initial = "Замена пароля"
        self.fields["email"].error_messages["invalid"] = "Введите правильный адрес электронной почты."
        for name in ("information_system", "organization_type", "reason"):
            field = self.fields[name]
            field.choices = [("", EMPTY_CHOICE), *((v, label) for v, label in field.choices if v)]

    def clean_login(self):
        login = self.cleaned_data["login"]
        if parse_login(login) is None:
            raise forms.ValidationError(login_error(login))
        return login

    def clean_phone(self):
        return clean_russian_mobile(self.cleaned_data["phone"])

    def clean_attachments(self):
        return checked_uploads(self.cleaned_data["attachments"])

    def clean_website(self):
        if self.cleaned_data["website"]:
            raise forms.ValidationError("Заявка не принята.")
        return ""

    def clean(self):
        cleaned = super().clean()
        info = parse_login(cleaned.get("login"))
        region = cleaned.get("region")
        if region is None and "region" not in self.errors:
            if info is None:
                self.add_error(
                    "region", "Выберите субъект РФ или введите логин: субъект определится по нему."
                )
                return cleaned
            region = cleaned["region"] = Region.objects.filter(code=info.region_code).first()
            if region is None:
                self.add_error(
                    "login", f"Код региона в логине ({info.region_code}) не найден среди субъектов РФ."
                )
                return cleaned
        if info and region and info.region_code != region.code:
            self.add_error(
                "login",
                f"Код региона в логине ({info.region_code}) не совпадает с выбранным субъектом РФ "
                f"({region.code} — {region.name}).",
            )
        return cleaned


class StatusForm(forms.Form):
    number = forms.CharField(
        label="Номер заявки",
        max_length=20,
        help_text="Из письма-подтверждения, вида ABCD-2345.",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false"}),
    )
    email = forms.EmailField(label="E-mail, указанный в заявке")

    def clean_number(self):
        # Typed in the Russian layout, in lower case, without the dash: still the same number. A text
        # that cannot be a number is looked up as typed and simply not found.
        typed = self.cleaned_data["number"]
        return normalize.ticket_number(typed) or typed.strip().upper()


class ReplyForm(forms.Form):
    """The requester's answer to a clarification, through the private link: files and a comment."""

    attachments = MultipleFileField(
        label="Файлы",
        required=False,
        help_text=(
            f"Например, разборчивый скан письма. Не более 40 МБ в сумме: {', '.join(ALLOWED_EXTENSIONS)}."
        ),
        widget=MultipleFileInput(attrs={"accept": ",".join(f".{e}" for e in ALLOWED_EXTENSIONS)}),
    )
    comment = forms.CharField(
        label="Комментарий", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean_attachments(self):
        return checked_uploads(self.cleaned_data["attachments"])

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("attachments") and not cleaned.get("comment", "").strip():
            raise forms.ValidationError("Приложите файл или напишите комментарий.")
        return cleaned
