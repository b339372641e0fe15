from django.conf import settings
from django.http import HttpRequest
from ninja import Query, Router

from accounts.selectors import end_user_get
from billing import selectors
from billing.errors import BillingError
from billing.models import EntryType
from billing.references import ledger_entries_describe
from billing.schemas import ENTRY_TYPE_NAMES, BalanceOut, TransactionPage, TransactionsQuery
from billing.services import currency_validate
from core.schemas import ERROR_CODES_4XX, ErrorOut

router = Router(tags=["balance"])


@router.get("/users/{user}/balance", response={200: BalanceOut, ERROR_CODES_4XX: ErrorOut})
def balance_detail(request: HttpRequest, user: str, currency: str | None = None):
    currency = currency_validate(currency or settings.DEFAULT_CURRENCY)
    return selectors.balance_for_ref(ref=user, currency=currency)


def _entry_type(name: str | None) -> EntryType | None:
    if name is None:
        return None
    if name not in ENTRY_TYPE_NAMES:
        raise BillingError(
            f"Unknown transaction type {name!r}.",
            code="validation_error",
            details={"type": f"one of {', '.join(ENTRY_TYPE_NAMES)}"},
        )
    return EntryType(ENTRY_TYPE_NAMES.index(name) + 1)


@router.get("/users/{user}/transactions", response={200: TransactionPage, ERROR_CODES_4XX: ErrorOut})
def transactions_list(request: HttpRequest, user: str, filters: Query[TransactionsQuery]):
    entry_type = _entry_type(filters.type)
    if filters.currency:
        currency_validate(filters.currency)
    rows, next_cursor = selectors.ledger_entries_for_user(
        user=end_user_get(ref=user),
        entry_type=entry_type,
        currency=filters.currency,
        limit=filters.limit,
        cursor=filters.cursor,
    )
    descriptions = ledger_entries_describe(rows)  # a charge's text comes from its job: one query a page
    items = [
        {
            "id": row.pk,
            "type": ENTRY_TYPE_NAMES[row.type - 1],  # the contract's names, never the translated labels
            "amount": selectors.money(row.amount),
            "balance_after": selectors.money(row.balance_after),
            "currency": row.currency,
            "reference": row.reference,
            "description": description,
            "created_at": row.created_at,
        }
        for row, description in zip(rows, descriptions, strict=True)
    ]
    return {"items": items, "next_cursor": next_cursor}
