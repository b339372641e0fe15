from config.errors import DomainError


class AccountsError(DomainError):
    """Every business refusal of the accounts app."""
