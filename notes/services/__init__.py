"""
Writes: every change to a note goes through a function in this package, named
<entity>_<action>, in the module of its entity. Import the module, not this package:
`from notes.services import storage`, then `storage.note_state_load(note_id=...)`.

- editing: create, edit (server-side CRDT changes), rename and delete notes; NoteTooLarge.
- storage: the durable CRDT state: load, append, catch up, compact; the text mirror.
- sharing: memberships, ownership and share links.
- tokens: personal API tokens.
- revisions: history: named versions, automatic checkpoints, thinning, restore.
- importing: Markdown files imported as notes.

Services take keyword-only arguments and do their work in a transaction. They never check
permissions: callers validate first (notes.permissions), then act. Anything other people must
see is broadcast by notes.broadcast, after the transaction commits.

Durable CRDT state has a narrow interface (storage): load (`note_state_load`), append
(`note_updates_append`), catch up (`note_updates_since`) and compact (`note_compact`, or its
two halves `note_compact_prepare` and `note_compact_record`). Storage imports no other module
here; editing builds on storage, and sharing, revisions and importing on editing.
"""
