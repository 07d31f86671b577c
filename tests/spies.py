"""Watching real code run, without replacing it."""

import functools
import threading


def threads_calling(monkeypatch, owner, name: str) -> list[str]:
    """Wrap `owner.name` so that every call still runs it and also records the name of the
    thread it ran on; returns that list, which fills as calls happen."""
    threads: list[str] = []
    original = getattr(owner, name)

    @functools.wraps(original)
    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return threads
