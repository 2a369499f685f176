"""CN codes (the EU's Combined Nomenclature, chapters 26, 28 and 76) of what the chain of
custody carries, in one place: CoC documents' materials and descriptions (for PACT's
product classification and for CBAM's precursors) and the goods each custody process
makes (for CBAM's goods of an installation). Pure.
"""

from __future__ import annotations

import re

MATERIAL_CN = {"asi_bauxite": "2606", "asi_alumina": "281820", "asi_aluminium": "7601",
               "eligible_scrap": "7602"}
# Unwrought forms (7601) named in a description: these win over product words ("sheet
# ingot", "extrusion billet" are unwrought metal for a rolling mill or an extruder).
UNWROUGHT = frozenset({"ingot", "ingots", "billet", "billets", "slab", "slabs", "sow", "sows",
                       "tbar", "pig", "pigs", "unwrought", "remelt", "primary"})
# Products of aluminium named in a document's description, by CN heading.
PRODUCT_CN = (
    ("7607", ("foil",)),
    ("7612", ("can", "cans", "canstock", "can body", "container")),
    ("7608", ("tube", "tubes", "pipe", "pipes")),
    ("7605", ("wire",)),
    ("7604", ("extrusion", "extrusions", "extruded", "profile", "profiles", "bar", "bars",
              "rod", "rods")),
    ("7606", ("coil", "coils", "sheet", "sheets", "plate", "plates", "strip", "strips",
              "rolled")),
    ("7603", ("powder", "flakes")),
)

UNWROUGHT_CN = "7601"
SCRAP_CN = "7602"
# The aluminium goods CBAM covers: unwrought aluminium and the products of 7603 to 7616
# (7602, waste and scrap, is outside it and carries no embedded emissions as an input).
CBAM_ALUMINIUM = frozenset({UNWROUGHT_CN, *(str(h) for h in range(7603, 7617))})
CN_NAMES = {
    "7601": "Unwrought aluminium", "7602": "Aluminium waste and scrap",
    "7603": "Aluminium powders and flakes", "7604": "Aluminium bars, rods and profiles",
    "7605": "Aluminium wire", "7606": "Aluminium plates, sheets and strip",
    "7607": "Aluminium foil", "7608": "Aluminium tubes and pipes",
    "7609": "Aluminium tube or pipe fittings", "7610": "Aluminium structures",
    "7611": "Aluminium reservoirs, tanks, vats", "7612": "Aluminium casks, drums, cans, boxes",
    "7613": "Aluminium containers for compressed gas", "7614": "Stranded aluminium wire",
    "7615": "Aluminium table, kitchen, household articles", "7616": "Other aluminium articles",
}
PROCESS_CN = {"smelting": "7601", "remelting": "7601", "casting": "7601",
              "rolling": "7606", "extrusion": "7604", "conversion": "7616"}
"""The CN heading of what each custody process makes (mining and refining make bauxite and
alumina, which CBAM's aluminium sector does not cover). A converter's goods are read as
7616 (other articles) unless the inventory's documents name them otherwise."""


def cn_code(material: str, description: str) -> str:
    """The CN heading: the material's; for CoC aluminium, the product's when the issuer's
    description names one (``5182 coil, 1.2 mm`` is 7606, rolled products)."""
    if material != "asi_aluminium":
        return MATERIAL_CN.get(material, "76")
    words = set(re.findall(r"[a-z]+", description.lower().replace("t-bar", "tbar")))
    text = " ".join(re.findall(r"[a-z]+", description.lower()))
    if words & UNWROUGHT:
        return MATERIAL_CN["asi_aluminium"]
    for code, names in PRODUCT_CN:
        if any((name in words) if " " not in name else (name in text) for name in names):
            return code
    return MATERIAL_CN["asi_aluminium"]


def cbam_code(text: str) -> str:
    """A CN code as typed (``7606``, ``7606 12``, ``76061291``) as the four-digit heading
    CBAM's aluminium goods are listed by; ValueError naming it when it is none of them."""
    digits = re.sub(r"[\s.]", "", text)
    if not digits.isdigit() or len(digits) not in (4, 6, 8) or digits[:4] not in CBAM_ALUMINIUM:
        raise ValueError(f"{text!r} is not a CN code of CBAM's aluminium goods (7601, "
                         "7603 to 7616)")
    return digits[:4]
