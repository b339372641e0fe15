from django import template

from ops.dashboard import dashboard_build

register = template.Library()


@register.simple_tag
def ops_dashboard():
    """The panels of the operator dashboard, built when the admin index renders."""
    return dashboard_build()
