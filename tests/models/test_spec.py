"""spec.py: the IOSpec a manifest records reads back as the same spec, and real-photo samples."""

from __future__ import annotations

import pytest
import torch

from pix2mobile.errors import ConfigError
from pix2mobile.models import MODELS
from pix2mobile.models.spec import IOSpec, TensorSpec


@pytest.mark.parametrize("key", ["fast_style/lite", "cyclegan/resnet_9blocks", "bicyclegan/unet_128", "morph/mlp"])
def test_io_json_round_trips(key):
    io = MODELS[key].io
    assert IOSpec.from_json(io.to_json((48, 64))) == (io, (48, 64) if any(
        t.kind == "image" for t in io.inputs + io.outputs) else (0, 0))


def test_from_json_refuses_what_it_cannot_read():
    with pytest.raises(ConfigError, match="layout 'NHWC'"):
        TensorSpec.from_json({"name": "x", "shape": [1, 8, 8, 3], "layout": "NHWC", "range": [0, 1]})
    with pytest.raises(ConfigError, match="io block is incomplete"):
        IOSpec.from_json({"inputs": [{"name": "x"}], "outputs": []})


def test_samples_take_photos_in_turn_and_seeded_latents():
    io = IOSpec((TensorSpec("a", range=(-1.0, 1.0)), TensorSpec("z", "latent", (-3.0, 3.0), dim=4),
                 TensorSpec("b", channels=1)), (TensorSpec("y"),))
    photos = torch.rand(6, 3, 8, 8)
    samples = io.samples_from_photos(photos, seed=3)
    assert len(samples) == 3                                   # two image inputs: two photos per sample
    eight_bit = torch.round(photos * 255) / 255
    torch.testing.assert_close(samples[1][0], eight_bit[2:3] * 2 - 1)
    torch.testing.assert_close(samples[1][2], eight_bit[3:4].mean(1, keepdim=True))
    assert samples[0][1].shape == (1, 4) and not torch.equal(samples[0][1], samples[1][1])
    again = io.samples_from_photos(photos, seed=3)
    assert all(torch.equal(x, y) for s, t in zip(samples, again) for x, y in zip(s, t))
