"""Revisions, the history page, restore, export and import, and the management commands."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from notes.models import Note, NoteRevision, NoteUpdate
from notes.services import editing, revisions, storage
from tests.factories import make_note, make_user, share_note

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _age(note, *, edited: float, checkpointed: float | None) -> None:
    """Pretend the note was last edited `edited` seconds ago, checkpointed `checkpointed` ago."""
    now = timezone.now()
    Note.objects.filter(pk=note.pk).update(
        created_at=now - timedelta(seconds=edited + 60),
        updated_at=now - timedelta(seconds=edited),
        checkpointed_at=None if checkpointed is None else now - timedelta(seconds=checkpointed),
    )


# --- checkpoints -------------------------------------------------------------------------------


def test_a_checkpoint_is_taken_after_editing_pauses_and_only_once(settings):
    settings.NOTES_CHECKPOINT_IDLE = 60
    note = make_note(text="first draft\n")
    _age(note, edited=30, checkpointed=None)
    assert revisions.revisions_checkpoint_due() == 0  # still being edited
    _age(note, edited=61, checkpointed=None)
    assert revisions.revisions_checkpoint_due() == 1
    assert revisions.revisions_checkpoint_due() == 0  # nothing new since
    revision = note.revisions.get()
    assert (revision.kind, revision.text, revision.size) == ("auto", "first draft\n", 12)
    assert list(revision.contributors.all()) == [note.owner]


def test_continuous_editing_is_checkpointed_every_max_interval(settings):
    settings.NOTES_CHECKPOINT_MAX_INTERVAL = 300
    note = make_note(text="v1\n")
    revisions.revision_save(note=note, name="start", user=note.owner)
    editing.note_text_replace(note=note, text="v2\n", author=note.owner)
    _age(note, edited=1, checkpointed=200)
    assert revisions.revisions_checkpoint_due() == 0
    _age(note, edited=1, checkpointed=301)
    assert revisions.revisions_checkpoint_due() == 1
    assert [r.text for r in note.revisions.all()] == ["v2\n", "v1\n"]


def test_a_checkpoint_records_the_note_as_read_and_later_edits_count_as_new():
    note = make_note(text="as read\n")
    _age(note, edited=120, checkpointed=None)
    draft = revisions.revision_checkpoint_prepare(note_id=note.pk)
    editing.note_text_replace(note=note, text="edited after the read\n", author=note.owner)
    assert revisions.revision_checkpoint_record(draft=draft).text == "as read\n"
    # The edit is not in that checkpoint, so the note still has something to record.
    newer = revisions.revision_checkpoint_prepare(note_id=note.pk)
    assert newer is not None and newer.text == "edited after the read\n"
    assert revisions.revision_checkpoint_record(draft=newer).text == "edited after the read\n"
    assert revisions.revision_checkpoint_prepare(note_id=note.pk) is None


def test_a_checkpoint_read_before_a_newer_one_was_recorded_is_dropped():
    note = make_note(text="v1\n")
    _age(note, edited=120, checkpointed=None)
    older = revisions.revision_checkpoint_prepare(note_id=note.pk)
    newer = revisions.revision_checkpoint_prepare(note_id=note.pk)
    assert revisions.revision_checkpoint_record(draft=newer) is not None
    assert revisions.revision_checkpoint_record(draft=older) is None
    assert note.revisions.count() == 1


def test_an_unchanged_or_empty_note_gets_no_checkpoint():
    empty = make_note()
    _age(empty, edited=120, checkpointed=None)
    note = make_note(text="same\n")
    revisions.revision_save(note=note, name="", user=note.owner)
    editing.note_text_replace(note=note, text="changed\n", author=note.owner)
    editing.note_text_replace(note=note, text="same\n", author=note.owner)
    _age(note, edited=120, checkpointed=500)
    assert revisions.revisions_checkpoint_due() == 0
    assert note.revisions.count() == 1 and empty.revisions.count() == 0


def test_compaction_keeps_revisions_and_who_contributed():
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    note = make_note(owner=alice, text="a\n")
    share_note(note, bob)
    share_note(note, carol)
    revisions.revision_save(note=note, name="one", user=alice)
    editing.note_text_append(note=note, text="b\n", author=bob)
    assert storage.note_compact(note_id=note.pk) > 0
    editing.note_text_append(note=note, text="c\n", author=carol)
    assert storage.note_compact(note_id=note.pk) > 0
    assert not NoteUpdate.objects.filter(note=note).exists()
    first = note.revisions.get()
    assert first.text == "a\n"
    second = revisions.revision_save(note=note, name="two", user=alice)
    assert second.text == "a\nb\nc\n"
    assert {u.username for u in second.contributors.all()} == {"bob", "carol"}
    assert note.revisions.get(pk=first.pk).text == "a\n"  # untouched by compaction


def test_thinning_deletes_only_what_the_policy_drops():
    note = make_note(text="x\n")
    now = timezone.now()
    named = revisions.revision_save(note=note, name="keep me", user=note.owner)
    NoteRevision.objects.filter(pk=named.pk).update(created_at=now - timedelta(days=30))
    # 30 days of checkpoints, every 2 hours.
    for hours in range(0, 30 * 24, 2):
        NoteRevision.objects.create(
            note=note,
            kind="auto",
            title="t",
            text_compressed=NoteRevision.compress(f"{hours}\n"),
            created_at=now - timedelta(hours=hours, minutes=1),
        )
    thinned = revisions.revisions_thin(note_id=note.pk, now=now)
    autos = list(note.revisions.filter(kind="auto"))
    assert thinned > 0 and note.revisions.filter(pk=named.pk).exists()
    recent = [r for r in autos if now - r.created_at < timedelta(days=1)]
    assert len(recent) == 12  # every one from the last day
    days = {r.created_at.date() for r in autos if now - r.created_at >= timedelta(days=7)}
    older = [r for r in autos if now - r.created_at >= timedelta(days=7)]
    assert len(days) == len(older)  # one a day past a week
    assert revisions.revisions_thin(note_id=note.pk, now=now) == 0  # stable


# --- history page, save and restore -----------------------------------------------------------


@pytest.fixture
def people():
    owner, editor, viewer = make_user("owner"), make_user("editor"), make_user("viewer")
    note = make_note(owner=owner, title="Plan", text="# Plan\n\nstep one\nstep two\n")
    share_note(note, editor, "editor")
    share_note(note, viewer, "viewer")
    return note, owner, editor, viewer


def test_history_shows_versions_with_a_diff_rendering_and_source(people):
    note, owner, editor, viewer = people
    client = _client(editor)
    response = client.post(f"/notes/{note.pk}/history/save/", {"name": "Before the rewrite"})
    assert response.status_code == 302
    editing.note_text_replace(
        note=note, text="# Plan\n\nstep one\nstep 2 <script>alert(1)</script>\n", author=owner
    )
    page = _client(viewer).get(f"/notes/{note.pk}/history/").content.decode()
    assert "Before the rewrite" in page
    assert "Restore this version" not in page  # viewers cannot restore
    assert '<tr class="diff-removed">' in page and "step two" in page
    assert '<tr class="diff-added">' in page and "step 2 &lt;script&gt;" in page
    revision = note.revisions.get()
    editing.note_text_replace(
        note=note, text="# Plan\n\n<img src=x onerror=alert(1)>\n", author=owner
    )
    revisions.revision_save(note=note, name="hostile", user=owner)
    hostile = note.revisions.get(name="hostile")
    rendered = client.get(f"/notes/{note.pk}/history/?rev={hostile.pk}&view=rendered").content
    assert b"onerror" not in rendered and b"<h1>Plan</h1>" in rendered
    source = client.get(f"/notes/{note.pk}/history/?rev={revision.pk}&view=source").content
    assert b"step one\nstep two\n" in source
    same = client.get(f"/notes/{note.pk}/history/?rev={hostile.pk}").content
    assert b"same as the note now" in same


def test_restore_is_a_forward_edit_that_keeps_before_and_after(people):
    note, owner, editor, viewer = people
    old = revisions.revision_save(note=note, name="good", user=owner)
    editing.note_text_replace(note=note, text="# Plan\n\nbroken\n", author=owner)
    editing.note_rename(note=note, title="Broken plan", author=owner)
    log_before = NoteUpdate.objects.filter(note=note).count()
    response = _client(editor).post(f"/notes/{note.pk}/history/{old.pk}/restore/")
    assert response.status_code == 302 and response["Location"] == f"/notes/{note.pk}/"
    assert storage.note_current_text(note_id=note.pk) == "# Plan\n\nstep one\nstep two\n"
    note.refresh_from_db()
    assert note.title == "Plan"
    # One new log entry, by the restoring user: a CRDT change, not a rewrite of history.
    assert NoteUpdate.objects.filter(note=note).count() == log_before + 1
    assert NoteUpdate.objects.filter(note=note).latest("id").author == editor
    kinds = [(r.kind, r.text) for r in note.revisions.all()[:2]]
    assert kinds == [
        ("restore", "# Plan\n\nstep one\nstep two\n"),
        ("before_restore", "# Plan\n\nbroken\n"),
    ]


def test_only_editors_and_owners_may_save_or_restore(people):
    note, owner, editor, viewer = people
    old = revisions.revision_save(note=note, name="v", user=owner)
    client = _client(viewer)
    assert client.post(f"/notes/{note.pk}/history/{old.pk}/restore/").status_code == 403
    assert client.post(f"/notes/{note.pk}/history/save/", {"name": "x"}).status_code == 403
    assert client.get(f"/notes/{note.pk}/history/").status_code == 200
    stranger = _client(make_user("stranger"))
    assert stranger.get(f"/notes/{note.pk}/history/").status_code == 404
    assert stranger.post(f"/notes/{note.pk}/history/{old.pk}/restore/").status_code == 404
    other = make_note(owner=owner)
    other_revision = revisions.revision_save(note=other, name="o", user=owner)
    wrong = _client(owner).post(f"/notes/{note.pk}/history/{other_revision.pk}/restore/")
    assert wrong.status_code == 404
    assert note.revisions.count() == 1


# --- export and import ------------------------------------------------------------------------


def test_export_markdown_and_standalone_sanitised_html(people):
    note, owner, editor, viewer = people
    editing.note_text_append(
        note=note, text="<script>alert(1)</script>\n[x](javascript:alert(1))\n", author=owner
    )
    client = _client(viewer)
    md = client.get(f"/notes/{note.pk}/export.md")
    assert md["Content-Type"] == "text/markdown; charset=utf-8"
    assert md["Content-Disposition"] == 'attachment; filename="Plan.md"'
    assert md.content.decode() == storage.note_current_text(note_id=note.pk)
    html = client.get(f"/notes/{note.pk}/export.html")
    body = html.content.decode()
    assert html["Content-Disposition"] == 'attachment; filename="Plan.html"'
    assert body.startswith("<!doctype html>") and "<title>Plan</title>" in body
    assert "<h1>Plan</h1>" in body and "<p>step one<br>\nstep two</p>" in body
    assert "<script" not in body and "javascript:" not in body
    assert "http" not in body.split("<body>")[0]  # no external assets
    assert _client(make_user("stranger")).get(f"/notes/{note.pk}/export.md").status_code == 404


def test_export_names_files_after_unicode_titles():
    note = make_note(title="Café / plans", text="x\n")
    response = _client(note.owner).get(f"/notes/{note.pk}/export.md")
    assert response["Content-Disposition"] == ("attachment; filename*=utf-8''Caf%C3%A9%20plans.md")


def test_import_creates_a_note_with_its_first_version():
    user = make_user()
    upload = SimpleUploadedFile("launch.md", "# Launch\n\n- [ ] café\r\n".encode(), "text/markdown")
    response = _client(user).post("/notes/import/", {"file": upload})
    note = Note.objects.get(owner=user)
    assert response.status_code == 302 and response["Location"] == f"/notes/{note.pk}/"
    assert note.title == "Launch"
    assert storage.note_current_text(note_id=note.pk) == "# Launch\n\n- [ ] café\n"
    assert note.revisions.get().name == "Imported from launch.md"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.pdf", b"%PDF-1.4", "is not a Markdown file"),
        ("latin.md", "café".encode("latin-1"), "is not UTF-8 text"),
        ("nul.md", b"a\x00b", "looks like a binary file"),
        ("big.md", b"x" * 2001, "notes can be at most 2,000 bytes"),
    ],
)
def test_bad_imports_are_refused_with_a_reason_and_create_nothing(settings, name, data, message):
    settings.NOTES_MAX_NOTE_BYTES = 2000
    user = make_user()
    client = _client(user)
    response = client.post("/notes/import/", {"file": SimpleUploadedFile(name, data)}, follow=True)
    assert message in response.content.decode()
    assert not Note.objects.filter(owner=user).exists()
    no_file = client.post("/notes/import/", {}, follow=True)
    assert "Choose a Markdown file to import." in no_file.content.decode()


# --- management commands ------------------------------------------------------------------------


def test_export_and_import_commands_round_trip(tmp_path):
    alice = make_user("alice")
    texts = {
        "Groceries": "# Groceries\n\n- eggs\n- ☕ coffee\n",
        "Meeting: Q3": "no heading here\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        "Groceries ": "a second note with the same title\n",
    }
    for title, text in texts.items():
        make_note(owner=alice, title=title, text=text)
    out = io.StringIO()
    call_command("export_notes", str(tmp_path), "--owner", "alice", stdout=out)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["Groceries (2).md", "Groceries.md", "Meeting Q3.md"]
    with pytest.raises(CommandError, match="already exist"):
        call_command("export_notes", str(tmp_path), stdout=io.StringIO())
    bob = make_user("bob")
    call_command("import_notes", str(tmp_path), "--owner", "bob", stdout=io.StringIO())
    imported = {
        n.title: storage.note_current_text(note_id=n.pk) for n in Note.objects.filter(owner=bob)
    }
    assert sorted(imported.values()) == sorted(texts.values())
    assert imported["Groceries"] == texts["Groceries"]
    assert imported["Meeting Q3"] == texts["Meeting: Q3"]


def test_import_command_reports_bad_files_and_imports_the_rest(tmp_path):
    make_user("carol")
    (tmp_path / "good.md").write_text("fine\n")
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe not utf-8")
    (tmp_path / "skip.jpg").write_bytes(b"\xff\xd8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 file"):
        call_command(
            "import_notes", str(tmp_path), "--owner", "carol", stdout=io.StringIO(), stderr=err
        )
    assert "bad.md: “bad.md” is not UTF-8 text" in err.getvalue()
    assert [n.title for n in Note.objects.filter(owner__username="carol")] == ["good"]
    with pytest.raises(CommandError, match="No active user"):
        call_command("import_notes", str(tmp_path), "--owner", "nobody")


def test_compact_command_folds_logs_and_keeps_revisions():
    note = make_note(text="one\n")
    revisions.revision_save(note=note, name="v1", user=note.owner)
    editing.note_text_append(note=note, text="two\n", author=note.owner)
    out = io.StringIO()
    call_command("compact_notes", stdout=out)
    assert "Compacted 1 note(s)" in out.getvalue()
    assert not NoteUpdate.objects.filter(note=note).exists()
    assert storage.note_current_text(note_id=note.pk) == "one\ntwo\n"
    assert note.revisions.get().text == "one\n"
    with pytest.raises(CommandError, match="UUID"):
        call_command("compact_notes", "--note", "nope")


def test_a_note_nobody_edited_is_never_due_for_a_checkpoint():
    untouched = make_note(text="")
    typed_in = make_note(text="")
    editing.note_text_replace(note=typed_in, text="hello\n", author=typed_in.owner)
    for note in (untouched, typed_in):
        _age(note, edited=120, checkpointed=None)
    assert revisions.notes_due_for_checkpoint() == [typed_in.pk]


def test_a_note_whose_log_was_compacted_away_is_still_due():
    note = make_note(text="kept in the snapshot\n")
    assert storage.note_compact(note_id=note.pk) > 0
    assert not NoteUpdate.objects.filter(note=note).exists()
    _age(note, edited=120, checkpointed=None)
    assert revisions.notes_due_for_checkpoint() == [note.pk]
    assert revisions.revisions_checkpoint_due() == 1
