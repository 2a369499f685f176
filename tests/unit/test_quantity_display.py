"""How kilogram figures read on pages: tonnes to read, exact kilograms kept beside them."""

from __future__ import annotations

from stewardship.core.templating import kilograms, tonnes, tonnes_text


def test_tonnes_rounds_to_one_place_half_even() -> None:
    assert tonnes_text(123_456_789) == "123,456.8 t"
    assert tonnes_text(1_250) == "1.2 t"
    assert tonnes_text(1_350) == "1.4 t"
    assert tonnes_text(2_000_000, places=0) == "2,000 t"


def test_below_a_tonne_shows_kilograms() -> None:
    assert tonnes_text(999) == "999 kg"
    assert tonnes_text(0) == "0 kg"
    assert tonnes_text(-500) == "-500 kg"
    assert tonnes_text(None) == ""


def test_markup_keeps_exact_kilograms_in_title_and_data() -> None:
    html = str(tonnes(987_654_321_012))
    assert html == ('<span class="qty" title="987,654,321,012 kg" data-kg="987654321012">'
                    "987,654,321.0 t</span>")
    assert str(tonnes(None)) == ""


def test_exact_kilograms() -> None:
    assert kilograms(1234567) == "1,234,567 kg"
    assert kilograms(None) == ""


def test_badge_names_the_status_in_words_and_keeps_the_code() -> None:
    from stewardship.core.templating import badge

    assert str(badge("pending_review")) == (
        '<span class="badge badge-pending_review" title="pending_review">Pending review</span>')
    assert "&lt;" in str(badge("<x>"))
