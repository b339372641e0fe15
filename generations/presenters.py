"""The JSON shapes of generations, projects and their items, built from already-loaded rows (no queries)."""

from typing import Any

from generations.models import Generation, Project, ProjectItem


def generation_out(generation: Generation) -> dict[str, Any]:
    return {
        "id": generation.pk,
        "user": generation.user.display_ref,
        "status": generation.status,
        "model": generation.model.code,
        "cost": generation.cost,
        "currency": generation.currency,
        "is_free": generation.is_free,
        "prompt": generation.prompt,
        "parameters": generation.parameters,
        "task_id": generation.task_id or None,
        "result_url": generation.result_url or None,
        "error_code": generation.error_code or None,
        "error_message": generation.error_message or None,
        "duration_ms": generation.duration_ms,
        "created_at": generation.created_at,
        "started_at": generation.started_at,
        "completed_at": generation.completed_at,
    }


def project_out(project: Project) -> dict[str, Any]:
    return {
        "id": project.pk,
        "name": project.name,
        "description": project.description,
        "items_count": project.items_count,
        "last_item_at": project.last_item_at,
        "created_at": project.created_at,
    }


def project_item_out(item: ProjectItem) -> dict[str, Any]:
    return {
        "id": item.pk,
        "generation": item.generation_id,
        "model": item.model_code,
        "inputs": item.inputs,
        "outputs": item.outputs,
        "status": item.status,
        "created_at": item.created_at,
    }


def generation_refund_out(*, generation_id: int, refund: Any) -> dict[str, Any]:
    """A charge refund (billing's ChargeRefund) as the generation's refund."""
    return {
        "id": refund.pk,
        "generation": generation_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "reason": refund.reason,
        "created_at": refund.created_at,
    }
