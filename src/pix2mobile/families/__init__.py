"""The model families, one module each (see `family.py` for what a family is).

To add a family: write its nets (`models/<name>.py`, rows in `models.MODELS`) and its recipe
(`train/<name>.py`), then `families/<name>.py` with its `FAMILY` (and its desktop reference, if
it has one), one line below, and one row in `tests/models/test_families.py`.
"""

from __future__ import annotations

from pix2mobile.families import bicyclegan, cyclegan, fast_style, morph
from pix2mobile.families.family import Family, Recipe, Reference, ReferenceInputs

FAMILIES: dict[str, Family] = {f.name: f for f in (fast_style.FAMILY, cyclegan.FAMILY, bicyclegan.FAMILY,
                                                     morph.FAMILY)}

__all__ = ["FAMILIES", "Family", "Recipe", "Reference", "ReferenceInputs"]
