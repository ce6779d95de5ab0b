from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm, SetPasswordForm
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


class NewPasswordMixin:
    """The new password must differ from the one the account has now.

    After a password issued by support that one travelled by SMS: keeping it would leave a password
    that a phone screen, an operator's glance or the SMS gateway has seen.
    """

    same_password_error = "Новый пароль совпадает с текущим. Придумайте другой."

    def clean_new_password1(self):
        password = self.cleaned_data.get("new_password1")
        if password and self.user.check_password(password):
            raise forms.ValidationError(self.same_password_error, code="password_unchanged")
        return password


class IssuedPasswordReplaceForm(NewPasswordMixin, SetPasswordForm):
    """The forced change right after logging in with a password issued by support.

    The current password is not asked: the user has just typed it at the login page.
    """

    same_password_error = "Новый пароль совпадает с выданным службой поддержки. Придумайте другой."


class OwnPasswordChangeForm(NewPasswordMixin, PasswordChangeForm):
    """Any other change asks for the current password.

    A session left open on a shared school computer (14 days with «Запомнить меня») must not be
    enough to take the account over. The current password is checked through ``authenticate``, so a
    wrong one counts towards the same lockout as a failed login, and five lock the page too.
    """

    error_messages = {
        **PasswordChangeForm.error_messages,
        "password_incorrect": "Текущий пароль введён неверно.",
    }

    def __init__(self, user, *args, request=None, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)
        self.fields["old_password"].label = "Текущий пароль"

    def clean_old_password(self):
        password = self.cleaned_data["old_password"]
        credentials = {"username": self.user.get_username(), "password": password}
        if authenticate(self.request, **credentials) is None:
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return password


class StaffCodeForm(forms.Form):
    code = forms.CharField(
        label="Код подтверждения",
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
        help_text="Шесть цифр из приложения-аутентификатора или один из кодов восстановления.",
    )
