"""manage.py import_notes PATH... --owner USER: each Markdown file becomes a note."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from notes.markdown_files import ALLOWED_SUFFIXES, BadMarkdownFile, markdown_file_read
from notes.services import editing, importing


class Command(BaseCommand):
    help = (
        "Import .md, .markdown or .txt files (or every such file in a directory) as notes "
        "owned by --owner. Bad files are reported and skipped; the exit status is 1 if any were."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--owner", required=True, help="username of the notes' owner")

    def handle(self, *args, paths, owner, **options):
        user = get_user_model().objects.filter(username=owner, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {owner!r}.")
        files: list[Path] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                files.extend(
                    sorted(p for p in path.iterdir() if p.suffix.lower() in ALLOWED_SUFFIXES)
                )
            elif path.is_file():
                files.append(path)
            else:
                raise CommandError(f"{raw}: no such file or directory.")
        limit = settings.NOTES_MAX_NOTE_BYTES
        failed = 0
        for path in files:
            with path.open("rb") as handle:
                data = handle.read(limit + 1)
            try:
                document = markdown_file_read(
                    name=path.name, data=data, max_bytes=limit, size=path.stat().st_size
                )
                note = importing.note_import(owner=user, document=document, source=path.name)
            except (BadMarkdownFile, editing.NoteTooLarge) as error:
                failed += 1
                self.stderr.write(f"skipped {path}: {error}")
                continue
            self.stdout.write(f"{note.pk}  {note.title}")
        imported = len(files) - failed
        self.stdout.write(self.style.SUCCESS(f"Imported {imported} note(s) for {owner}."))
        if failed:
            raise CommandError(f"{failed} file(s) could not be imported (see above).")
