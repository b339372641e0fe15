from django.contrib import admin
from django.urls import include, path

from config.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("webhooks/", include("billing.urls")),
]

handler404 = "config.views.not_found"
handler500 = "config.views.internal_error"
