from django.core.management.base import BaseCommand

from helpdesk import mailbox


class Command(BaseCommand):
    help = "Take the letters waiting in the support mailbox (IMAP_URL), as the beat task does."

    def handle(self, *args, **options):
        taken = mailbox.poll()
        self.stdout.write("IMAP_URL is not set" if taken is None else f"{taken} letter(s) taken")
