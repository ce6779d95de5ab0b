from django.contrib import admin

from .models import Material, MaterialFile


class MaterialFileInline(admin.TabularInline):
    model = MaterialFile
    extra = 1


@admin.register(Material)
class MaterialAdmin(admin.ModelAdmin):
    list_display = ["title", "tab", "published_at", "is_published"]
    list_filter = ["tab", "is_published", "roles", "regions"]
    search_fields = ["title", "text"]
    date_hierarchy = "published_at"
    filter_horizontal = ["roles", "regions"]
    inlines = [MaterialFileInline]
