from core.errors import DomainError


class BillingError(DomainError):
    """Every business refusal of the billing app."""


class InsufficientFunds(BillingError):
    code = "insufficient_funds"
