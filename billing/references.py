"""Descriptions of ledger entries derived from their references, for the apps above billing to fill in.

A charge's reference already names what it paid for ("generation:42"), so its text ("flux-2-pro
generation #42") is not stored with each of millions of rows: the app that owns the job registers a
describer for the reference's prefix, and whatever shows entries asks for their descriptions a page at
a time. billing knows nothing of generation jobs; generations registers in its AppConfig.ready.

- `register_reference_describer(prefix, describer)`: `describer(references)` answers
  {reference: description} for a batch of references of that prefix in ONE query (a reference it does
  not know is simply left out).
- `ledger_entries_describe(entries)`: each entry's description, in order: the stored one when it has
  one (every entry written before charges stopped storing theirs, and every other type), else its
  describer's text, else "". One describer call per prefix for the whole batch, never one per row.
  `ledger_entries_describe_shown(entries)` sets it as `description_shown` on instances templates show.
"""

from collections.abc import Callable, Sequence
from typing import Protocol

ReferenceDescriber = Callable[[list[str]], dict[str, str]]

_describers: dict[str, ReferenceDescriber] = {}


class Described(Protocol):
    """A ledger entry, or any row that carries its reference and stored description."""

    reference: str
    description: str


def register_reference_describer(prefix: str, describer: ReferenceDescriber) -> None:
    """`prefix` is the part of the reference before its first ":" ("generation" for "generation:42")."""
    _describers[prefix] = describer


def reference_prefix(reference: str) -> str:
    prefix, colon, _ = reference.partition(":")
    return prefix if colon else ""


def ledger_entries_describe(entries: Sequence[Described]) -> list[str]:
    """The description to show for each entry, in the entries' order."""
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        if not entry.description:
            prefix = reference_prefix(entry.reference)
            if prefix in _describers:
                wanted.setdefault(prefix, set()).add(entry.reference)
    derived: dict[str, str] = {}
    for prefix, references in wanted.items():
        derived.update(_describers[prefix](sorted(references)))
    return [entry.description or derived.get(entry.reference, "") for entry in entries]


def ledger_entries_describe_shown(entries: Sequence[Described]) -> None:
    """Sets `description_shown` on each entry (model instances a page or a card section shows)."""
    for entry, description in zip(entries, ledger_entries_describe(entries), strict=True):
        entry.description_shown = description
