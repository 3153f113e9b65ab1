"""The model zoo: one literal registry row per generator variant, keyed "family/arch".

To add a variant: write its module (a plain `nn.Module` plus a `VariantSpec`), add one line to
`MODELS` and one to its family's `variants` (`pix2mobile/families/<family>.py`), and one test.
Names are looked up, never imported from strings; an unknown name raises `ConfigError` listing
the valid keys.
"""

from __future__ import annotations

from typing import Any

import torch

from pix2mobile.errors import ConfigError
from pix2mobile.models import bicyclegan, cyclegan, fast_style, morph
from pix2mobile.models.flops import count_macs, count_params, example_inputs
from pix2mobile.models.spec import IOSpec, TensorSpec, VariantSpec

MODELS: dict[str, VariantSpec] = {
    "fast_style/johnson": fast_style.JOHNSON,
    "fast_style/lite": fast_style.LITE,
    "cyclegan/resnet_9blocks": cyclegan.RESNET_9BLOCKS,
    "cyclegan/resnet_6blocks": cyclegan.RESNET_6BLOCKS,
    "cyclegan/vgg_unet": cyclegan.VGG_UNET,
    "bicyclegan/unet_128": bicyclegan.UNET_128,
    "bicyclegan/unet_256": bicyclegan.UNET_256,
    "morph/mlp": morph.MLP,
}


def list_variants() -> list[str]:
    return sorted(MODELS)


def get_variant(family: str, arch: str) -> VariantSpec:
    key = f"{family}/{arch}"
    if key not in MODELS:
        raise ConfigError(f"unknown model '{key}': choose one of {', '.join(list_variants())}")
    return MODELS[key]


def model_cost(spec: VariantSpec, size: tuple[int, int] = (256, 256), **options: Any) -> dict[str, int]:
    """Parameters and MACs of the exportable module at `size` (H, W), built with `options`.

    Counted on the meta device: shapes only, no memory for activations, so `info --size 8192
    8192` costs what 256 x 256 does (real tensors at that size need tens of gigabytes).
    """
    generator = spec.create(**options).to("meta")
    with torch.device("meta"):
        module = spec.exportable(generator, size).eval()
        inputs = example_inputs(spec.io, size)
    return {"params": count_params(module), "macs": count_macs(module, inputs)}


__all__ = ["MODELS", "IOSpec", "TensorSpec", "VariantSpec", "get_variant", "list_variants", "model_cost"]
