"""What loading the ASGI application does to the process, beyond building the app."""

import gc

import pytest

from realtime.tuning import speedups_enabled


@pytest.mark.skipif(not speedups_enabled(), reason="NOTES_SPEEDUPS is off: the heap stays unfrozen")
def test_loading_the_app_freezes_the_startup_heap_out_of_the_collectors_reach():
    # Django, Channels and the app, frozen: full collections skip them (see collab/asgi.py).
    import collab.asgi  # noqa: F401

    assert gc.get_freeze_count() > 50_000
