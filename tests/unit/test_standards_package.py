"""Standard packages as YAML: the shipped packages, the export round trip, and every kind
of bad input rejected whole with the path and line of each problem."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stewardship.standards.demo import shipped_package_text
from stewardship.standards.package import (
    MAX_PACKAGE_BYTES,
    PackageInvalid,
    Problem,
    export_yaml,
    package_to_data,
    parse_package,
)
from stewardship.standards.rules import (
    ALL_ACTIVITIES,
    CERTIFYING,
    Criterion,
    Part,
    Principle,
    PrincipleGroup,
    StandardKind,
    StandardPackage,
    Threshold,
)

SHIPPED = ("performance-v2.yaml", "performance-v3.yaml", "chain-of-custody-v2.yaml")

# A small valid package; the line numbers below are the ones the tests expect.
MINI = """\
urn: urn:stewardship:standard:mini
version: 1
kind: performance
title: "Mini standard"
provider: "Tests"
copyright: "CC0"
illustrative: true
published_on: 2024-01-01
effective_on: 2024-02-01
transition_ends_on: 2024-12-31
principles:
  - number: 1
    title: "Business Integrity"
    group: governance
    intent: "Be honest."
    criteria:
      - number: "1.1"
        title: "Legal compliance"
        requirement: "Comply with the law."
        applies_to:
          activities: all
      - number: "1.2"
        title: "Anti-corruption"
        requirement: "Do not bribe."
        guidance: "Keep records."
        applies_to:
          activities: [smelting, casthouse]
          member_classes: [production_transformation]
        parts:
          - letter: a
            requirement: "Have a policy."
          - letter: b
            requirement: "Train staff."
  - number: 2
    title: "Emissions"
    group: environment
    criteria:
      - number: "2.1"
        title: "GHG intensity"
        requirement: "Stay under the limit."
        applies_to:
          activities: [smelting]
        thresholds:
          - key: ghg_max
            value: "8.0"
            unit: "t CO2e/t Al"
            applies_from: 2025-01-01
