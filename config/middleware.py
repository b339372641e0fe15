"""The operators' time zone: the admin shows times in DISPLAY_TIME_ZONE; storage and the API stay in UTC."""

import zoneinfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class DisplayTimeZoneMiddleware:
    """Activates DISPLAY_TIME_ZONE for admin pages only: bots get ISO 8601 in UTC (bot-api.md)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.zone = zoneinfo.ZoneInfo(settings.DISPLAY_TIME_ZONE)
        self.prefix = settings.ADMIN_URL_PREFIX

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(self.prefix):
            return self.get_response(request)
        with timezone.override(self.zone):
            return self.get_response(request)
