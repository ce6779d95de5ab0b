from django.core.management.base import BaseCommand

from accounts.models import Region
from accounts.regions import REGIONS_CSV, load_regions


class Command(BaseCommand):
    help = "Create or rename the regions listed in accounts/data/regions.csv."

    def handle(self, *args, **options):
        created = load_regions(Region)
        self.stdout.write(f"{REGIONS_CSV.name}: {Region.objects.count()} regions, {created} new.")
