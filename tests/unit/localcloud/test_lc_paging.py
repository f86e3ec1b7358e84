"""localcloud's shared page tokens (localcloud/paging.py): pages cover a list exactly once, a token
localcloud did not hand out is refused, and each service's token bytes stay what clients have seen."""

from __future__ import annotations

import pytest

from localcloud.paging import OFFSET_TOKENS, BadToken, TokenFormat, offset_page


def test_pages_cover_the_list_once_in_order() -> None:
    items = list(range(7))
    seen: list[int] = []
    token: str | None = None
    while True:
        page, token = offset_page(items, token, 3)
        seen += page
        if token is None:
            break
    assert seen == items


@pytest.mark.parametrize("token", ["garbage", "W10=", "eyJ4IjogMX0=", "eyJvZmZzZXQiOiAieCJ9"])
def test_a_token_localcloud_did_not_hand_out_is_refused(token: str) -> None:
    # not base64 / a JSON list / no offset field / an offset that is not a number
    with pytest.raises(BadToken):
        offset_page([1, 2, 3], token, 1)


def test_token_bytes_stay_the_same() -> None:
    assert OFFSET_TOKENS.encode({"offset": 100}) == "eyJvZmZzZXQiOiAxMDB9"  # {"offset": 100}
    assert TokenFormat(urlsafe=True, compact=True).encode({"o": 5}) == "eyJvIjo1fQ=="  # {"o":5}
    assert offset_page(list(range(3)), None, 2) == ([0, 1], "eyJvZmZzZXQiOiAyfQ==")
