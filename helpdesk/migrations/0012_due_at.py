from django.conf import settings
from django.db import migrations, models


def set_open_deadlines(apps, schema_editor):
    """Open requests get their deadline from their filing time; closed ones need none."""
    from helpdesk import workdays

    Ticket = apps.get_model("helpdesk", "Ticket")
    rows = Ticket.objects.filter(status__in=["new", "in_progress"], due_at__isnull=True)
    for ticket in rows.only("pk", "created_at").iterator(chunk_size=2000):
        due_at = workdays.due(ticket.created_at, settings.HELPDESK_ANSWER_DAYS)
        Ticket.objects.filter(pk=ticket.pk).update(due_at=due_at)


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0011_sms_gateway"),
    ]

    operations = [
        migrations.AddField(
            model_name="ticket",
            name="due_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="срок"),
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("status__in", ["new", "in_progress"])), fields=["due_at"], name="ticket_open_due"
            ),
        ),
        migrations.RunPython(set_open_deadlines, migrations.RunPython.noop),
    ]
