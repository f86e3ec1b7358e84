"""The newest N of a List* operation, and how many more there are, for ``localcloud status``.

:func:`pages` follows one List* operation's page tokens (each service names them its own way:
SageMaker's ``NextToken``, Lambda's ``Marker``/``NextMarker``, Step Functions' ``nextToken``);
:func:`take` keeps the first ``limit`` items of those pages (all of them when ``limit`` is None)
and counts the rest without keeping them, so a caller describes only what it shows.
Hand-written rather than botocore's paginators: those need a real client (the status tests hand
in small fakes) and their ``MaxItems`` stops paging, where the count of the rest is wanted.
Relies on the standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

Item = dict[str, Any]


class Listing(NamedTuple):
    """The items to show, newest first, and how many more the operation listed."""

    shown: list[Item]
    more: int


def pages(
    call: Callable[..., dict[str, Any]],
    key: str,
    *,
    token_in: str = "NextToken",
    token_out: str = "NextToken",
    **params: Any,
) -> Iterator[list[Item]]:
    """Each page's ``key`` list of ``call(**params)``, following ``token_out`` into ``token_in``."""
    while True:
        page = call(**params)
        yield list(page.get(key, []))
        token = page.get(token_out)
        if not token:
            return
        params[token_in] = token


def take(all_pages: Iterable[list[Item]], limit: int | None) -> Listing:
    """The first ``limit`` items of ``all_pages`` (every item when None), and the count of the rest."""
    shown: list[Item] = []
    more = 0
    for page in all_pages:
        room = len(page) if limit is None else max(0, limit - len(shown))
        shown.extend(page[:room])
        more += max(0, len(page) - room)
    return Listing(shown, more)


def newest(call: Callable[..., dict[str, Any]], key: str, limit: int | None) -> Listing:
    """A SageMaker List* call's newest ``limit`` items (pages of 100, the most SageMaker gives)."""
    return take(pages(call, key, SortBy="CreationTime", SortOrder="Descending", MaxResults=100), limit)
