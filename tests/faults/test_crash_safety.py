"""
Crash safety: real daphne processes (and a real Redis) are killed while crowds of official Yjs
clients type unique tokens. Afterwards every token that must survive is present exactly once,
in every client and in the database. Each scenario prints a line with its figures.

Like tests/integration/test_cross_process.py, the two-process scenarios run on whichever
database the run uses (SQLite in WAL mode with a busy timeout serialises the two processes'
writers correctly, just more slowly than PostgreSQL), on a real Redis.
"""

import signal
import time

import pytest

from notes.services import storage
from tests import live
from tests.crowd import crowd, tally, typed_tokens
from tests.factories import make_note
from tests.jsclients import TOKEN, client_spec
from tests.services import require_redis

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.node, pytest.mark.slow]

TYPE_INTERVAL_MS = 150  # per client: 10+ clients give 70-80 edits a second in all


def _specs(servers, note, cookie, names, *, acks: bool = False) -> list[dict]:
    """One client per name, spread over the servers in turn."""
    return [
        {**client_spec(servers[i % len(servers)], note.pk, cookie, name), "acks": acks}
        for i, name in enumerate(names)
    ]


def _db_text(note, *, like: str | None = None, timeout: float = 5) -> str:
    """The note as stored; with `like`, wait briefly for it to match (it should at once)."""
    deadline = time.monotonic() + timeout
    while True:
        text = storage.note_current_text(note_id=note.pk)
        if like is None or text == like or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def _logs(*servers) -> str:
    return "\n".join(server.log()[-1500:] for server in servers)


def _tally_everywhere(texts: list[str], db: str, expected: set) -> dict:
    """Figures over every client's text and the database: the worst of them."""
    tallies = [tally(text, expected) for text in [*texts, db]]
    return {
        "expected": len(expected),
        "present": min(t.present for t in tallies),
        "lost": max(t.lost for t in tallies),
        "duplicated": max(t.duplicated for t in tallies),
        "unexpected": max(t.unexpected for t in tallies),
        "clients_equal_db": all(text == db for text in texts),
    }


def _assert_clean(counts: dict, line: str) -> None:
    assert counts["lost"] == 0, line
    assert counts["duplicated"] == 0, line
    assert counts["unexpected"] == 0, line
    assert counts["present"] == counts["expected"], line
    assert counts["clients_equal_db"], line


def test_kill9_one_of_two_daphnes_while_a_crowd_types(owner, cookie, figures):
    """SIGKILL one of two processes mid-typing; its clients type on offline, reconnect to the
    restarted process on the same port and resync; nothing is lost or doubled anywhere."""
    redis = require_redis()
    note = make_note(owner=owner, title="Kill -9", text="")
    names = [f"k{i}" for i in range(12)]
    on_killed = [i for i in range(len(names)) if i % 2 == 0]
    with (
        live.daphne(REDIS_URL=redis) as one,
        live.daphne(REDIS_URL=redis) as two,
        crowd(_specs([one, two], note, cookie, names)) as clients,
    ):
        synced, _ = clients.wait("synced", timeout=15)
        assert synced, clients.log()
        clients.type(interval_ms=TYPE_INTERVAL_MS)
        time.sleep(2.5)
        one.kill(signal.SIGKILL)
        before = clients.status()
        time.sleep(1.0)  # the killed process's clients type on, offline
        now = clients.status()
        offline = sum(now[i]["typed"] - before[i]["typed"] for i in on_killed)
        live.restart(one)
        min_syncs = [s["syncs"] + (i in on_killed) for i, s in enumerate(before)]
        back, reconnect = clients.wait("synced", timeout=20, min_syncs=min_syncs)
        time.sleep(1.5)  # everyone types on after the restart
        typed = clients.pause()
        converged, converge = clients.wait("converged", timeout=30)
        texts = clients.texts()
        closes = [s["closes"] for s in clients.status()]
        logs = _logs(one, two)
    db = _db_text(note, like=texts[0])
    counts = _tally_everywhere(texts, db, typed_tokens(names, typed))
    line = figures(
        "kill-9 one of two daphnes",
        redis=True,
        clients=len(names),
        edits=sum(typed),
        typed_offline=offline,
        **counts,
        reconnect=reconnect,
        converge_after_pause=converge,
    )
    assert back, f"{line}\n{logs}"
    assert converged, f"{line}\n{logs}"
    _assert_clean(counts, line)
    # The killed process's clients really lost their sockets; the others never did.
    assert all(closes[i] for i in on_killed), closes
    assert not any(closes[i] for i in range(len(names)) if i not in on_killed), closes


