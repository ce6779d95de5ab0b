from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Операторы техподдержки"
CODENAME = "view_attachmentdownload"


def _permission(apps):
    # Permissions are normally created after all migrations; this group needs this one now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.get(content_type__app_label="helpdesk", codename=CODENAME)


def forwards(apps, schema_editor):
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=GROUP)
    group.permissions.add(_permission(apps))


def backwards(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(_permission(apps))


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0003_retention_and_download_audit")]

    operations = [migrations.RunPython(forwards, backwards)]
