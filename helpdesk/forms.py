import phonenumbers
from django import forms
from django.template.defaultfilters import filesizeformat

from accounts.logins import parse_login, shape_error
from accounts.models import Region

from . import normalize
from .models import InformationSystem, Ticket
from .uploads import ALLOWED_EXTENSIONS, MAX_TOTAL_BYTES, UploadError, check_file


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
    region = forms.ModelChoiceField(
        Region.objects.all(), label="Субъект РФ", empty_label="— выберите субъект РФ —"
    )
    attachments = MultipleFileField(
        label="Вложения",
        error_messages={"required": "Приложите скан письма-заявки на замену пароля."},
        help_text=(
            "Скан письма с подписью руководителя (и печатью — для образовательной организации). "
            f"Не более 40 МБ в сумме: {', '.join(ALLOWED_EXTENSIONS)}."
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
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["information_system"].initial = InformationSystem.FIS_OKO
        self.fields["description"].initial = "Замена пароля"
        self.fields["email"].error_messages["invalid"] = "Введите правильный адрес электронной почты."

    def clean_login(self):
        login = self.cleaned_data["login"]
        if parse_login(login) is None:
            raise forms.ValidationError(shape_error(login))
        return login

    def clean_phone(self):
        return clean_russian_mobile(self.cleaned_data["phone"])

    def clean_attachments(self):
        files = self.cleaned_data["attachments"]
        total = sum(f.size for f in files)
        if total > MAX_TOTAL_BYTES:
            raise forms.ValidationError(
                f"Вложения занимают {filesizeformat(total)}, а можно не более 40 МБ в сумме."
            )
        checked = []
        for uploaded in files:
            try:
                name, content_type = check_file(uploaded)
            except UploadError as error:
                raise forms.ValidationError(str(error)) from error
            checked.append((uploaded, name, content_type))
        return checked

    def clean_website(self):
        if self.cleaned_data["website"]:
            raise forms.ValidationError("Заявка не принята.")
        return ""

    def clean(self):
        cleaned = super().clean()
        info = parse_login(cleaned.get("login"))
        region = cleaned.get("region")
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
