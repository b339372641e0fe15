from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = _("Generations")

    def ready(self) -> None:
        from accounts import events
        from billing.references import register_reference_describer
        from generations import handlers, selectors
        from generations.models import HOLD_REFERENCE_PREFIX

        events.subscribe(events.EndUsersMerged, handlers.on_end_users_merged)
        events.subscribe(events.EndUserAnonymized, handlers.on_end_user_anonymized)
        # A charge stores no text of its own: its description is derived from its job when shown.
        register_reference_describer(HOLD_REFERENCE_PREFIX, selectors.charge_descriptions)
