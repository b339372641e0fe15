"""The admin toolkit: the capped paginator and spreadsheet-safe CSV that Russian Excel opens."""

import csv

import pytest

from accounts.models import EndUser
from core.admin_toolkit import BIGINT_MAX, CappedCountPaginator, bigint_term, csv_stream, spreadsheet_safe
from tests.support.users import user_create


class SmallCapPaginator(CappedCountPaginator):
    CAP = 3


@pytest.mark.django_db
def test_the_paginator_counts_at_most_one_past_its_cap(django_assert_num_queries):
    for index in range(5):
        user_create(telegram_id=8_000_000 + index)

    capped = SmallCapPaginator(EndUser.objects.order_by("pk"), per_page=2)
    with django_assert_num_queries(1):
        assert capped.count == 4  # "more than 3": pages stop there instead of counting every row
    assert (
        SmallCapPaginator(EndUser.objects.filter(telegram_id__lt=8_000_002).order_by("pk"), per_page=2).count
        == 2
    )


@pytest.mark.parametrize("cell", ["=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_cells_that_a_spreadsheet_would_run_are_quoted(cell):
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["plain", "", "1.00", 5, None])
def test_other_cells_are_left_alone(cell):
    assert spreadsheet_safe(cell) == cell


def test_csv_stream_yields_the_header_then_one_safe_line_per_row_for_russian_excel():
    lines = list(csv_stream(["имя", "b"], iter([(1, "=x"), (2, "Ёлка; ель")])))

    assert len(lines) == 3
    # Russian Excel needs the BOM to read UTF-8 and splits on ";", its list separator.
    assert lines[0].startswith("\ufeff")
    assert lines[0].encode("utf-8").startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader([lines[0].removeprefix("\ufeff"), *lines[1:]], delimiter=";"))
    assert rows == [["имя", "b"], ["1", "'=x"], ["2", "Ёлка; ель"]]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("42", 42),
        (str(BIGINT_MAX), BIGINT_MAX),
        (str(BIGINT_MAX + 1), None),
        ("²", None),
        ("٣", None),
        ("4a", None),
        ("", None),
    ],
)
def test_a_search_term_is_an_id_only_when_it_is_ascii_digits_a_bigint_holds(term, expected):
    assert bigint_term(term) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changelist",
    [
        "/admin/billing/ledgerentry/",
        "/admin/billing/payment/",
        "/admin/billing/refund/",
        "/admin/generations/generation/",
    ],
)
def test_a_superscript_digit_in_the_search_box_is_a_search_not_a_server_error(admin_client, changelist):
    # "²".isdigit() is true and int("²") raises: the id searches answered it with a 500.
    assert admin_client.get(changelist, {"q": "²"}).status_code == 200
