"""The smelter threshold as the standard version carries it, and each inventory's check
against it (pure arithmetic in ``carbon.rules``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from stewardship.carbon import rules
from stewardship.carbon.models import CarbonInventory
from stewardship.carbon.rules import SmelterThresholds
from stewardship.carbon.schemas import ThresholdRead
from stewardship.core.errors import NotFound
from stewardship.core.labels import label
from stewardship.standards.service import library

STANDARD = "performance"
CRITERION = "5.2"
NEW_KEY = "smelter_ghg_intensity_new_max"
EXISTING_KEY = "smelter_ghg_intensity_existing_max"


CRADLE_TO_GATE = "cradle_to_gate"
SCOPE12 = "scope12"


@dataclass(frozen=True)
class Limits:
    thresholds: SmelterThresholds
    criterion: str
    """``Performance Standard (illustrative) v2, criterion 5.2``: where the limits come
    from."""
    basis: str
    """What the limits count: ``scope12`` (Scope 1 and 2 of smelting, per t Al: version 2)
    or ``cradle_to_gate`` (with the upstream Scope 3 categories 1, 3 and 4: version 3)."""


def basis_of(description: str) -> str:
    """A threshold's basis, as its description in the standard version states it: the
    package format has no typed field for it, and version 3 moved the limit to
    cradle-to-gate saying so in every threshold's description."""
    text = description.lower().replace("-", " ")
    return CRADLE_TO_GATE if "cradle to gate" in text else SCOPE12


def smelter_limits(db: Session) -> Limits | None:
    """The limits of the latest loaded version of the Performance standard's smelter
    criterion; None where no such version, criterion or thresholds are loaded."""
    try:
        version = library.load_version(db, STANDARD)
        criterion = library.get_criterion(db, STANDARD, version.version, CRITERION)
    except NotFound:
        return None
    found = {t.key: t for t in criterion.thresholds}
    new, existing = found.get(NEW_KEY), found.get(EXISTING_KEY)
    if new is None or existing is None or new.applies_from is None \
            or existing.applies_from is None:
        return None
    return Limits(SmelterThresholds(new_max=Decimal(new.value), new_from=new.applies_from,
                                    existing_max=Decimal(existing.value),
                                    existing_by=existing.applies_from),
                  f"{version.title} v{version.version}, criterion {CRITERION}",
                  basis_of(new.description))


def smelting_intensity(inv: CarbonInventory, basis: str = SCOPE12) -> Decimal | None:
    """Smelting's intensity, t CO2e per t Al, on the limits' basis: Scope 1+2 allocated to
    smelting, plus (cradle to gate) the upstream Scope 3 per t where any is recorded; None
    without smelting."""
    outputs = {p.process: p.output_kg for p in inv.processes}
    if rules.SMELTING not in outputs:
        return None
    own = inv.scope1_t + inv.pfc_t + rules.scope2_t(inv.electricity_mwh,
                                                     inv.electricity_factor_t_per_mwh)
    upstream = inv.scope3_cat1_t + inv.scope3_cat3_t + inv.scope3_cat4_t
    stage = next(s for s in rules.stage_intensities(
        own, upstream, outputs, inv.allocation,
        {p.process: p.declared_t for p in inv.processes}) if s.process == rules.SMELTING)
    if basis == CRADLE_TO_GATE and stage.cradle_to_gate is not None:
        return stage.cradle_to_gate
    return stage.scope12


def _summary(check: rules.ThresholdCheck, intensity: Decimal, year: int | None,
             basis: str, upstream: bool) -> str:
    limit = f"{check.limit.normalize():f}"
    shown = f"{intensity.normalize():f}"
    if check.new_smelter:
        who = (f"commissioned in {year}" if year is not None
               else "commissioning year not recorded, so checked as a new smelter")
        head = f"{shown} t CO2e/t Al against the limit of {limit} ({who})"
    else:
        head = (f"{shown} t CO2e/t Al; commissioned in {year}, so the limit of {limit} "
                "applies by 2030")
    if basis == CRADLE_TO_GATE:
        head += (", cradle to gate" if upstream
                 else ", Scope 1+2 only: no upstream Scope 3 is recorded")
    if check.status is rules.ThresholdStatus.MEETS:
        return f"{head}: at or below the limit."
    if check.status is rules.ThresholdStatus.ON_PATH:
        return (f"{head}: above the limit, on its path (at most "
                f"{check.allowed.normalize():f} for this period).")
    if check.status is rules.ThresholdStatus.OFF_PATH:
        return (f"{head}: off its path to the limit (at most {check.allowed.normalize():f} "
                "for this period).")
    return f"{head}: above the limit."


def check(inv: CarbonInventory, limits: Limits | None,
          first: CarbonInventory | None) -> ThresholdRead | None:
    """The inventory's smelter check (``first``: the earliest inventory with smelting of
    the same series, where an older smelter's path starts); None without smelting or
    without limits loaded."""
    if limits is None:
        return None
    intensity = smelting_intensity(inv, limits.basis)
    if intensity is None:
        return None
    baseline: tuple[Decimal, date] | None = None
    if first is not None:
        first_intensity = smelting_intensity(first, limits.basis)
        if first_intensity is not None:
            baseline = (first_intensity, first.period_end)
    upstream = inv.scope3_cat1_t + inv.scope3_cat3_t + inv.scope3_cat4_t
    result = rules.check_smelter(intensity, inv.commissioned_year, limits.thresholds,
                                 inv.period_end, baseline)
    return ThresholdRead(status=result.status, status_label=label(result.status),
                         flagged=result.flagged, intensity_t_per_t=intensity,
                         limit_t_per_t=result.limit, allowed_t_per_t=result.allowed,
                         due_on=result.due_on, new_smelter=result.new_smelter,
                         commissioned_year=inv.commissioned_year, criterion=limits.criterion,
                         basis=limits.basis, basis_label=label(limits.basis),
                         summary=_summary(result, intensity, inv.commissioned_year,
                                          limits.basis, upstream > 0))
