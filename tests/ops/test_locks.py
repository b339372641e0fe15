"""Singleton jobs: however many workers start one, the work is done once; a dead holder frees the lock."""

import logging
import threading

import pytest
from django.utils import timezone

from ops import services, tasks
from ops.locks import leader_lock, lock_key, singleton
from ops.models import DebugLog, LeaderLease, RetentionRun
from ops.retention import retention_policy_get
from tests.support.concurrency import run_concurrently


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
    assert not LeaderLease.objects.filter(name="tests.raises").exists()
    with leader_lock("tests.raises") as acquired:
        assert acquired is True


@pytest.mark.django_db
def test_a_crashed_holders_lease_blocks_until_it_expires_then_is_taken_over():
    # given a worker that took the lease and crashed without releasing it
    LeaderLease.objects.create(
        name="tests.crash",
        holder="dead-worker",
        acquired_at=timezone.now(),
        expires_at=timezone.now() + timezone.timedelta(minutes=5),
    )
    with leader_lock("tests.crash") as acquired:
        assert acquired is False

    # when its lease has expired, then the next runner takes it over and releases it after
    LeaderLease.objects.filter(name="tests.crash").update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    with leader_lock("tests.crash") as acquired:
        assert acquired is True
        assert LeaderLease.objects.get(name="tests.crash").holder != "dead-worker"
    assert not LeaderLease.objects.filter(name="tests.crash").exists()


@pytest.mark.django_db
def test_a_lease_lost_while_running_is_logged_as_an_error(caplog):
    with caplog.at_level(logging.ERROR, logger="ops.locks"), leader_lock("tests.lost") as acquired:
        assert acquired is True
        # another runner took it over after it expired
        LeaderLease.objects.filter(name="tests.lost").update(holder="someone-else")
    assert any("expired before its job finished" in r.getMessage() for r in caplog.records)
    assert LeaderLease.objects.get(name="tests.lost").holder == "someone-else"


@pytest.mark.django_db
def test_the_lock_is_reentrant_within_a_thread():
    with leader_lock("tests.nested") as outer, leader_lock("tests.nested") as inner:
        assert (outer, inner) == (True, True)
        assert LeaderLease.objects.filter(name="tests.nested").exists()
    assert not LeaderLease.objects.filter(name="tests.nested").exists()


def test_lock_key_is_stable_and_signed_64_bit():
    assert lock_key("ops.schedules_sync") == lock_key("ops.schedules_sync")
    assert -(2**63) <= lock_key("x") < 2**63
