from django import template

from ops.dashboard import dashboard_build

register = template.Library()


@register.simple_tag(takes_context=True)
def ops_dashboard(context):
    """The panels of the operator dashboard that this operator may see, built when the admin index renders."""
    return dashboard_build(user=context["request"].user)
