"""A price history from a CSV file, for replaying real prices through the demo
(`ape run demo --prices FILE.csv`): one row per price, a time and a price, in time
order. The time is Unix seconds or an ISO 8601 date or date-time (UTC unless it
says otherwise); the price is in USD. A header row is allowed. The demo publishes
one price an hour: each hour takes the last price at or before it."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

HOUR = 3_600
FEED_DECIMALS = 8  # the mock feed's and the price service's USD prices


class HistoryError(ValueError):
    """What is wrong with a price file, with its line number."""


@dataclass(frozen=True)
class History:
    """Hourly prices (USD with 8 decimals) from the first whole hour of a file on."""

    start: int  # Unix time of the first hour
    hourly: list[int]

    @property
    def days(self) -> int:
        return len(self.hourly) // 24

    def date(self, day: int) -> str:
        """The calendar date (UTC) of the demo's day `day` (from 1)."""
        return datetime.fromtimestamp(self.start + (day - 1) * 24 * HOUR, UTC).strftime("%Y-%m-%d")


def _time(text: str, line: int) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HistoryError(f"line {line}: '{text}' is not a time (Unix seconds or 2021-05-19T13:00:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _price(text: str, line: int) -> int:
    try:
        price = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise HistoryError(f"line {line}: '{text.strip()}' is not a price") from None
    if not price.is_finite() or price <= 0:
        raise HistoryError(f"line {line}: a price must be positive, not {text.strip()}")
    scaled = int(price.scaleb(FEED_DECIMALS))
    if scaled == 0:
        raise HistoryError(f"line {line}: {text.strip()} is below the feed's 8 decimals")
    return scaled


def read_rows(path: Path) -> list[tuple[int, int]]:
    """(time, price with 8 decimals) for each row of `path`, checked."""
    rows: list[tuple[int, int]] = []
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise HistoryError(f"cannot read {path}: {error.strerror}") from None
    for line, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        if len(fields) < 2:
            raise HistoryError(f"line {line}: expected a time and a price, got '{','.join(fields)}'")
        if not rows and not fields[0].strip()[:1].isdigit():
            continue  # a header
        at, price = _time(fields[0], line), _price(fields[1], line)
        if rows and at <= rows[-1][0]:
            raise HistoryError(f"line {line}: times must increase (this row is not after the one before)")
        rows.append((at, price))
    if not rows:
        raise HistoryError(f"{path} holds no prices")
    return rows


def hourly(rows: list[tuple[int, int]]) -> History:
    """One price an hour, from the first whole hour at or after the first row to
    the last row: each hour's price is the last one at or before it."""
    start = -(-rows[0][0] // HOUR) * HOUR
    prices, i = [], 0
    for at in range(start, rows[-1][0] + 1, HOUR):
        while i + 1 < len(rows) and rows[i + 1][0] <= at:
            i += 1
        prices.append(rows[i][1])
    return History(start, prices)


def read_history(path: Path) -> History:
    """The file's prices, one an hour; at least two whole days of them."""
    history = hourly(read_rows(path))
    if history.days < 2:
        raise HistoryError(f"{path} covers {len(history.hourly)} hours: the demo needs at least 2 days")
    return history
