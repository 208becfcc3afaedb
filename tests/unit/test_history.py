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
