from celery import shared_task

from assistants import services


@shared_task(acks_late=True)
def document_index_task(document_id: int, version: int | None = None) -> None:
    """Idempotent: a repeat finds every chunk unchanged; an outdated version does nothing."""
    services.document_index(document_id=document_id, version=version)
