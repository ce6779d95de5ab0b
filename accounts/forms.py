from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import ProhibitNullCharactersValidator

INVALID_LOGIN = "Неверный логин или пароль"
MAX_USERNAME = 150


class LoginForm(AuthenticationForm):
    """Django's login form with the cabinet's wording.

    Every failure — unknown login, wrong password, inactive account, an empty
    field — raises the same single message, so the page never tells which of
    the two was wrong. The fields are required in the browser only.
    """

    username = forms.CharField(
        label="Логин",
        required=False,
        strip=False,  # logins are matched exactly, spaces included
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
                "required": True,
            }
        ),
    )
    password = forms.CharField(
        label="Пароль",
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "required": True}),
    )
    remember = forms.BooleanField(label="Запомнить меня", required=False)

    error_messages = {"invalid_login": INVALID_LOGIN, "inactive": INVALID_LOGIN}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django's own NUL-byte message would name the field; clean() refuses NUL itself.
        for name in ("username", "password"):
            field = self.fields[name]
            field.validators = [
                v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)
            ]

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password") or ""
        # No account has a longer name or a NUL byte, and django-axes could not record either.
        if not username or not password or len(username) > MAX_USERNAME or "\x00" in username + password:
            raise self.get_invalid_login_error()
        return super().clean()

    def get_invalid_login_error(self):
        return forms.ValidationError(INVALID_LOGIN, code="invalid_login")
