"""A Celery task for the fault tests only: a worker that takes a paid job and dies before finishing it.

Loaded into the stress stack's worker with `celery -A config worker -I tests.faults.fault_tasks`.
It talks to the API as a generation worker would: marks the job `processing`, works, reports success.
"""

import time

import httpx
from celery import shared_task


@shared_task(name="stress.generation_work", acks_late=False)
def generation_work(generation_id: int, base_url: str, raw_key: str, work_seconds: float) -> str:
    headers = {"Authorization": f"Bearer {raw_key}"}
    url = f"{base_url}/api/v1/generations/{generation_id}/status"
    httpx.post(url, json={"status": "processing", "task_id": "stress"}, headers=headers, timeout=10)
    time.sleep(work_seconds)  # the fault test kills the worker here, between hold and capture
    response = httpx.post(
        url, json={"status": "succeeded", "result_url": "https://cdn.example/x.png"}, headers=headers
    )
    return str(response.status_code)
