from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Операторы техподдержки"
PERMISSIONS = [
    ("helpdesk", "view_ticket"),
    ("helpdesk", "change_ticket"),
    ("helpdesk", "view_attachment"),
    ("helpdesk", "view_ticketevent"),
    ("helpdesk", "view_notification"),
]


def forwards(apps, schema_editor):
    # Permissions are normally created after all migrations; this group needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
