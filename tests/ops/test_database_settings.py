"""DATABASE_URL shapes that managed providers hand out keep the project's timeouts on a live session.

django-environ turns a URL's query string into OPTIONS; config/database.py merges them key by key, so
none of these shapes may drop the connect, statement or idle-in-transaction timeouts. Every case opens
a real connection to the test database with the settings built from the URL and asks the session.
"""

import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.db.utils import ConnectionHandler

from config.database import database_settings

pytestmark = pytest.mark.django_db

TIMEOUTS = {"connect_timeout": 10, "statement_timeout_ms": 30_000, "idle_in_transaction_timeout_ms": 60_000}
SOCKET_DIR = "/var/run/postgresql"


def url_for(shape: str) -> str:
    db = connection.settings_dict
    credentials = f"{db['USER']}:{db['PASSWORD']}"
    return shape.format(credentials=credentials, host=db["HOST"], port=db["PORT"] or 5432, name=db["NAME"])


def built(url: str, **kwargs) -> dict:
    return database_settings(url, **TIMEOUTS, conn_max_age=300, **kwargs)


def session(settings_dict: dict, *parameters: str) -> dict[str, str]:
    handler = ConnectionHandler({"default": settings_dict})
    wrapper = handler["default"]
    try:
        with wrapper.cursor() as cursor:
            values = {}
            for parameter in parameters:
                cursor.execute("SELECT current_setting(%s)", [parameter])
                values[parameter] = cursor.fetchone()[0]
            values["connect_timeout"] = wrapper.connection.info.get_parameters().get("connect_timeout")
            return values
    finally:
        wrapper.close()
        if wrapper.pool:
            wrapper.close_pool()


SHAPES = [
    "postgres://{credentials}@{host}:{port}/{name}",
    "postgres://{credentials}@{host}:{port}/{name}?sslmode=disable",
    "postgres://{credentials}@{host}:{port}/{name}?sslmode=prefer",
    "postgresql://{credentials}@{host}:{port}/{name}?sslmode=allow&application_name=botdesk-web",
    "postgres://{credentials}@{host}/{name}?sslmode=prefer",  # no port: libpq's 5432
    "postgres://{credentials}@{host}:{port}/{name}?options=-c%20search_path%3Dpublic",
    "postgres://{credentials}@{host}:{port}/{name}?sslmode=prefer&options=-c%20lock_timeout%3D5000",
]


@pytest.mark.parametrize("shape", SHAPES)
def test_live_session_keeps_the_timeouts(shape):
    values = session(built(url_for(shape)), "statement_timeout", "idle_in_transaction_session_timeout")
    assert values == {
        "statement_timeout": "30s",
        "idle_in_transaction_session_timeout": "1min",
        "connect_timeout": "10",
    }


def test_the_urls_own_options_apply_too():
    url = url_for(SHAPES[-1])
    values = session(built(url), "lock_timeout", "statement_timeout")
    assert (values["lock_timeout"], values["statement_timeout"]) == ("5s", "30s")


@pytest.mark.parametrize(
    "shape",
    [
        "postgres://{credentials}@%2Fvar%2Frun%2Fpostgresql:{port}/{name}",
        "postgres://{credentials}@%2Fvar%2Frun%2Fpostgresql/{name}?sslmode=disable",
        "postgres://{credentials}@/{name}?host=/var/run/postgresql&port={port}",
    ],
)
def test_a_socket_path_keeps_the_timeouts(shape):
    if not os.path.exists(f"{SOCKET_DIR}/.s.PGSQL.{connection.settings_dict['PORT'] or 5432}"):
        pytest.skip(f"no PostgreSQL socket in {SOCKET_DIR}")
    url = url_for(shape)
    settings_dict = built(url)
    assert SOCKET_DIR in (settings_dict["HOST"], settings_dict["OPTIONS"].get("host"))
    values = session(built(url), "statement_timeout", "idle_in_transaction_session_timeout")
    assert (values["statement_timeout"], values["idle_in_transaction_session_timeout"]) == ("30s", "1min")


def test_a_url_connect_timeout_wins_and_sslmode_require_is_kept():
    options = built(
        url_for("postgres://{credentials}@{host}:25060/{name}?sslmode=require&connect_timeout=3")
    )["OPTIONS"]
    assert options["sslmode"] == "require"
    assert options["connect_timeout"] == 3
    assert "statement_timeout=30000" in options["options"]


def test_the_pool_stays_with_any_url_and_its_sessions_keep_the_timeouts():
    settings_dict = built(url_for(SHAPES[1]), pool=True)
    assert settings_dict["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 20, "timeout": 10}
    values = session(settings_dict, "statement_timeout", "idle_in_transaction_session_timeout")
    assert (values["statement_timeout"], values["idle_in_transaction_session_timeout"]) == ("30s", "1min")


def test_production_settings_merge_the_url_key_by_key(monkeypatch):
    # the module that once let ?sslmode= replace the whole OPTIONS
    import importlib

    monkeypatch.setenv("SECRET_KEY", "x" * 60)
    monkeypatch.setenv("ALLOWED_HOSTS", "example.com")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("YOOKASSA_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example.com:25060/app?sslmode=require")
    import config.settings.production as production

    production = importlib.reload(production)
    options = production.DATABASES["default"]["OPTIONS"]
    assert options["sslmode"] == "require"
    assert options["connect_timeout"] == 10
    assert "statement_timeout=30000" in options["options"]
    assert production.DATABASES["default"]["CONN_MAX_AGE"] == 300


# --- Behind pgbouncer (transaction pooling) -------------------------------------------------------


def test_pooler_mode_sends_no_startup_options_and_turns_off_session_features():
    settings_dict = built(url_for(SHAPES[1]), pooler="pgbouncer")
    assert "options" not in settings_dict["OPTIONS"]
    assert settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert settings_dict["OPTIONS"]["prepare_threshold"] is None
    with pytest.raises(ImproperlyConfigured):
        built(url_for(SHAPES[5]), pooler="pgbouncer")
    with pytest.raises(ImproperlyConfigured):
        built(url_for(SHAPES[0]), pooler="pgbouncr")


@pytest.mark.django_db(transaction=True)  # ALTER DATABASE must commit before the new session opens
def test_pooler_mode_sessions_get_the_timeouts_from_the_database():
    # given the database's own defaults set (what setup.sh and production's deploy run)
    call_command("db_timeouts", stdout=open(os.devnull, "w"))  # noqa: SIM115

    # when a pooler-mode session (no startup options) opens, then it has the timeouts all the same
    values = session(
        built(url_for(SHAPES[2]), pooler="pgbouncer"),
        "statement_timeout",
        "idle_in_transaction_session_timeout",
    )
    assert (values["statement_timeout"], values["idle_in_transaction_session_timeout"]) == ("30s", "1min")


def test_a_pooled_session_without_timeouts_is_reported_once(caplog):
    from ops import apps

    apps._pooled_timeouts_warned = False
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")  # the test's transaction: as if never set
    with caplog.at_level("ERROR", logger="ops.apps"):
        apps.pooled_session_timeouts_check(sender=None, connection=connection)
        apps.pooled_session_timeouts_check(sender=None, connection=connection)
    errors = [record for record in caplog.records if "db_timeouts" in record.getMessage()]
    assert len(errors) == 1
    apps._pooled_timeouts_warned = False


def test_a_pooled_session_with_timeouts_is_quiet(caplog):
    from ops import apps

    apps._pooled_timeouts_warned = False
    with caplog.at_level("ERROR", logger="ops.apps"):
        apps.pooled_session_timeouts_check(sender=None, connection=connection)
    assert not caplog.records
