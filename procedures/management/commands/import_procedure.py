from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from procedures.importing import ProcedureFileError, procedure_import


class Command(BaseCommand):
    help = "Create or update a procedure from its JSON file (SPEC §7); a bad file changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file, **options):
        try:
            content = file.read_bytes()
        except OSError as error:
            raise CommandError(f"Не удалось прочитать {file}: {error.strerror}") from None
        try:
            result = procedure_import(content=content)
        except ProcedureFileError as error:
            for line in error.errors:
                self.stderr.write(line)
            raise CommandError(
                f"Файл не загружен, ошибок: {len(error.errors)}. Ничего не изменено."
            ) from None
        self.stdout.write(result.summary())
