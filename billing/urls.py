"""Provider webhooks, outside the bot API's key auth (each provider proves itself its own way)."""

from django.urls import path

from billing.webhooks import yookassa_webhook

urlpatterns = [
    path("yookassa/<str:secret>", yookassa_webhook, name="yookassa-webhook"),
]