"""


def edited(old: str, new: str, text: str = MINI) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def problems_of(text: str | bytes) -> list[Problem]:
    with pytest.raises(PackageInvalid) as info:
        parse_package(text)
    assert info.value.problems
    return info.value.problems


def only_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


# --- shipped packages -------------------------------------------------------------------


def test_mini_package_parses() -> None:
    package = parse_package(MINI)
    assert package.urn == "urn:stewardship:standard:mini"
    assert [c.number for c in package.criteria()] == ["1.1", "1.2", "2.1"]
    c12 = package.criterion("1.2")
    assert c12 is not None
    assert c12.activities == frozenset({"smelting", "casthouse"})
    assert c12.member_classes == frozenset({"production_transformation"})
    assert [p.letter for p in c12.parts] == ["a", "b"]
    c11 = package.criterion("1.1")
    assert c11 is not None and c11.activities is None and c11.member_classes == CERTIFYING
    threshold = package.threshold("ghg_max")
    assert threshold is not None
    assert threshold.value == Decimal("8.0")
    assert threshold.applies_from == date(2025, 1, 1)


def test_performance_v2_ships_eleven_principles_in_three_groups() -> None:
    package = parse_package(shipped_package_text("performance-v2.yaml"))
    assert package.kind is StandardKind.PERFORMANCE
    assert package.version == 2
    assert package.illustrative
    assert len(package.criteria()) >= 45
    assert [p.number for p in package.principles] == list(range(1, 12))
    groups = [p.group for p in package.principles]
    assert groups == ([PrincipleGroup.GOVERNANCE] * 4 + [PrincipleGroup.ENVIRONMENT] * 4
                      + [PrincipleGroup.SOCIAL] * 3)
    assert package.principles[4].title.startswith("GHG")


def test_performance_v3_follows_v2() -> None:
    v2 = parse_package(shipped_package_text("performance-v2.yaml"))
    v3 = parse_package(shipped_package_text("performance-v3.yaml"))
    assert v3.urn == v2.urn
    assert v3.version == 3
    assert len(v3.criteria()) >= 45
    assert len(v3.principles) == 11
    assert v3.effective_on > v2.effective_on
    assert v3.transition_ends_on == date(2023, 6, 1)
    threshold = v3.threshold("smelter_ghg_intensity_new_max")
    assert threshold is not None and threshold.value == Decimal("11.0")


def test_chain_of_custody_v2() -> None:
    package = parse_package(shipped_package_text("chain-of-custody-v2.yaml"))
    assert package.kind is StandardKind.CHAIN_OF_CUSTODY
    assert len(package.criteria()) >= 12
    assert {p.group for p in package.principles} == {PrincipleGroup.CHAIN_OF_CUSTODY}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_package_round_trips_through_export(name: str) -> None:
    package = parse_package(shipped_package_text(name))
    exported = export_yaml(package)
    assert parse_package(exported) == package
    assert export_yaml(parse_package(exported)) == exported


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_package_parses_from_bytes(name: str) -> None:
    text = shipped_package_text(name)
    assert parse_package(text.encode("utf-8")) == parse_package(text)


# --- round trip of generated packages ---------------------------------------------------

texts = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs", "S")),
                min_size=1, max_size=40).map(str.strip).filter(bool)


@st.composite
def criteria_of(draw: st.DrawFn, principle: int) -> tuple[Criterion, ...]:
    count = draw(st.integers(1, 4))
    out = []
    for minor in range(1, count + 1):
        acts = draw(st.none() | st.frozensets(st.sampled_from(sorted(ALL_ACTIVITIES)),
                                              min_size=1))
        parts = tuple(Part(chr(ord("a") + i), draw(texts))
                      for i in range(draw(st.integers(0, 3))))
        thresholds = tuple(
            Threshold(key=f"t_{principle}_{minor}_{i}",
                      value=draw(st.decimals(min_value=-10**6, max_value=10**6, places=3,
                                             allow_nan=False, allow_infinity=False)),
                      unit=draw(texts), description=draw(st.just("") | texts),
                      applies_from=draw(st.none() | st.dates(date(2000, 1, 1),
                                                             date(2040, 1, 1))))
            for i in range(draw(st.integers(0, 2))))
        out.append(Criterion(
            number=f"{principle}.{minor}", title=draw(texts), requirement=draw(texts),
            guidance=draw(st.just("") | texts), activities=acts,
            member_classes=draw(st.frozensets(st.sampled_from(sorted(CERTIFYING)),
                                              min_size=1)),
            parts=parts, thresholds=thresholds))
    return tuple(out)


@st.composite
def packages(draw: st.DrawFn) -> StandardPackage:
    published = draw(st.dates(date(2000, 1, 1), date(2040, 1, 1)))
    effective = published + timedelta(days=draw(st.integers(0, 400)))
    transition = draw(st.none() | st.integers(1, 900).map(
        lambda n: effective + timedelta(days=n)))
    principles = tuple(
        Principle(number=n, title=draw(texts), group=draw(st.sampled_from(list(PrincipleGroup))),
                  intent=draw(st.just("") | texts), criteria=draw(criteria_of(n)))
        for n in range(1, draw(st.integers(1, 4)) + 1))
    slug = draw(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True))
    return StandardPackage(
        urn=f"urn:stewardship:standard:{slug}",
        version=draw(st.integers(1, 10_000)), kind=draw(st.sampled_from(list(StandardKind))),
        title=draw(texts), provider=draw(texts), copyright=draw(texts),
        illustrative=draw(st.booleans()), published_on=published, effective_on=effective,
        transition_ends_on=transition, principles=principles)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packages())
def test_generated_packages_round_trip(package: StandardPackage) -> None:
    exported = export_yaml(package)
    assert parse_package(exported) == package


# --- malformed input: each problem with its path and line -------------------------------


def test_invalid_yaml_reports_its_line() -> None:
    problem = only_problem(edited('title: "Mini standard"', 'title: "Mini standard'))
    assert "not valid YAML" in problem.message
    assert problem.line is not None and problem.line >= 4


def test_tabs_are_invalid_yaml_with_a_line() -> None:
    problem = only_problem(edited('        requirement: "Do not bribe."',
                                  '\trequirement: "Do not bribe."'))
    assert problem.line == 24


@pytest.mark.parametrize("text", ["", "just text", "- a\n- list\n", "42"])
def test_a_package_must_be_a_mapping(text: str) -> None:
    problem = only_problem(text)
    assert "mapping" in problem.message


@pytest.mark.parametrize(("old", "new", "path", "line", "words"), [
    ('        requirement: "Comply with the law."\n',
     '        requirement: "Comply with the law."\n        colour: blue\n',
     "principles[0].criteria[0].colour", 20, "not a known key"),
    ('illustrative: true\n', 'illustrative: true\nsponsor: "Nobody"\n',
     "sponsor", 8, "not a known key"),
    ('        requirement: "Comply with the law."\n', '',
     "principles[0].criteria[0].requirement", 17, "is required"),
    ('copyright: "CC0"\n', '', "copyright", None, "is required"),
    ('      - number: "2.1"', '      - number: "3.1"',
     "principles[1].criteria[0].number", 38, "does not belong to principle 2"),
    ('      - number: "1.2"', '      - number: "1.1"',
     "principles[0].criteria[1].number", 22, "appears twice"),
    ('      - number: "1.2"', '      - number: "1.02"',
     "principles[0].criteria[1].number", 22, "not a criterion number"),
    ('      - number: "1.2"', '      - number: 1.20',
     "principles[0].criteria[1].number", 22, "quoted"),
    ('          - letter: b', '          - letter: c',
     "principles[0].criteria[1].parts[1].letter", 32, "expected part 'b'"),
    ('[smelting, casthouse]', '[smelting, pottery]',
     "principles[0].criteria[1].applies_to.activities", 27, "'pottery' is not a known activity"),
    ('[smelting, casthouse]', '[smelting, {nested: map}]',
     "principles[0].criteria[1].applies_to.activities", 27, "not a known activity"),
    ('          activities: [smelting]\n', '          activities: []\n',
     "principles[1].criteria[0].applies_to.activities", 42, "'all' or a list"),
    ('member_classes: [production_transformation]', 'member_classes: [civil_society]',
     "principles[0].criteria[1].applies_to.member_classes", 28, "not a class that certifies"),
    ('value: "8.0"', 'value: "eight"',
     "principles[1].criteria[0].thresholds[0].value", 45, "decimal number"),
    ('value: "8.0"', 'value: .nan',
     "principles[1].criteria[0].thresholds[0].value", 45, "decimal number"),
    ('effective_on: 2024-02-01\ntransition_ends_on: 2024-12-31',
     'effective_on: 2023-12-01\ntransition_ends_on: 2024-12-31',
     "effective_on", 9, "before published_on"),
    ('transition_ends_on: 2024-12-31', 'transition_ends_on: 2024-01-15',
     "transition_ends_on", 10, "after effective_on"),
    ('transition_ends_on: 2024-12-31', 'transition_ends_on: 2024-02-01',
     "transition_ends_on", 10, "after effective_on"),
    ('effective_on: 2024-02-01', 'effective_on: 2024-02-30',
     "effective_on", 9, "must be a date"),
    ('  - number: 2\n', '  - number: 3\n', "principles[1].number", 34, "expected principle 2"),
    ('  - number: 1\n', '  - number: true\n', "principles[0].number", 12,
     "expected principle 1"),
    ('urn: urn:stewardship:standard:mini', 'urn: "performance standard"',
     "urn", 1, "not a URN"),
    ('urn: urn:stewardship:standard:mini', 'urn: urn:stewardship:standard:mini/std',
     "urn", 1, "lowercase"),
    ('urn: urn:stewardship:standard:mini', f'urn: urn:stewardship:standard:{"m" * 200}',
     "urn", 1, "at most 200"),
    ('version: 1', 'version: 0', "version", 2, "positive whole number"),
    ('version: 1', 'version: "2"', "version", 2, "positive whole number"),
    ('version: 1', 'version: 99999999999', "version", 2, "positive whole number"),
    ('kind: performance', 'kind: governance', "kind", 3, "performance or chain_of_custody"),
    ('    group: environment', '    group: weather', "principles[1].group", 36, "must be"),
    ('title: "Mini standard"', 'title: ""', "title", 4, "non-empty text"),
    ('provider: "Tests"', 'provider: 42', "provider", 5, "non-empty text"),
    ('illustrative: true', 'illustrative: "yes"', "illustrative", 7, "true or false"),
])
def test_each_kind_of_bad_input_is_rejected_with_path_and_line(
        old: str, new: str, path: str, line: int | None, words: str) -> None:
    problems = problems_of(edited(old, new))
    matching = [p for p in problems if p.path == path and words in p.message]
    assert matching, problems
    if line is not None:
        assert matching[0].line == line, problems
    else:
        assert all(p.line is not None for p in problems if p.path != path)


def test_a_missing_top_level_key_points_at_the_document() -> None:
    problem = only_problem(edited('copyright: "CC0"\n', ''))
    assert problem.path == "copyright"
    assert problem.line == 1
    assert str(problem).startswith("line 1: copyright: is required")


def test_several_problems_are_reported_together() -> None:
    text = edited('urn: urn:stewardship:standard:mini', 'urn: nonsense')
    text = edited('[smelting, casthouse]', '[smelting, pottery]', text)
    text = edited('value: "8.0"', 'value: "lots"', text)
    text = edited('          - letter: b', '          - letter: x', text)
    problems = problems_of(text)
    assert len(problems) == 4
    assert [p.line for p in problems] == [1, 27, 32, 45]
    assert "4 problem(s)" in str(PackageInvalid(problems))


def test_every_problem_in_a_bad_shipped_package_has_a_line() -> None:
    data = yaml.safe_load(shipped_package_text("performance-v3.yaml"))
    data["principles"][4]["criteria"][1]["number"] = "4.2"
    data["principles"][8]["criteria"][0]["applies_to"]["activities"] = ["mining"]
    del data["principles"][10]["criteria"][0]["title"]
    problems = problems_of(yaml.safe_dump(data, sort_keys=False))
    assert len(problems) == 3
    assert {p.path for p in problems} == {
        "principles[4].criteria[1].number", "principles[8].criteria[0].applies_to.activities",
        "principles[10].criteria[0].title"}
    assert all(p.line and p.line > 1 for p in problems)


def test_an_oversize_package_is_refused_before_parsing() -> None:
    problem = only_problem(MINI + "# " + "x" * MAX_PACKAGE_BYTES)
    assert str(MAX_PACKAGE_BYTES) in problem.message


def test_the_size_limit_counts_bytes_not_characters() -> None:
    text = MINI + "# " + "é" * (MAX_PACKAGE_BYTES // 2 + 10)
    assert len(text) < MAX_PACKAGE_BYTES < len(text.encode("utf-8"))
    problem = only_problem(text)
    assert str(MAX_PACKAGE_BYTES) in problem.message


def test_overlong_text_is_refused() -> None:
    problem = only_problem(edited('title: "Legal compliance"', f'title: "{"L" * 301}"'))
    assert problem.path == "principles[0].criteria[0].title"
    assert problem.line == 18
    assert "longer than 300" in problem.message


def test_package_to_data_is_the_import_format() -> None:
    data = package_to_data(parse_package(MINI))
    assert data["principles"][0]["criteria"][0]["applies_to"] == {
        "activities": "all", "member_classes": sorted(CERTIFYING)}
    assert data["principles"][1]["criteria"][0]["thresholds"] == [
        {"key": "ghg_max", "value": "8.0", "unit": "t CO2e/t Al",
         "applies_from": date(2025, 1, 1)}]
    assert parse_package(yaml.safe_dump(data)) == parse_package(MINI)


def test_a_missing_key_is_reported_once_not_also_as_malformed() -> None:
    problem = only_problem(edited('            value: "8.0"\n', ''))
    assert (problem.path, problem.message) == ("principles[1].criteria[0].thresholds[0].value",
                                               "is required")
    problem = only_problem(edited('        applies_to:\n          activities: all\n', ''))
    assert problem.path == "principles[0].criteria[0].applies_to"


def test_an_impossible_date_is_reported_not_crashed_on() -> None:
    problem = only_problem(edited("applies_from: 2025-01-01", "applies_from: 2025-02-29"))
    assert problem.path == "principles[1].criteria[0].thresholds[0].applies_from"
    assert problem.line == 47


def test_aliases_of_collections_are_refused_with_their_line() -> None:
    text = edited('          activities: [smelting, casthouse]',
                  '          activities: &acts [smelting, casthouse]')
    text = edited('          activities: [smelting]\n', '          activities: *acts\n', text)
    problem = only_problem(text)
    assert "aliases" in problem.message
    assert problem.line == 42


def test_aliases_of_single_values_are_fine() -> None:
    text = edited('    intent: "Be honest."', '    intent: &honest "Be honest."')
    text = edited('    group: environment', '    group: environment\n    intent: *honest', text)
    assert parse_package(text).principles[1].intent == "Be honest."


def test_a_dump_sharing_one_date_object_parses() -> None:
    data = yaml.safe_load(MINI)
    data["published_on"] = data["effective_on"] = date(2024, 3, 1)
    text = yaml.safe_dump(data, sort_keys=False)
    assert "*id" in text  # PyYAML writes the second use as an alias
    package = parse_package(text)
    assert package.published_on == package.effective_on == date(2024, 3, 1)


def test_alias_expansion_cannot_blow_up() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    problem = only_problem("\n".join(lines))  # would be 10^9 nodes if aliases expanded
    assert "aliases" in problem.message


NESTING_REFUSED = Problem("", 1, "lists and mappings nest more than 64 levels deep")


@pytest.mark.parametrize("depth", [65, 999, 1_000, 20_000])
def test_deep_flow_nesting_on_one_line_is_refused_with_the_platforms_reason(depth: int) -> None:
    # libyaml, whose nesting limit and wording vary with the release, reads a whole line
    # ahead: the package's own limit must still be the one reported.
    assert only_problem("principles: " + "[" * depth + "]" * depth) == NESTING_REFUSED


def test_deep_block_nesting_is_refused_at_the_line_that_goes_too_deep() -> None:
    text = "".join(f"{'  ' * i}level{i}:\n" for i in range(1_200)) + "  " * 1_200 + "end\n"
    # The root mapping is depth 0; the one opening on line 66 ("level65:") is depth 65.
    assert only_problem(text) == Problem("", 66, NESTING_REFUSED.message)


def test_nesting_at_the_limit_is_read() -> None:
    problems = problems_of("principles: " + "[" * 64 + "]" * 64)
    assert problems and all("levels deep" not in p.message for p in problems)
