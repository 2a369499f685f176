"""The lock that `make` installs from: every requirement of pyproject.toml and
requirements/build.in pinned there, at a version its bounds allow, with the hashes pip
checks. A requirement added or tightened without `make lock` fails here, not on the next
fresh machine."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.txt"


def _locked() -> dict[str, list[tuple[Version, list[str]]]]:
    """Each package of the lock with its pinned versions (a universal lock may pin one per
    Python version or platform) and the hashes of each."""
    entries: list[str] = []
    for line in LOCK.read_text("utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if line[0].isspace() and entries:
            entries[-1] += " " + text
        else:
            entries.append(text)
    pins: dict[str, list[tuple[Version, list[str]]]] = defaultdict(list)
    for entry in entries:
        words = entry.replace("\\", " ").split()
        hashes = [w.removeprefix("--hash=") for w in words if w.startswith("--hash=")]
        requirement = Requirement(" ".join(w for w in words if not w.startswith("--hash=")))
        (spec,) = requirement.specifier
        assert spec.operator == "==", entry
        pins[canonicalize_name(requirement.name)].append((Version(spec.version), hashes))
    return pins


def _required() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    build = (ROOT / "requirements" / "build.in").read_text("utf-8").splitlines()
    lines += [line for line in build if line.strip() and not line.startswith("#")]
    return [Requirement(line) for line in lines]


def test_every_requirement_is_pinned_within_its_bounds() -> None:
    pins = _locked()
    for requirement in _required():
        versions = [version for version, _ in pins.get(canonicalize_name(requirement.name), [])]
        assert versions, f"{requirement.name} is not in {LOCK.name}: run `make lock`"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{requirement.name} {version} is outside {requirement.specifier}: "
                "run `make lock`")


def test_every_pin_carries_sha256_hashes() -> None:
    pins = _locked()
    assert len(pins) > len(_required())  # the dependencies' own dependencies are pinned too
    for name, versions in pins.items():
        for version, hashes in versions:
            assert hashes, f"{name} {version} has no hash"
            assert all(h.startswith("sha256:") and len(h) == 7 + 64 for h in hashes), name