def test_redis_sigkill_and_restart_while_two_processes_type(owner, cookie, figures, killable_redis):
    """Redis dies (SIGKILL, losing every group membership and queued message) for 3 s while
    10 clients on two processes type; within 10 s of its restart everyone has converged, and
    fan-out between the processes is live again, not left to the periodic heal."""
    note = make_note(owner=owner, title="Redis down", text="")
    names = [f"r{i}" for i in range(10)]
    env = {"REDIS_URL": killable_redis.url}
    with (
        live.daphne(**env) as one,
        live.daphne(**env) as two,
        crowd(_specs([one, two], note, cookie, names)) as clients,
    ):
        synced, _ = clients.wait("synced", timeout=15)
        assert synced, clients.log()
        clients.type(interval_ms=TYPE_INTERVAL_MS)
        time.sleep(2.0)
        killable_redis.kill(signal.SIGKILL)
        time.sleep(3.0)
        killable_redis.start()
        restarted = time.monotonic()
        time.sleep(1.0)  # everyone types on after the restart
        typed = clients.pause()
        converged, _ = clients.wait("converged", timeout=30)
        heal = time.monotonic() - restarted
        texts = clients.texts()
        # Cross-process fan-out after the outage: a client on each process types one token.
        probes = [clients.probe(source, timeout=10) for source in (0, 1) * 3]
        probed = clients.texts()
        status = clients.status()
        closes = [s["closes"] for s in status]
        logs = _logs(one, two)
        rejoined = [server.log().count("rejoined channel-layer groups") for server in (one, two)]
    db = _db_text(note, like=probed[0])
    counts = _tally_everywhere(texts, texts[0], typed_tokens(names, typed))
    probe_max = max(ms for _, ms in probes)
    line = figures(
        "redis sigkill 3 s",
        redis=True,
        clients=len(names),
        edits=sum(typed),
        **counts,
        db_equal=db == probed[0],
        converged_after_restart=heal,
        fanout_probe_max=probe_max,
    )
    assert converged, f"{line}\n{logs}"
    _assert_clean(counts, line)
    # The database has every edit too, the probes' included, each once.
    db_counts = _tally_everywhere(probed, db, typed_tokens(names, [s["typed"] for s in status]))
    _assert_clean(db_counts, f"{line}\n{db_counts}")
    assert heal <= 10, f"{line}: took {heal:.1f} s after the restart\n{logs}"
    assert all(met for met, _ in probes), f"{line}: {probes}"
    assert probe_max < 1.5, f"{line}: fan-out not live again after the restart {probes}\n{logs}"
    # Both hubs noticed the outage and joined their groups again.
    assert all(rejoined), f"{line}: {rejoined}\n{logs}"
    # Redis going away never touches the clients' own sockets.
    assert closes == [[] for _ in names], closes


