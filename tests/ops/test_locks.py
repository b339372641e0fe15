"""Singleton jobs: however many workers start one, the work is done once; a dead holder frees the lock."""

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from ops import services, tasks
from ops.locks import leader_lock, lock_key, singleton
from ops.models import DebugLog, RetentionRun
from ops.retention import retention_policy_get
from tests.conftest import run_concurrently


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_of_the_retention_task_do_the_work_once(monkeypatch):
    # given expired debug logs, and two workers that both receive the nightly cleanup
    old = timezone.now() - timezone.timedelta(days=40)
    DebugLog.objects.bulk_create(
        [DebugLog(level=30, source="t", message="m", created_at=old) for _ in range(5)]
    )
    policy = retention_policy_get(name="debug-logs")
    real = services.retention_cleanup_run
    calls = []
    other_worker_skipped = threading.Event()

    def cleanup_that_waits(**kwargs):
        calls.append(threading.get_ident())
        # Hold the lock until the other worker has tried and given up, so the runs truly overlap.
        assert other_worker_skipped.wait(timeout=20)
        return real(policies=(policy,))

    monkeypatch.setattr(services, "retention_cleanup_run", cleanup_that_waits)

    def worker(index: int):
        result = tasks.retention_cleanup()
        if result is None:
            other_worker_skipped.set()
        return result

    # when both run at the same moment
    results = run_concurrently(worker, 2)

    # then exactly one did the work, the other skipped
    assert sorted(results, key=lambda r: r is None) == [5, None]
    assert len(calls) == 1
    assert RetentionRun.objects.filter(policy="debug-logs").count() == 1
    assert DebugLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_runs_of_a_singleton_do_the_work_once():
    done = []
    release = threading.Event()

    @singleton("tests.many")
    def job():
        done.append(1)
        release.wait(timeout=5)
        return "did it"

    # The workers start together at the barrier; the winner holds the lock for a second, long enough
    # for the three others to try it and give up.
    threading.Timer(1.0, release.set).start()
    results = run_concurrently(lambda index: job(), 4)
    assert results.count("did it") == 1
    assert results.count(None) == 3
    assert len(done) == 1


@pytest.mark.django_db
def test_lock_is_released_when_the_job_raises():
    @singleton("tests.raises")
    def job():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        job()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_a_crashed_holder_does_not_block_the_next_run():
    # given another session (a worker that will crash) holding the lock
    other = connection.get_new_connection(connection.get_connection_params())
    other.autocommit = True
    assert other.execute("SELECT pg_try_advisory_lock(%s)", [lock_key("tests.crash")]).fetchone()[0]
    with leader_lock("tests.crash") as acquired:
        assert acquired is False

    # when that worker dies, its connection goes and the lock with it
    other.close()

    # (the server ends the dead session a moment after the client is gone)
    for _ in range(50):
        with leader_lock("tests.crash") as acquired:
            if acquired:
                break
        time.sleep(0.1)
    assert acquired is True
