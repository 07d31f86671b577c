"""manage.py export_notes DIR: write notes as Markdown files, one per note, named by title."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from notes.markdown_files import export_filename
from notes.models import Note
from notes.services import storage


class Command(BaseCommand):
    help = "Export notes as .md files into a directory (created if missing)."

    def add_arguments(self, parser):
        parser.add_argument("directory")
        parser.add_argument("--owner", help="only this user's notes (username)")
        parser.add_argument("--force", action="store_true", help="overwrite existing files")

    def handle(self, *args, directory, owner=None, force=False, **options):
        notes = Note.objects.select_related("owner").order_by("created_at")
        if owner:
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(f"No user named {owner!r}.")
            notes = notes.filter(owner=user)
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        planned: dict[str, Note] = {}
        for note in notes:
            name = export_filename(note.title)
            stem, n = name[:-3], 2
            while name.lower() in {p.lower() for p in planned}:
                name, n = f"{stem} ({n}).md", n + 1
            planned[name] = note
        clashes = [name for name in planned if (target / name).exists()]
        if clashes and not force:
            raise CommandError(
                f"{len(clashes)} file(s) already exist in {target}, e.g. {clashes[0]!r}. "
                "Choose an empty directory or pass --force to overwrite."
            )
        for name, note in planned.items():
            text = storage.note_current_text(note_id=note.pk)
            (target / name).write_text(text, encoding="utf-8", newline="\n")
            self.stdout.write(f"{note.pk}  {name}")
        self.stdout.write(self.style.SUCCESS(f"Exported {len(planned)} note(s) to {target}."))
