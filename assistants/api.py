"""Bot API endpoints of the assistants app (bot-api.md). Shape validation only; rules live in services."""

from django.http import HttpRequest
from ninja import Query, Router, Status

from accounts.selectors import end_user_get, end_user_get_active
from assistants import retrieval, selectors, services
from assistants.models import Assistant, Dialog, Document, HandoffAudit, Message
from assistants.schemas import (
    AssistantIn,
    AssistantOut,
    AssistantPage,
    DialogIn,
    DialogOut,
    DocumentIn,
    DocumentOut,
    DocumentPage,
    HandoffIn,
    HandoffOut,
    MessageIn,
    MessageOut,
    MessagePage,
    SearchIn,
    SearchOut,
)
from core.pagination import PageQuery, page_newest_first
from core.schemas import ERROR_CODES_4XX, ErrorOut

router = Router(tags=["assistants"])


def _assistant_out(assistant: Assistant) -> dict:
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


def _document_out(document: Document) -> dict:
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


def _dialog_out(dialog: Dialog) -> dict:
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


def _message_out(message: Message) -> dict:
    return {
        "id": message.pk,
        "dialog_id": message.dialog_id,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at,
    }


def _handoff_out(audit: HandoffAudit) -> dict:
    return {
        "id": audit.pk,
        "dialog_id": audit.dialog_id,
        "operator": audit.operator,
        "action": audit.action,
        "reason": audit.reason,
        "mode": audit.dialog.mode,
        "created_at": audit.created_at,
    }


@router.get("/users/{user}/assistants", response={200: AssistantPage, ERROR_CODES_4XX: ErrorOut})
def assistant_list(request: HttpRequest, user: str, page: Query[PageQuery]):
    owner = end_user_get(ref=user)
    rows, next_cursor = page_newest_first(
        selectors.assistants_of_user(user=owner), limit=page.limit, cursor=page.cursor
    )
    return {"items": [_assistant_out(row) for row in rows], "next_cursor": next_cursor}


@router.post("/users/{user}/assistants", response={201: AssistantOut, ERROR_CODES_4XX: ErrorOut})
def assistant_create(request: HttpRequest, user: str, payload: AssistantIn):
    owner = end_user_get(ref=user)
    assistant = services.assistant_create(owner=owner, name=payload.name, instructions=payload.instructions)
    return Status(201, _assistant_out(assistant))


@router.get("/assistants/{assistant_id}", response={200: AssistantOut, ERROR_CODES_4XX: ErrorOut})
def assistant_detail(request: HttpRequest, assistant_id: int):
    return _assistant_out(selectors.assistant_get(assistant_id=assistant_id))


@router.post("/assistants/{assistant_id}/documents", response={201: DocumentOut, ERROR_CODES_4XX: ErrorOut})
def document_upload(request: HttpRequest, assistant_id: int, payload: DocumentIn):
    assistant = selectors.assistant_get(assistant_id=assistant_id)
    chunks = (
        [
            services.ChunkInput(content=chunk.content, importance=chunk.importance, embedding=chunk.embedding)
            for chunk in payload.chunks
        ]
        if payload.chunks is not None
        else None
    )
    document, _created = services.document_upload(
        assistant=assistant, title=payload.title, text=payload.text, chunks=chunks
    )
    # A re-upload under the same title is accepted as a new version of that document: also 201.
    return Status(201, _document_out(document))


@router.get("/assistants/{assistant_id}/documents", response={200: DocumentPage, ERROR_CODES_4XX: ErrorOut})
def document_list(request: HttpRequest, assistant_id: int, page: Query[PageQuery]):
    assistant = selectors.assistant_get(assistant_id=assistant_id)
    rows, next_cursor = page_newest_first(
        selectors.documents_of_assistant(assistant=assistant), limit=page.limit, cursor=page.cursor
    )
    return {"items": [_document_out(row) for row in rows], "next_cursor": next_cursor}


@router.delete(
    "/assistants/{assistant_id}/documents/{document_id}", response={204: None, ERROR_CODES_4XX: ErrorOut}
)
def document_delete(request: HttpRequest, assistant_id: int, document_id: int):
    assistant = selectors.assistant_get(assistant_id=assistant_id)
    services.document_delete(assistant=assistant, document_id=document_id)
    return Status(204, None)


@router.post("/assistants/{assistant_id}/search", response={200: SearchOut, ERROR_CODES_4XX: ErrorOut})
def assistant_search(request: HttpRequest, assistant_id: int, payload: SearchIn):
    assistant = selectors.assistant_get(assistant_id=assistant_id)
    hits = retrieval.assistant_search(
        assistant=assistant,
        query=payload.query,
        embedding=payload.embedding,
        limit=payload.limit,
        min_importance=payload.min_importance,
        mode=payload.mode,
    )
    return {"items": [hit.as_dict() for hit in hits]}


@router.post(
    "/assistants/{assistant_id}/dialogs", response={200: DialogOut, 201: DialogOut, ERROR_CODES_4XX: ErrorOut}
)
def dialog_open(request: HttpRequest, assistant_id: int, payload: DialogIn):
    assistant = selectors.assistant_get(assistant_id=assistant_id)
    user = end_user_get_active(ref=payload.user)
    dialog, created = services.dialog_open(assistant=assistant, user=user, chat_id=payload.chat_id)
    dialog.user = user
    return Status(201 if created else 200, _dialog_out(dialog))


@router.get("/dialogs/{dialog_id}", response={200: DialogOut, ERROR_CODES_4XX: ErrorOut})
def dialog_detail(request: HttpRequest, dialog_id: int):
    return _dialog_out(selectors.dialog_get(dialog_id=dialog_id))


@router.post("/dialogs/{dialog_id}/messages", response={201: MessageOut, ERROR_CODES_4XX: ErrorOut})
def message_create(request: HttpRequest, dialog_id: int, payload: MessageIn):
    message = services.message_create(dialog_id=dialog_id, role=payload.role, content=payload.content)
    return Status(201, _message_out(message))


@router.get("/dialogs/{dialog_id}/messages", response={200: MessagePage, ERROR_CODES_4XX: ErrorOut})
def message_list(request: HttpRequest, dialog_id: int, page: Query[PageQuery]):
    selectors.dialog_exists(dialog_id=dialog_id)
    rows, next_cursor = page_newest_first(
        selectors.messages_of_dialog(dialog_id=dialog_id), limit=page.limit, cursor=page.cursor
    )
    return {"items": [_message_out(row) for row in rows], "next_cursor": next_cursor}


@router.post("/dialogs/{dialog_id}/handoff", response={201: HandoffOut, ERROR_CODES_4XX: ErrorOut})
def dialog_handoff(request: HttpRequest, dialog_id: int, payload: HandoffIn):
    audit = services.dialog_handoff(
        dialog_id=dialog_id, action=payload.action, operator=payload.operator, reason=payload.reason
    )
    return Status(201, _handoff_out(audit))
