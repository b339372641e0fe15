from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistantsConfig(AppConfig):
    name = "assistants"
    verbose_name = _("Assistants")

    def ready(self) -> None:
        from accounts import events
        from assistants.handlers import on_end_user_anonymized, on_end_users_merged

        events.subscribe(events.EndUsersMerged, on_end_users_merged)
        events.subscribe(events.EndUserAnonymized, on_end_user_anonymized)
