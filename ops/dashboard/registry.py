"""Finds the panels (one module each in ops/dashboard/panels/) and builds the ones an operator may see."""

import importlib
import pkgutil
from datetime import UTC, datetime

from django.utils import timezone

from ops.dashboard import panels as panels_package
from ops.dashboard.base import BuiltPanel, Panel


def _discover() -> tuple[Panel, ...]:
    found = []
    for module_info in pkgutil.iter_modules(panels_package.__path__):
        module = importlib.import_module(f"{panels_package.__name__}.{module_info.name}")
        found.append(module.PANEL)
    return tuple(sorted(found, key=lambda panel: (panel.order, panel.key)))


PANELS: tuple[Panel, ...] = _discover()


def dashboard_build(
    *, user=None, now: datetime | None = None, panels: tuple[Panel, ...] = PANELS
) -> list[BuiltPanel]:
    """The panels `user` may see (all of them without a user, for scripts), each built once.

    Built in UTC whatever the operator's display zone: days are UTC days, like the usage rollup's.
    """
    now = now or timezone.now()
    with timezone.override(UTC):
        return [
            BuiltPanel(
                key=panel.key,
                title=panel.title,
                template=panel.template,
                wide=panel.wide,
                data=panel.build(now),
            )
            for panel in panels
            if user is None or user.has_perm(panel.permission)
        ]
