from django.apps import AppConfig


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = "Generations"

    def ready(self) -> None:
        from accounts import events
        from generations import handlers

        events.subscribe(events.EndUsersMerged, handlers.on_end_users_merged)
        events.subscribe(events.EndUserAnonymized, handlers.on_end_user_anonymized)
