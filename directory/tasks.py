from celery import shared_task

from . import credentials, services


@shared_task
def run_import(import_id):
    """Write a confirmed import. Takes the row's id: the file is read from storage and checked again."""
    services.import_run(import_id=import_id)


@shared_task
def make_credentials(handover_id):
    """Make the passwords of a handover. Takes the row's id only: the passwords are generated here,
    inside the worker, so that they never pass through the broker."""
    credentials.handover_make(handover_id=handover_id)


@shared_task
def purge_credentials():
    """Beat: delete the encrypted files of handovers that were not downloaded in time."""
    return credentials.handover_purge_expired()
