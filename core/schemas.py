"""Field types shared by every app's API schemas."""

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from ninja import Schema
from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from core.errors import ERROR_STATUS

MONEY_QUANTUM = Decimal("0.01")
MAX_MONEY = Decimal("1000000000.00")


def _parse_money(value: Any) -> Decimal:
    # A JSON number is refused, not rounded: 150.5 may have been 150.499999 in the client's float, and
    # the contract says money is a decimal string. (Decimals come from our own code, never from JSON.)
    if not isinstance(value, str | Decimal):
        raise ValueError('must be a decimal string such as "12.50", not a JSON number')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError('must be a decimal string such as "12.50"') from exc
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount.as_tuple().exponent < -2:
        raise ValueError("at most two decimal places")
    if abs(amount) > MAX_MONEY:
        raise ValueError(f"must not exceed {MAX_MONEY}")
    return amount.quantize(MONEY_QUANTUM)


def _positive(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise ValueError("must be greater than zero")
    return amount


def format_money(amount: Decimal) -> str:
    return str(Decimal(amount).quantize(MONEY_QUANTUM))


# Money in request bodies: a decimal string with at most two places (a JSON number is 422); answered as "12.50".
Money = Annotated[Decimal, BeforeValidator(_parse_money), PlainSerializer(format_money, return_type=str)]
PositiveMoney = Annotated[
    Decimal,
    BeforeValidator(lambda value: _positive(_parse_money(value))),
    PlainSerializer(format_money, return_type=str),
]


USER_REF_MAX_LENGTH = 140
MAX_TELEGRAM_ID = 2**63 - 1


def _user_ref(value: Any) -> Any:
    # aiogram hands bots `message.from_user.id` as an int: take it as the digits form of {user}.
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value <= MAX_TELEGRAM_ID:
            raise ValueError("a Telegram id must be a positive 64-bit integer")
        return str(value)
    return value


USER_REF_DESCRIPTION = "a Telegram id (a JSON integer, or its digits as a string), device:<id> or ext:<id>"

# A user named in a request body: the {user} forms of the path, or a Telegram id as a JSON integer.
UserRef = Annotated[
    str,
    BeforeValidator(_user_ref),
    Field(min_length=1, max_length=USER_REF_MAX_LENGTH),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": USER_REF_MAX_LENGTH},
                {"type": "integer", "minimum": 1, "maximum": MAX_TELEGRAM_ID},
            ],
            "description": USER_REF_DESCRIPTION,
        }
    ),
]


def schema_enum(name: str, values: Iterable[str]) -> type[StrEnum]:
    """A named enum for the OpenAPI schema (a component generators turn into an enum class), made from
    the values that already define it (a model's choices), so the two cannot drift apart."""
    return StrEnum(name, {value.upper().replace(".", "_"): value for value in values})


# The error codes of the contract, one enum so that clients can switch on them.
ErrorCode = schema_enum("ErrorCode", ERROR_STATUS)


class ErrorDetail(Schema):
    code: ErrorCode
    message: str
    details: dict[str, Any]


class ErrorOut(Schema):
    """The contract's error envelope, declared on endpoints so the OpenAPI schema documents it."""

    error: ErrorDetail


ERROR_CODES_4XX = frozenset({400, 401, 402, 403, 404, 409, 410, 413, 422, 429})
