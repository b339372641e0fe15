from typing import Any, Literal

from ninja import Schema
from pydantic import Field, field_validator

from ops.models import DebugLog

# The contract's level names are the choices' names: their labels are translated for operators.
LEVELS = {level.name.lower(): level.value for level in DebugLog.Level}


class DebugLogIn(Schema):
    level: str = Field(description="debug, info, warning, error or critical")
    # Any length is accepted (the request body is capped); the stored message is cut to 1000 characters.
    message: str = Field(min_length=1)
    context: dict[str, Any] = Field(default_factory=dict, description="a small object (at most 4 KB as JSON)")

    @field_validator("level")
    @classmethod
    def known_level(cls, value: str) -> str:
        level = value.strip().lower()
        if level not in LEVELS:
            raise ValueError(f"must be one of {', '.join(LEVELS)}")
        return level


class HealthOut(Schema):
    """One shape for 200 and 503, so generated clients get one model and keep both answers."""

    status: Literal["ok", "down"]
    database: Literal["ok", "down"]
    pgvector: str | None = Field(description="the vector extension's version; null when the database is down")
    broker: Literal["ok", "down"]


class DebugLogAccepted(Schema):
    id: int
