import os

from django.core.management.base import BaseCommand, CommandError

from directory import services
from directory.models import DirectoryImport
from directory.spreadsheet import FileRefused


class Command(BaseCommand):
    help = "Импорт справочника муниципалитетов, ОО и учётных записей из CSV или .xlsx (SPEC §9)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="только показать, что изменится")

    def handle(self, *args, file, dry_run, **options):
        try:
            handle = open(file, "rb")  # noqa: SIM115 - closed below
        except OSError as error:
            raise CommandError(f"Файл не открывается: {error.strerror}.") from error
        with handle:
            size = os.fstat(handle.fileno()).st_size
            name = os.path.basename(file)
            if dry_run:
                try:
                    summary = services.directory_plan(file=handle, size=size).summary()
                except FileRefused as refusal:
                    raise CommandError(str(refusal)) from refusal
                self._print(summary)
                if summary["errors"]:
                    raise CommandError(f"В файле {len(summary['errors'])} ошибок: файл не принят.")
                return
            directory_import = services.import_preview(file=handle, size=size, name=name, store=False)
            self._print(directory_import.preview)
            if directory_import.status == DirectoryImport.Status.REFUSED:
                raise CommandError(directory_import.message)
            try:
                services.import_start(directory_import=directory_import)
            except services.ImportBusy as busy:
                raise CommandError(str(busy)) from busy
            directory_import = services.import_run(import_id=directory_import.pk, file=handle, size=size)
        if directory_import.status != DirectoryImport.Status.DONE:
            raise CommandError(directory_import.message)
        self.stdout.write(f"Импорт № {directory_import.pk} выполнен.")

    def _print(self, summary):
        for line, reason in summary.get("errors", []):
            self.stderr.write(f"строка {line}: {reason}")
        if not summary or summary.get("errors"):
            return
        self.stdout.write(f"Строк в файле: {summary['rows']}")
        for key, label in [
            ("municipalities", "Муниципалитеты"),
            ("schools", "ОО"),
            ("accounts", "Учётные записи"),
        ]:
            c = summary["counts"][key]
            self.stdout.write(
                f"{label}: создать {c['created']}, изменить {c['changed']}, без изменений {c['unchanged']}"
            )
        for note in summary["sample"]:
            self.stdout.write(f"  {note}")
