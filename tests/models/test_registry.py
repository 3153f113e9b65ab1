"""The registry (models/__init__.py) and cost counting (models/flops.py): every row builds,
runs at its smallest size and states its I/O truthfully."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pix2mobile.errors import ConfigError
from pix2mobile.models import MODELS, get_variant, list_variants, model_cost
from pix2mobile.models.flops import count_macs, example_inputs

# Smallest options per row so the whole table runs in a second or two on one CPU thread.
TINY = {
    "fast_style/johnson": {},
    "fast_style/lite": {},
    "cyclegan/resnet_9blocks": {"ngf": 8},
    "cyclegan/resnet_6blocks": {"ngf": 8},
    "cyclegan/vgg_unet": {"vgg_weights": "random", "ngf": 8},
    "bicyclegan/unet_128": {"ngf": 8},
    "bicyclegan/unet_256": {"ngf": 8},
    "morph/mlp": {},
}


def test_keys_are_family_slash_arch_and_all_covered():
    assert all(key == spec.key for key, spec in MODELS.items())
    assert list_variants() == sorted(MODELS) == sorted(TINY)


def test_get_variant():
    assert get_variant("fast_style", "johnson") is MODELS["fast_style/johnson"]
    with pytest.raises(ConfigError, match="fast_style/johnson") as info:
        get_variant("fast_style", "jonson")
    assert "fast_style/jonson" in str(info.value) and "morph/mlp" in str(info.value)


@pytest.mark.parametrize("key", sorted(MODELS))
def test_forward_at_smallest_size(key):
    spec = MODELS[key]
    size = (spec.min_size, spec.min_size)
    assert spec.min_size % spec.size_multiple == 0
    module = spec.exportable(spec.create(**TINY[key]), size).eval()
    inputs = example_inputs(spec.io, size, batch=2)
    with torch.no_grad():
        out = module(*inputs)
    out_spec = spec.io.outputs[0]
    assert out.shape == out_spec.shape(size, batch=2) and torch.isfinite(out).all()
    lo, hi = out_spec.range
    if spec.family != "fast_style":   # tanh/sigmoid outputs; TransformerNet's is unclamped like the original
        assert lo <= out.min() and out.max() <= hi


def test_declared_ranges():
    ranges = {key: (spec.io.inputs[0].range, spec.io.outputs[0].range) for key, spec in MODELS.items()}
    for key, (rin, rout) in ranges.items():
        family = key.split("/")[0]
        expected = {"fast_style": (0.0, 255.0), "cyclegan": (-1.0, 1.0), "bicyclegan": (-1.0, 1.0),
                    "morph": (0.0, 1.0)}[family]
        assert rin == expected and rout == expected, key


def test_example_inputs_respect_ranges():
    for spec in MODELS.values():
        for t, x in zip(spec.io.inputs, example_inputs(spec.io, (8, 8))):
            assert x.shape == t.shape((8, 8))
            if t.kind != "latent":
                assert t.range[0] <= x.min() and x.max() <= t.range[1]


def test_count_macs_of_a_known_conv():
    conv = nn.Conv2d(4, 8, 3, padding=1)
    assert count_macs(conv, (torch.zeros(1, 4, 10, 10),)) == 4 * 8 * 9 * 100


def test_model_cost_takes_options():
    small = model_cost(MODELS["cyclegan/resnet_6blocks"], (32, 32), ngf=8)
    big = model_cost(MODELS["cyclegan/resnet_6blocks"], (32, 32), ngf=16)
    assert 3 * small["macs"] < big["macs"] and 3 * small["params"] < big["params"]
    assert set(small) == {"params", "macs"} and all(isinstance(v, int) for v in small.values())
