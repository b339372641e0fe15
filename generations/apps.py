from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = _("Generations")

    def ready(self) -> None:
        from accounts import events
        from generations import handlers

        events.subscribe(events.EndUsersMerged, handlers.on_end_users_merged)
        events.subscribe(events.EndUserAnonymized, handlers.on_end_user_anonymized)
