import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.db import connections

from realtime import hub as hub_module
from tests.factories import make_note, make_user


@pytest.fixture
def asgi_app():
    from collab.asgi import application

    return application


@pytest.fixture
async def fresh_hub():
    """Each test gets a new hub and channel layer, stopped afterwards (threads, connections)."""
    channel_layers.backends.clear()
    hub_module._hub = None
    yield
    hub = hub_module._hub
    if hub is not None:
        await hub.stop()
    hub_module._hub = None
    # Consumers check access on asgiref's shared thread, whose connection persists (conn max age).
    await sync_to_async(connections.close_all)()
    for layer in channel_layers.backends.values():
        flush = getattr(layer, "flush", None)
        if flush is not None:
            await flush()
    channel_layers.backends.clear()


@pytest.fixture
async def owner():
    """A user who owns `shared_note`."""
    return await sync_to_async(make_user)("owner")


@pytest.fixture
async def shared_note(owner):
    """A note holding "hello\n", for tests that open it from several clients."""
    return await sync_to_async(make_note)(owner=owner, title="Plan", text="hello\n")
