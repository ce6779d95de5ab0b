from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX

from .models import Municipality, Region, School, User


class NeverHadPasswordFilter(admin.SimpleListFilter):
    """Accounts made by the directory import (or without a password) until access is handed over."""

    title = "пароль не выдавался"
    parameter_name = "no_password"

    def lookups(self, request, model_admin):
        return [("yes", "Пароль не выдавался"), ("no", "Пароль выдан")]

    def queryset(self, request, queryset):
        never = {"password__startswith": UNUSABLE_PASSWORD_PREFIX}
        if self.value() == "yes":
            return queryset.filter(**never)
        if self.value() == "no":
            return queryset.exclude(**never)
        return queryset


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "role", "region", "is_active", "password_issued", "is_staff", "last_login"]
    list_filter = [NeverHadPasswordFilter, "role", "is_active", "is_staff", "region"]
    list_select_related = ["region"]
    search_fields = ["username", "email", "last_name"]
    readonly_fields = ["role", "region", "municipality_code", "school_code", "last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Определено по логину", {"fields": ["role", "region", "municipality_code", "school_code"]}),
        ("Контактное лицо", {"fields": ["last_name", "first_name", "email"]}),
        ("Права", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Даты", {"fields": ["last_login", "date_joined"]}),
    ]
    @admin.display(description="пароль выдан", boolean=True)
    def password_issued(self, obj):
        return obj.has_usable_password()

    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["username", "is_staff", "password1", "password2"]}),
    ]


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin):
    list_display = ["region", "code", "name"]
    list_filter = ["region"]
    list_select_related = ["region"]
    search_fields = ["code", "name"]


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin):
    list_display = ["region", "code", "name", "municipality"]
    list_filter = ["region"]
    list_select_related = ["region", "municipality"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["municipality"]
