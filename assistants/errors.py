from core.errors import DomainError


class AssistantsError(DomainError):
    """Every business refusal of the assistants app."""
