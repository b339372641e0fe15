"""Russian first: every project string is in locale/ru, translated, not fuzzy, and compiled.

The catalogue is checked with Debian's gettext tools (installed by scripts/setup.sh): the project's
sources are copied to a temporary folder, `makemessages` extracts their strings there, and `msgcmp`
fails when the committed catalogue lacks one of them.
"""

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from tests.support.admin import client_logged_in

BASE = Path(settings.BASE_DIR)
PO = BASE / "locale" / "ru" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
SOURCES = ("accounts", "billing", "generations", "assistants", "ops", "core", "config", "templates")
MAKEMESSAGES = ["makemessages", "-l", "ru", "--no-location", "--no-obsolete"]


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def entries_of(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("msgid ") and line != 'msgid ""']


def test_no_entry_is_untranslated_or_fuzzy():
    untranslated = run("msgattrib", "--untranslated", str(PO))
    fuzzy = run("msgattrib", "--only-fuzzy", str(PO))
    assert untranslated.returncode == 0 and fuzzy.returncode == 0, untranslated.stderr + fuzzy.stderr
    assert entries_of(untranslated) == [], "untranslated in locale/ru"
    assert entries_of(fuzzy) == [], "fuzzy in locale/ru: review them and drop the flag"


def test_every_string_of_the_code_is_in_the_catalogue(tmp_path):
    for name in SOURCES:
        shutil.copytree(BASE / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(BASE / "manage.py", tmp_path / "manage.py")
    (tmp_path / "locale" / "ru" / "LC_MESSAGES").mkdir(parents=True)
    made = run(sys.executable, "manage.py", *MAKEMESSAGES, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    fresh = tmp_path / "locale" / "ru" / "LC_MESSAGES" / "django.po"
    # msgcmp DEF REF: every msgid of REF (the code as it is) must be in DEF (the committed catalogue).
    compared = run("msgcmp", "--use-untranslated", str(PO), str(fresh))
    assert compared.returncode == 0, (
        "locale/ru lacks strings of the code; run `manage.py makemessages -l ru --no-location "
        f"--no-obsolete`, translate, `compilemessages`:\n{compared.stderr[:3000]}"
    )


def test_the_committed_mo_is_the_compiled_po(tmp_path):
    compiled = tmp_path / "django.mo"
    result = run("msgfmt", "--check", "-o", str(compiled), str(PO))
    assert result.returncode == 0, result.stderr
    with compiled.open("rb") as fresh, MO.open("rb") as committed:
        assert gettext.GNUTranslations(committed)._catalog == gettext.GNUTranslations(fresh)._catalog, (
            "locale/ru/LC_MESSAGES/django.mo is stale: run `manage.py compilemessages`"
        )


@pytest.mark.django_db
def test_the_admin_speaks_russian_by_default_and_english_on_request(admin_user, settings):
    settings.LANGUAGE_CODE = "ru"
    client = client_logged_in(admin_user)
    page = client.get("/admin/accounts/enduser/").content.decode()
    assert "Пользователи" in page and "Botdesk" in page
    assert 'id="language-switch"' in page
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/admin/accounts/enduser/"})
    assert switched.status_code == 302
    assert "End users" in client.get("/admin/accounts/enduser/").content.decode()


@pytest.mark.django_db
def test_times_are_shown_in_the_display_time_zone_and_stored_in_utc(admin_user):
    from datetime import UTC, datetime

    from accounts.models import EndUser
    from tests.support.users import user_create

    user = user_create()
    late_evening_utc = datetime(2026, 1, 1, 21, 30, tzinfo=UTC)
    EndUser.objects.filter(pk=user.pk).update(created_at=late_evening_utc)
    client = client_logged_in(admin_user)

    card = client.get(f"/admin/accounts/enduser/{user.pk}/change/").content.decode()

    assert settings.DISPLAY_TIME_ZONE == "Europe/Moscow"
    assert "Jan. 2, 2026" in card  # 00:30 the next day in Moscow
    assert EndUser.objects.get(pk=user.pk).created_at == late_evening_utc  # stored as it was, in UTC
    with translation.override("ru"):
        assert str(translation.gettext("Balance and subscription")) == "Баланс и подписка"
