import pytest
from django.db import connection
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


@pytest.fixture(scope="session", autouse=True)
def _end_stray_database_sessions(django_db_setup, django_db_blocker):
    """After the run, end any session still open on the PostgreSQL test database (a worker
    thread's persistent connection, a server that died hard), so it can be dropped."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
