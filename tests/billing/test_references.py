"""The reference describers' registry: stored text first, then one describer call per prefix per batch."""

from typing import NamedTuple

import pytest

from billing import references


class Entry(NamedTuple):
    reference: str
    description: str


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, list[str]]]:
    """Two describers registered for the test only; each call is recorded with what it was asked."""
    monkeypatch.setattr(references, "_describers", {})
    seen: list[tuple[str, list[str]]] = []

    def describer(prefix: str):
        def describe(refs: list[str]) -> dict[str, str]:
            seen.append((prefix, refs))
            return {
                ref: f"{prefix} text of {ref.partition(':')[2]}" for ref in refs if not ref.endswith(":0")
            }

        return describe

    references.register_reference_describer("job", describer("job"))
    references.register_reference_describer("task", describer("task"))
    return seen


def test_stored_text_wins_and_the_rest_is_derived_in_one_call_per_prefix(calls):
    entries = [
        Entry("job:1", ""),
        Entry("job:2", "stored for an older charge"),
        Entry("task:7", ""),
        Entry("job:1", ""),  # the same reference twice is asked once
        Entry("job:0", ""),  # unknown to its describer
        Entry("payment:5", ""),  # no describer for the prefix
        Entry("payment:6", "Top-up via YooKassa"),
        Entry("", ""),
        Entry("nocolon", ""),
    ]

    assert references.ledger_entries_describe(entries) == [
        "job text of 1",
        "stored for an older charge",
        "task text of 7",
        "job text of 1",
        "",
        "",
        "Top-up via YooKassa",
        "",
        "",
    ]
    assert sorted(calls) == [("job", ["job:0", "job:1"]), ("task", ["task:7"])]


def test_nothing_to_derive_asks_no_describer(calls):
    assert references.ledger_entries_describe([Entry("job:1", "stored"), Entry("payment:1", "")]) == [
        "stored",
        "",
    ]
    assert references.ledger_entries_describe([]) == []
    assert calls == []
