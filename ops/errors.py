from core.errors import DomainError


class OpsError(DomainError):
    """Every refusal of the ops app (bad debug-log input, unknown retention policy...)."""
