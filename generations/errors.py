from core.errors import DomainError


class GenerationsError(DomainError):
    """Every business refusal of the generations app."""


class RateLimited(GenerationsError):
    code = "rate_limited"
