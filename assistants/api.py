"""Bot API endpoints of the assistants app (bot-api.md). Shape validation only; rules live in services."""

from django.http import HttpRequest
from ninja import Query, Router, Status

from accounts.selectors import end_user_get, end_user_get_active
from assistants import presenters, retrieval, selectors, services
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


@router.get("/users/{user}/assistants", response={200: AssistantPage, ERROR_CODES_4XX: ErrorOut})
def assistant_list(request: HttpRequest, user: str, page: Query[PageQuery]):
    owner = end_user_get(ref=user)
    rows, next_cursor = page_newest_first(
        selectors.assistants_of_user(user=owner), limit=page.limit, cursor=page.cursor
    )
    return {"items": [presenters.assistant_out(row) for row in rows], "next_cursor": next_cursor}


@router.post("/users/{user}/assistants", response={201: AssistantOut, ERROR_CODES_4XX: ErrorOut})
def assistant_create(request: HttpRequest, user: str, payload: AssistantIn):
    owner = end_user_get(ref=user)
    assistant = services.assistant_create(owner=owner, name=payload.name, instructions=payload.instructions)
    return Status(201, presenters.assistant_out(assistant))


@router.get("/assistants/{assistant_id}", response={200: AssistantOut, ERROR_CODES_4XX: ErrorOut})
def assistant_detail(request: HttpRequest, assistant_id: int):
    return presenters.assistant_out(selectors.assistant_get(assistant_id=assistant_id))


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
    return Status(201, presenters.document_out(document))


@router.get("/assistants/{assistant_id}/documents", response={200: DocumentPage, ERROR_CODES_4XX: ErrorOut})
def document_list(request: HttpRequest, assistant_id: int, page: Query[PageQuery]):
    assistant = selectors.assistant_get(assistant_id=assistant_id)
    rows, next_cursor = page_newest_first(
        selectors.documents_of_assistant(assistant=assistant), limit=page.limit, cursor=page.cursor
    )
    return {"items": [presenters.document_out(row) for row in rows], "next_cursor": next_cursor}


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
    return Status(201 if created else 200, presenters.dialog_out(dialog))


@router.get("/dialogs/{dialog_id}", response={200: DialogOut, ERROR_CODES_4XX: ErrorOut})
def dialog_detail(request: HttpRequest, dialog_id: int):
    return presenters.dialog_out(selectors.dialog_get(dialog_id=dialog_id))


@router.post("/dialogs/{dialog_id}/messages", response={201: MessageOut, ERROR_CODES_4XX: ErrorOut})
def message_create(request: HttpRequest, dialog_id: int, payload: MessageIn):
    message = services.message_create(dialog_id=dialog_id, role=payload.role, content=payload.content)
    return Status(201, presenters.message_out(message))


@router.get("/dialogs/{dialog_id}/messages", response={200: MessagePage, ERROR_CODES_4XX: ErrorOut})
def message_list(request: HttpRequest, dialog_id: int, page: Query[PageQuery]):
    selectors.dialog_exists(dialog_id=dialog_id)
    rows, next_cursor = page_newest_first(
        selectors.messages_of_dialog(dialog_id=dialog_id), limit=page.limit, cursor=page.cursor
    )
    return {"items": [presenters.message_out(row) for row in rows], "next_cursor": next_cursor}


@router.post("/dialogs/{dialog_id}/handoff", response={201: HandoffOut, ERROR_CODES_4XX: ErrorOut})
def dialog_handoff(request: HttpRequest, dialog_id: int, payload: HandoffIn):
    audit = services.dialog_handoff(
        dialog_id=dialog_id, action=payload.action, operator=payload.operator, reason=payload.reason
    )
    return Status(201, presenters.handoff_out(audit))
