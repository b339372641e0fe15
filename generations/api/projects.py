from django.http import HttpRequest
from ninja import Query, Router, Status

from accounts.selectors import end_user_get
from core.schemas import ERROR_CODES_4XX, ErrorOut
from generations import presenters, selectors, services
from generations.schemas import (
    PageQuery,
    ProjectDetailOut,
    ProjectIn,
    ProjectItemIn,
    ProjectItemOut,
    ProjectOut,
    ProjectPage,
)

router = Router(tags=["projects"])


@router.get("/users/{user}/projects", response={200: ProjectPage, ERROR_CODES_4XX: ErrorOut})
def projects_list(request: HttpRequest, user: str, page: Query[PageQuery]):
    rows, next_cursor = selectors.projects_page_for_user(
        user=end_user_get(ref=user), limit=page.limit, cursor=page.cursor
    )
    return {"items": [presenters.project_out(row) for row in rows], "next_cursor": next_cursor}


@router.post("/users/{user}/projects", response={201: ProjectOut, ERROR_CODES_4XX: ErrorOut})
def project_create(request: HttpRequest, user: str, payload: ProjectIn):
    project = services.project_create(
        user=end_user_get(ref=user), name=payload.name, description=payload.description
    )
    return Status(201, presenters.project_out(project))


@router.get("/projects/{project_id}", response={200: ProjectDetailOut, ERROR_CODES_4XX: ErrorOut})
def project_detail(request: HttpRequest, project_id: int):
    project = selectors.project_get(project_id=project_id)
    items = selectors.project_items_newest(project=project)
    return {**presenters.project_out(project), "items": [presenters.project_item_out(item) for item in items]}


@router.post("/projects/{project_id}/items", response={201: ProjectItemOut, ERROR_CODES_4XX: ErrorOut})
def project_item_add(request: HttpRequest, project_id: int, payload: ProjectItemIn):
    item = services.project_item_add(
        project_id=project_id,
        generation_id=payload.generation,
        model_code=payload.model or "",
        inputs=payload.inputs,
        outputs=payload.outputs,
        status=payload.status or "",
    )
    return Status(201, presenters.project_item_out(item))
