"""A staff change of a work's scale (in the admin, or by re-importing the procedure) recomputes
the marks of the results already uploaded, in the same transaction as the change."""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from procedures.models import Work


@receiver(pre_save, sender=Work)
def _remember_scale(sender, instance, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    instance._scale_before = (
        Work.objects.filter(pk=instance.pk).values_list("scale_3", "scale_4", "scale_5").first()
    )


@receiver(post_save, sender=Work)
def _recompute_marks(sender, instance, created, raw=False, **kwargs):
    before = getattr(instance, "_scale_before", None)
    if raw or created or before is None:
        return
    from .services import scale_of, work_marks_recompute

    if tuple(before) != scale_of(instance):
        work_marks_recompute(work=instance)
