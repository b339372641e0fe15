"""The scheduled ledger_check: billing's command run by ops, a failure logged as an error."""

import pytest
from django.core.management import CommandError

from ops import services, tasks
from ops.models import DebugLog, LedgerCheckRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger_check_command(monkeypatch):
    """Replaces billing's command with `behaviour`, so these tests do not depend on billing's data."""
    monkeypatch.setattr(services, "get_commands", lambda: {"ledger_check": "billing"})

    def install(behaviour):
        def fake_call_command(name, *, stdout, stderr):
            assert name == "ledger_check"
            behaviour(stdout)

        monkeypatch.setattr(services, "call_command", fake_call_command)

    return install


def test_passing_check_is_recorded(ledger_check_command):
    ledger_check_command(lambda out: out.write("all 7 invariants hold\n"))

    assert tasks.ledger_check() == "passed"

    run = LedgerCheckRun.objects.get()
    assert (run.status, run.exit_code) == ("passed", 0)
    assert "invariants hold" in run.output


def test_exit_1_is_a_failure_logged_to_the_debug_log(ledger_check_command, debug_log_to_database):
    def failing(out):
        out.write("FAIL: entries of RUB sum to 12.00\n")
        raise SystemExit(1)

    ledger_check_command(failing)

    assert tasks.ledger_check() == "failed"

    run = LedgerCheckRun.objects.get()
    assert (run.status, run.exit_code) == ("failed", 1)
    entry = DebugLog.objects.get(source="ops.services")
    assert entry.level == 40
    assert "ledger_check failed" in entry.message and "sum to 12.00" in entry.message


def test_command_error_with_returncode_1_is_a_failure(ledger_check_command):
    def failing(out):
        raise CommandError("1 invariant failed", returncode=1)

    ledger_check_command(failing)
    assert services.ledger_check_run_record().status == "failed"


def test_a_crash_is_an_error_not_a_pass(ledger_check_command):
    def crashing(out):
        raise RuntimeError("relation does not exist")

    ledger_check_command(crashing)
    run = services.ledger_check_run_record()
    assert run.status == "error"
    assert "relation does not exist" in run.output


def test_missing_command_is_an_error(monkeypatch):
    monkeypatch.setattr(services, "get_commands", dict)
    run = services.ledger_check_run_record()
    assert run.status == "error"
    assert "not installed" in run.output
