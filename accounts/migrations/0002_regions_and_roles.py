from django.db import migrations

from accounts.regions import load_regions

# Frozen here on purpose: a migration must not change when logins.py does.
ROLES = [
    ("regional_vpr", "Региональный координатор ВПР"),
    ("municipal_vpr", "Муниципальный координатор ВПР"),
    ("regional_niko", "Региональный координатор НИКО"),
    ("regional_spo", "Региональный координатор СПО"),
    ("regional_kko", "Региональный координатор ФГККО"),
    ("school", "Образовательная организация"),
    ("school_niko", "Организатор НИКО в образовательной организации"),
]


def forwards(apps, schema_editor):
    load_regions(apps.get_model("accounts", "Region"))
    Role = apps.get_model("accounts", "Role")
    for code, name in ROLES:
        Role.objects.update_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
