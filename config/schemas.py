"""Field types shared by every app's API schemas."""

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from ninja import Schema
from pydantic import BeforeValidator, PlainSerializer

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


class ErrorDetail(Schema):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(Schema):
    """The contract's error envelope, declared on endpoints so the OpenAPI schema documents it."""

    error: ErrorDetail


ERROR_CODES_4XX = frozenset({400, 401, 402, 403, 404, 409, 410, 413, 422, 429})
