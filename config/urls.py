from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.api import api

admin.site.site_header = settings.ADMIN_SITE_HEADER
admin.site.site_title = settings.ADMIN_SITE_TITLE
admin.site.index_title = settings.ADMIN_SITE_HEADER

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the admin header's switch
    path("api/v1/", api.urls),
    path("webhooks/", include("billing.urls")),
]

handler404 = "config.views.not_found"
handler500 = "config.views.internal_error"
