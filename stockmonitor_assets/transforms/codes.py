"""Stock codes: normalize user input to RQDatac's `600000.XSHG` form, once, at the boundary."""

import re

_SUFFIXES = {
    "XSHG": "XSHG",
    "SH": "XSHG",
    "SS": "XSHG",
    "XSHE": "XSHE",
    "SZ": "XSHE",
    "BJSE": "BJSE",
    "BJ": "BJSE",
}
_PATTERN = re.compile(r"^(?:(SH|SZ|BJ)\.?)?(\d{6})(?:\.([A-Za-z]+))?$", re.IGNORECASE)


class InvalidStockCodeError(ValueError):
    """A stock code the user gave cannot be understood; the message names it."""


def normalize_order_book_id(code: str) -> str:
    """`600000.SH`, `sh600000`, `600000.XSHG` -> `600000.XSHG`; anything else is rejected.

    A bare six-digit code is refused rather than guessed: `000001` is both Ping An Bank
    (XSHE) and the SSE Composite index (XSHG).
    """
    match = _PATTERN.match(code.strip())
    if not match:
        raise InvalidStockCodeError(
            f"bad stock code {code!r}: expected six digits with an exchange, "
            "e.g. 600000.XSHG, 000001.SZ or 430047.BJ"
        )
    prefix, digits, suffix = match.groups()
    if bool(prefix) == bool(suffix):
        raise InvalidStockCodeError(
            f"bad stock code {code!r}: give the exchange exactly once (600000.SH or SH600000)"
        )
    exchange = _SUFFIXES.get((prefix or suffix).upper())
    if exchange is None:
        raise InvalidStockCodeError(
            f"bad stock code {code!r}: unknown exchange {(prefix or suffix)!r} "
            f"(use one of {sorted(set(_SUFFIXES))})"
        )
    return f"{digits}.{exchange}"


def normalize_order_book_ids(codes: list[str]) -> list[str]:
    """Normalize many codes, reporting every bad one at once; order kept, duplicates dropped."""
    normalized, bad = [], []
    for code in codes:
        try:
            normalized.append(normalize_order_book_id(code))
        except InvalidStockCodeError:
            bad.append(code)
    if bad:
        raise InvalidStockCodeError(
            f"bad stock code(s) {bad}: expected e.g. 600000.XSHG, 000001.SZ or 430047.BJ"
        )
    return list(dict.fromkeys(normalized))
