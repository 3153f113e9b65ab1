"""The family registry (pix2mobile.families): one row per family says what it owns. A new family
is one module in pix2mobile/families/ and one row here."""

from __future__ import annotations

import pytest

from pix2mobile.commands.train import RECIPES
from pix2mobile.families import FAMILIES
from pix2mobile.families.family import Family
from pix2mobile.models import MODELS
from pix2mobile.train.config import TrainConfig

# family: (its models.MODELS keys, its `pix2mobile train` subcommand, its reference's name, its plot)
TABLE = {
    "fast_style": ({"fast_style/johnson", "fast_style/lite"}, "fast-style", "nst", "nst_vs_fast_style"),
    "cyclegan": ({"cyclegan/resnet_9blocks", "cyclegan/resnet_6blocks", "cyclegan/vgg_unet"}, "cyclegan",
                 None, None),
    "bicyclegan": ({"bicyclegan/unet_128", "bicyclegan/unet_256"}, "bicyclegan", "diversity", "diversity_strip"),
    "morph": ({"morph/mlp"}, "morph", "morph", "morph_strip"),
}


def test_every_family_has_a_row():
    assert sorted(FAMILIES) == sorted(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE))
def test_family_declares_its_variants_recipe_and_reference(name):
    variants, recipe, reference, plot = TABLE[name]
    family = FAMILIES[name]
    assert family.name == name
    assert {v.key for v in family.variants} == variants
    assert all(MODELS[v.key] is v for v in family.variants)
    assert family.recipe.name == recipe and RECIPES[recipe] is family.recipe
    assert issubclass(family.recipe.config, TrainConfig) and callable(family.recipe.train)
    assert (family.reference.name if family.reference else None) == reference
    assert (family.reference.plot_name if family.reference else None) == plot


def test_every_registry_variant_belongs_to_exactly_one_family():
    owners = {key: [f.name for f in FAMILIES.values() if key in {v.key for v in f.variants}] for key in MODELS}
    assert owners == {key: [key.split("/")[0]] for key in MODELS}


def test_recipe_and_reference_names_are_unique():
    assert len(RECIPES) == len(FAMILIES)
    names = [f.reference.name for f in FAMILIES.values() if f.reference]
    assert len(names) == len(set(names))


def test_a_family_refuses_another_familys_variant():
    recipe = FAMILIES["morph"].recipe
    with pytest.raises(ValueError, match="fast_style/lite"):
        Family("morph", (MODELS["morph/mlp"], MODELS["fast_style/lite"]), recipe)
