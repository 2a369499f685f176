"""Time zones by IANA name: the names taken (in any case, nothing else), each country's
main zone (zone.tab's first, or where most people live for the large countries whose first
is a corner), UTC where a country has none, and the day it is in a zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from stewardship.core import clock, timezones


def test_a_name_is_taken_in_its_own_spelling_and_nothing_else_is() -> None:
    assert timezones.zone_name("  pacific/kiritimati ") == "Pacific/Kiritimati"
    assert timezones.zone_name("utc") == "UTC"
    assert timezones.zone_name("Etc/GMT+11") == "Etc/GMT+11"  # UTC-11, POSIX's sign
    for wrong in ("Mars/Olympus", "+08:00", "Factory", "localtime"):
        with pytest.raises(ValueError, match="not an IANA time zone name"):
            timezones.zone_name(wrong)
    with pytest.raises(ValueError, match="give the time zone"):
        timezones.zone_name("   ")


@pytest.mark.parametrize(("country", "zone"), [
    ("NO", "Europe/Oslo"), ("CN", "Asia/Shanghai"), ("NU", "Pacific/Niue"),
    ("KI", "Pacific/Tarawa"), ("US", "America/New_York"),
    ("AU", "Australia/Sydney"), ("CA", "America/Toronto"), ("BR", "America/Sao_Paulo"),
    ("RU", "Europe/Moscow"), ("au", "Australia/Sydney"), ("XK", "UTC"), ("ZZ", "UTC"),
])
def test_each_country_starts_with_its_main_zone(country: str, zone: str) -> None:
    assert timezones.default_zone(country) == zone


def test_a_countrys_zones_start_with_its_main_one_and_the_form_offers_them_all() -> None:
    australia = timezones.zones_of("AU")
    assert australia[0] == "Australia/Sydney" and "Australia/Lord_Howe" in australia
    assert len(set(australia)) == len(australia)
    assert timezones.zones_of("XK") == ()
    offered = timezones.all_zones()
    assert offered == sorted(offered)
    assert {"UTC", "Pacific/Kiritimati", "Pacific/Niue", "Europe/Oslo"} <= set(offered)
    assert all(timezones.zone_name(name) == name for name in offered)


def test_the_day_in_a_zone_is_the_present_instants_date_there() -> None:
    # 10:30 UTC: still the day before at UTC-11, already the next day at UTC+14.
    with clock.use(clock.FixedClock(datetime(2027, 3, 2, 10, 30, tzinfo=UTC))):
        assert clock.today_in(timezones.zone("Pacific/Niue")) == date(2027, 3, 1)
        assert clock.today_in(timezones.zone("UTC")) == date(2027, 3, 2)
        assert clock.today_in(timezones.zone("Pacific/Kiritimati")) == date(2027, 3, 3)
        assert clock.today() == date(2027, 3, 2)
