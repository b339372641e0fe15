"""Operators' views of money. The ledger reaches millions of rows: changelists join explicitly, never
count the whole table, and search by indexed columns only. The ledger, payments, provider events and
holds are read-only; balances change only through services (the manual adjustment writes a ledger entry
carrying the operator and the reason)."""

from billing.admin import card, ledger, payments, plans, promo, refunds  # noqa: F401  (registers the admins)
