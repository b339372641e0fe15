"""Real concurrency for race tests: threads with their own database connections, released together."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections


def run_concurrently(worker: Callable[[int], Any], count: int, *, timeout: float = 60) -> list[Any]:
    """Runs worker(i) for i in range(count) on real threads released together; returns results or exceptions.

    Each thread has its own database connection (Django's are per thread) and closes it at the end,
    so the test database can be flushed afterwards. A worker still running after `timeout` fails the test.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = worker(index)
        except BaseException as exc:  # collected and asserted by the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a concurrent worker hung"
    return results
