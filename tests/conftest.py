import pytest
from django.test import Client

from tests.factories import make_note, make_user


@pytest.fixture
def user(db):
    return make_user("alice")


@pytest.fixture
def other_user(db):
    return make_user("bob")


@pytest.fixture
def client_alice(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def note(user):
    return make_note(owner=user, title="Shopping", text="milk\neggs\n")
