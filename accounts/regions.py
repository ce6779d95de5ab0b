"""The subjects of the Russian Federation, kept in ``data/regions.csv``.

Adding or renaming a region is an edit of that file followed by
``manage.py load_regions``; the initial data migration calls the same loader.
"""

import csv
from pathlib import Path

REGIONS_CSV = Path(__file__).resolve().parent / "data" / "regions.csv"


def read_regions(path=REGIONS_CSV):
    with open(path, encoding="utf-8", newline="") as f:
        return [(row["code"], row["name"]) for row in csv.DictReader(f)]


def load_regions(region_model, path=REGIONS_CSV):
    """Create or rename every region of the file; return how many were new.

    Takes the model class so that a migration can pass its historical model.
    """
    created = 0
    for code, name in read_regions(path):
        _, is_new = region_model.objects.update_or_create(code=code, defaults={"name": name})
        created += is_new
    return created
