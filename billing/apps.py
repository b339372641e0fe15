from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from accounts import events
        from billing import handlers, selectors

        events.subscribe(events.EndUserCreated, handlers.on_end_user_created)
        events.subscribe(events.EndUsersMerged, handlers.on_end_users_merged)
        events.register_user_facet("balance", selectors.balances_for_users)
        events.register_user_facet("subscription", selectors.subscriptions_for_users)
