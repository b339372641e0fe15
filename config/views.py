"""JSON answers for URLs outside any view, so a bot never receives an HTML page."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error

from core.errors import error_body

JSON_PREFIXES = ("/api/", "/webhooks/")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith(JSON_PREFIXES):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    return page_not_found(request, exception)


def internal_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(JSON_PREFIXES):
        return JsonResponse(error_body("internal_error", "Something went wrong on our side."), status=500)
    return server_error(request)


class JsonMethodNotAllowedMiddleware:
    """django-ninja answers a wrong method with an HTML 405; bots get the error envelope instead."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        is_json = response.get("Content-Type", "").startswith("application/json")
        if response.status_code == 405 and request.path.startswith(JSON_PREFIXES) and not is_json:
            allowed = response.get("Allow", "")
            replacement = JsonResponse(
                error_body(
                    "method_not_allowed",
                    f"{request.method} is not allowed on {request.path}.",
                    {"allowed": allowed},
                ),
                status=405,
            )
            replacement["Allow"] = allowed
            return replacement
        return response
