from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from . import logins
from .logins import parse_login, shape_error


class Region(models.Model):
    """A subject of the Russian Federation; ``code`` is the RR of a login."""

    code = models.CharField("код", max_length=2, primary_key=True)
    name = models.CharField("наименование", max_length=200)

    class Meta:
        ordering = ["code"]
        verbose_name = "субъект РФ"
        verbose_name_plural = "субъекты РФ"

    def __str__(self):
        return f"{self.code} — {self.name}"


class Role(models.Model):
    """One row per ``logins.Role``, so that materials can target roles in the admin."""

    code = models.CharField("код", max_length=20, primary_key=True)
    name = models.CharField("наименование", max_length=200)

    class Meta:
        ordering = ["name"]
        verbose_name = "роль"
        verbose_name_plural = "роли"

    def __str__(self):
        return self.name


class Municipality(models.Model):
    region = models.ForeignKey(Region, models.PROTECT, verbose_name="субъект РФ")
    code = models.CharField("код", max_length=3)
    name = models.CharField("наименование", max_length=300)

    class Meta:
        ordering = ["region", "code"]
        verbose_name = "муниципалитет"
        verbose_name_plural = "муниципалитеты"
        constraints = [
            models.UniqueConstraint(fields=["region", "code"], name="municipality_unique_code"),
        ]

    def __str__(self):
        return f"{self.region_id}/{self.code} — {self.name}"


class School(models.Model):
    """An educational organization (ОО); ``code`` is the school code of a login."""

    region = models.ForeignKey(Region, models.PROTECT, verbose_name="субъект РФ")
    code = models.CharField("код ОО", max_length=6)
    name = models.CharField("наименование", max_length=500)
    municipality = models.ForeignKey(
        Municipality, models.SET_NULL, null=True, blank=True, verbose_name="муниципалитет"
    )

    class Meta:
        ordering = ["region", "code"]
        verbose_name = "образовательная организация"
        verbose_name_plural = "образовательные организации"
        constraints = [
            models.UniqueConstraint(fields=["region", "code"], name="school_unique_code"),
        ]

    def __str__(self):
        return f"{self.region_id}{self.code} — {self.name}"


class User(AbstractUser):
    """A cabinet account whose role and region follow from its login, or staff.

    Role, region and codes are derived on every save, so an account created in
    the admin, by an import or by ``create_user`` is classified the same way.
    """

    ROLE_CHOICES = [(role.value, role.label) for role in logins.Role]

    role = models.CharField("роль", max_length=20, choices=ROLE_CHOICES, blank=True, db_index=True)
    region = models.ForeignKey(Region, models.PROTECT, null=True, blank=True, verbose_name="субъект РФ")
    municipality_code = models.CharField("код муниципалитета", max_length=3, blank=True)
    school_code = models.CharField("код ОО", max_length=6, blank=True)
    must_change_password = models.BooleanField(
        "сменить пароль при входе",
        default=False,
        help_text="Пароль выдан службой поддержки: при следующем входе пользователь задаёт свой.",
    )

    class Meta:
        verbose_name = "учётная запись"
        verbose_name_plural = "учётные записи"
        indexes = [
            models.Index(fields=["region", "role"], name="user_region_role"),
            models.Index(fields=["region", "school_code"], name="user_region_school"),
            # A coordinator's account list: one region's logins in order, read a page at a time.
            models.Index(fields=["region", "username"], name="user_region_username"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(is_staff=True) | (~Q(role="") & Q(region__isnull=False)),
                name="user_cabinet_has_role_and_region",
            ),
        ]

    @property
    def is_cabinet_user(self):
        return bool(self.role) and not self.is_staff

    def apply_login(self):
        """Derive role, region and codes from the login; refuse an unknown shape.

        Staff accounts may have any username and get no role unless their
        username happens to be a cabinet login.
        """
        info = parse_login(self.username)
        if info is None or not Region.objects.filter(code=info.region_code).exists():
            if self.is_staff:
                self.role, self.region, self.municipality_code, self.school_code = "", None, "", ""
                return
            if info is None:
                raise ValidationError(shape_error(self.username), code="login_shape")
            raise ValidationError(
                f"В логине «{self.username}» указан неизвестный код региона {info.region_code}.",
                code="login_region",
            )
        self.role = info.role.value
        self.region_id = info.region_code
        self.municipality_code = info.municipality_code
        self.school_code = info.school_code

    def clean(self):
        super().clean()
        try:
            self.apply_login()
        except ValidationError as error:
            raise ValidationError({"username": error.messages}) from error

    def save(self, *args, **kwargs):
        # A save of a few other fields (last_login at every login) skips the check.
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "username" in update_fields:
            self.apply_login()
        super().save(*args, **kwargs)


class LoginFailures(models.Model):
    """Failed logins of one client address or one login in the current window (``login_budget.py``).

    In PostgreSQL rather than the cache: every web process and host shares it, and it keeps
    counting while Redis is down or read-only, when the cache counts nothing.
    """

    key = models.CharField(max_length=200, unique=True)  # "address:<ip>" or "login:<username>"
    failures = models.PositiveIntegerField()
    started_at = models.DateTimeField(db_index=True)  # the window's first failure
    last_failure_at = models.DateTimeField()

    class Meta:
        verbose_name = "неудачные входы"
        verbose_name_plural = "неудачные входы"

    def __str__(self):
        return f"{self.key}: {self.failures}"
