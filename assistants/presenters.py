"""The JSON shapes of assistants, documents, dialogs, messages and handoffs, built from loaded rows (no queries)."""

from typing import Any

from assistants.models import Assistant, Dialog, Document, HandoffAudit, Message


def assistant_out(assistant: Assistant) -> dict[str, Any]:
    return {
        "id": assistant.pk,
        "name": assistant.name,
        "instructions": assistant.instructions,
        "is_active": assistant.is_active,
        "documents_count": assistant.documents_count,
        "dialogs_count": assistant.dialogs_count,
        "messages_count": assistant.messages_count,
        "created_at": assistant.created_at,
    }


def document_out(document: Document) -> dict[str, Any]:
    return {
        "id": document.pk,
        "title": document.title,
        "status": document.status,
        "chunks_count": document.chunks_count,
        "source": document.source,
        "size": document.size,
        "error": document.error,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
    }


def dialog_out(dialog: Dialog) -> dict[str, Any]:
    return {
        "id": dialog.pk,
        "assistant_id": dialog.assistant_id,
        "user": dialog.user.display_ref,
        "user_id": dialog.user_id,
        "chat_id": dialog.chat_id,
        "mode": dialog.mode,
        "operator": dialog.operator,
        "messages_count": dialog.messages_count,
        "created_at": dialog.created_at,
    }


def message_out(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "dialog_id": message.dialog_id,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at,
    }


def handoff_out(audit: HandoffAudit) -> dict[str, Any]:
    return {
        "id": audit.pk,
        "dialog_id": audit.dialog_id,
        "operator": audit.operator,
        "action": audit.action,
        "reason": audit.reason,
        "mode": audit.dialog.mode,
        "created_at": audit.created_at,
    }
