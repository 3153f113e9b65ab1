"""Calibration sets: real 8-bit images in the model's range, from a folder or the built-in photos."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pix2mobile.errors import ConfigError, DataError
from pix2mobile.models.spec import IOSpec, TensorSpec
from pix2mobile.convert.quantize.calibration import builtin_calibration, folder_calibration, load_calibration
from quant_nets import CYCLE_IO, SIZE


def test_builtin_samples_are_real_8bit_images_in_the_input_range():
    cal = builtin_calibration(CYCLE_IO, SIZE, 4)
    assert len(cal) == 4 and cal.size == (SIZE, SIZE) and "built-in photos" in cal.describe()
    (x,) = cal.samples[0]
    assert x.shape == (1, 3, SIZE, SIZE) and float(x.min()) >= -1 and float(x.max()) <= 1
    unit = ((x + 1) / 2 * 255).numpy()
    np.testing.assert_allclose(unit, np.round(unit), atol=1e-3)
    assert float(x.std()) > 0.05
    again = builtin_calibration(CYCLE_IO, SIZE, 4)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(cal.samples, again.samples))


def test_builtin_crops_differ_from_the_parity_gate_inputs():
    from pix2mobile.pipelines.export import parity_inputs

    gate = parity_inputs(CYCLE_IO, (SIZE, SIZE), n=2, seed=0)
    cal = builtin_calibration(CYCLE_IO, SIZE, 2)
    assert not any(torch.equal(g[0], c[0]) for g in gate for c in cal.samples)


def test_folder_spreads_the_count_over_the_images_and_keeps_latents_in_range(tmp_path):
    for i in range(5):
        Image.fromarray(np.full((40, 48, 3), 40 * i, np.uint8)).save(tmp_path / f"img{i}.png")
    io = IOSpec((TensorSpec("image", range=(0.0, 255.0)), TensorSpec("z", kind="latent", range=(-3.0, 3.0), dim=4)),
                (TensorSpec("out", range=(0.0, 255.0)),))
    cal = folder_calibration(tmp_path, io, (SIZE, 24), count=3)
    assert len(cal) == 3 and str(tmp_path) in cal.source
    image, z = cal.samples[0]
    assert image.shape == (1, 3, SIZE, 24) and z.shape == (1, 4) and float(z.abs().max()) <= 3
    assert sorted({float(s[0].mean()) for s in cal.samples}) == [0.0, 80.0, 160.0]   # first, middle, last
    assert len(folder_calibration(tmp_path, io, SIZE, count=50)) == 5     # fewer images than asked: all


def test_bad_requests_raise(tmp_path):
    with pytest.raises(ConfigError, match="count must be >= 1"):
        builtin_calibration(CYCLE_IO, SIZE, 0)
    with pytest.raises(DataError, match="no images"):
        folder_calibration(tmp_path, CYCLE_IO, SIZE)
    assert "built-in" in load_calibration(None, CYCLE_IO, SIZE, 1).source


def test_parity_photos_are_disjoint_from_calibration_and_training_photos(monkeypatch):
    """The split is explicit: the gate's photos are none of the 8 that training (builtin_dataset, the demo),
    sample_batch and calibration draw from, by name and by pixels; and calibration reads only those 8."""
    import hashlib

    from pix2mobile.data import builtin

    def digest(img):
        return hashlib.sha256(img.tobytes()).hexdigest()

    training = builtin.content_images()
    parity = builtin.parity_images()
    assert len(parity) >= 4 and len(training) == 8
    assert not {n for n, _ in parity} & {n for n, _ in training}
    assert not {digest(i) for _, i in parity} & {digest(i) for _, i in training}
    _, names = builtin.parity_batch(4, SIZE)
    assert names == [n for n, _ in parity]
    # calibration draws every crop from content_images(): swap those for flat colours and see only flat crops
    flat = [(f"flat{i}", Image.new("RGB", (64, 64), (30 * i, 20, 200))) for i in range(8)]
    monkeypatch.setattr(builtin, "content_images", lambda: flat)
    crops = builtin_calibration(CYCLE_IO, SIZE, 8)
    assert all(float(s[0].std(dim=(2, 3)).max()) < 1e-6 for s in crops.samples)
