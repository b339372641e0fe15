from core.errors import DomainError


class AccountsError(DomainError):
    """Every business refusal of the accounts app."""


class UserBlocked(AccountsError):
    """bot-api.md v1.1: spending or starting anything for a blocked user is 403 with details.user=blocked."""

    code = "forbidden"
    transient = True

    def __init__(self) -> None:
        super().__init__("This user is blocked by an operator.", details={"user": "blocked"})
