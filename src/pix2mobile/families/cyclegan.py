"""CycleGAN (junyanz): unpaired translation between two image folders, ResNet or VGG-U-Net
generators. It has no desktop reference: no slower desktop method produces the same image to
compare with, so its benchmark is parity and speed only.
"""

from __future__ import annotations

from pix2mobile.families.family import Family, Recipe
from pix2mobile.models import cyclegan as nets
from pix2mobile.train import cyclegan as recipe

FAMILY = Family(
    name="cyclegan",
    variants=(nets.RESNET_9BLOCKS, nets.RESNET_6BLOCKS, nets.VGG_UNET),
    recipe=Recipe("cyclegan", "unpaired translation between two image folders",
                  recipe.CycleGANConfig, recipe.train, recipe.__doc__ or ""),
)