def test_sigterm_loses_nothing_anyone_saw_or_was_told_was_saved(owner, cookie, figures):
    """daphne does not call disconnect() on SIGTERM. Every token that an observer received (the
    server persists before it broadcasts) and every token the server acknowledged as saved is
    in the database afterwards, exactly once."""
    note = make_note(owner=owner, title="SIGTERM", text="")
    names = [f"t{i}" for i in range(6)]
    with live.daphne() as server:
        specs = _specs([server], note, cookie, names, acks=True)
        specs.append(client_spec(server, note.pk, cookie, "observer"))
        with crowd(specs) as clients:
            synced, _ = clients.wait("synced", timeout=15)
            assert synced, clients.log()
            clients.type(interval_ms=40, clients=list(range(len(names))))
            time.sleep(2.0)
            signalled = time.monotonic()
            server.kill(signal.SIGTERM)
            stopped = time.monotonic() - signalled
            # Stop every client for good: nothing is re-sent to a later server.
            typed = clients.pause()[: len(names)]
            durable = [s["durable"] for s in clients.status()][: len(names)]
            texts = clients.destroy()
    observed = set(TOKEN.findall(texts[-1]))
    acked = typed_tokens(names, durable)
    db = _db_text(note)
    stored = tally(db, typed_tokens(names, typed))
    in_db = set(TOKEN.findall(db))
    must_survive = observed | acked
    line = figures(
        "sigterm",
        clients=len(names) + 1,
        edits=sum(typed),
        observed=len(observed),
        acked=len(acked),
        expected=len(must_survive),
        present=len(must_survive & in_db),
        lost=len(must_survive - in_db),
        duplicated=stored.duplicated,
        in_db=stored.present,
        # typed but not stored: in flight at the signal, or typed once the server was gone
        unstored=sum(typed) - stored.present,
        exit=stopped,
    )
    assert observed and acked, line  # the scenario really ran
    assert not must_survive - in_db, f"{line}: lost {sorted(must_survive - in_db)[:10]}"
    assert stored.duplicated == 0 and stored.unexpected == 0, line


def test_twenty_restarts_never_change_a_held_note(owner, cookie, figures):
    """Clients hold a note of known content, typing paused, while daphne is restarted 20 times
    (SIGKILL and SIGTERM in turn). After each restart every client reconnects and resyncs, and
    the note, in every client and in the database, is exactly what it was: nothing doubled."""
    note = make_note(owner=owner, title="Restarts", text="# Restarts\n\nline one\nline two\n")
    names = ["h0", "h1", "h2"]
    restarts = 20
    lengths: set[int] = set()
    reconnects: list[float] = []
    with live.daphne() as server, crowd(_specs([server], note, cookie, names)) as clients:
        synced, _ = clients.wait("synced", timeout=15)
        assert synced, clients.log()
        clients.type(interval_ms=30, count=8)
        typed = clients.pause(finish=True)
        converged, _ = clients.wait("converged", timeout=10)
        assert converged, clients.log()
        reference = clients.texts()[0]
        expected = typed_tokens(names, typed)
        assert _db_text(note, like=reference) == reference
        counts = _tally_everywhere(clients.texts(), reference, expected)
        _assert_clean(counts, str(counts))
        for round_ in range(restarts):
            sig = signal.SIGKILL if round_ % 2 == 0 else signal.SIGTERM
            before = clients.status()
            live.restart(server, sig)
            back, took = clients.wait(
                "synced", timeout=20, min_syncs=[s["syncs"] + 1 for s in before]
            )
            assert back, (
                f"restart {round_ + 1} ({sig.name}): clients did not resync\n{_logs(server)}"
            )
            converged, _ = clients.wait("converged", timeout=10)
            assert converged, f"restart {round_ + 1}: clients differ"
            reconnects.append(took)
            texts = clients.texts()
            db = _db_text(note)
            lengths.update(len(text) for text in [*texts, db])
            counts = _tally_everywhere(texts, db, expected)
            if not counts["clients_equal_db"] or db != reference or counts["duplicated"]:
                break
    line = figures(
        "20 restarts",
        clients=len(names),
        edits=sum(typed),
        restarts=len(reconnects),
        length_expected=len(reference),
        lengths_seen=sorted(lengths),
        **counts,
        reconnect_max=max(reconnects),
    )
    assert len(reconnects) == restarts, line
    assert lengths == {len(reference)}, line
    assert db == reference and all(text == reference for text in texts), line
    _assert_clean(counts, line)
