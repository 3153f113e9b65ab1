"""parity.py: PSNR, our own Gaussian SSIM (checked against scikit-image), and the small-range rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from pix2mobile.data.builtin import sample_batch
from pix2mobile.runtimes.parity import PSNR_CAP_DB, compare, psnr, ssim
from pix2mobile.models.spec import TensorSpec

IMG = TensorSpec("out", range=(0.0, 1.0))
STYLE = TensorSpec("stylized", range=(0.0, 255.0))


def _photo(seed=0, size=48):
    return sample_batch(1, size, seed=seed).numpy().astype(np.float64)


def test_psnr_known_values():
    a = np.zeros((1, 3, 8, 8))
    assert psnr(a, a + 0.1) == pytest.approx(20.0)
    assert psnr(a, a + 0.01) == pytest.approx(40.0)
    assert psnr(a, a + 0.1, data_range=0.1) == pytest.approx(0.0, abs=1e-9)
    assert psnr(a, a) == PSNR_CAP_DB


@pytest.mark.parametrize("noise", [0.0, 0.01, 0.05, 0.2])
def test_ssim_matches_scikit_image(noise):
    ref = _photo()
    rng = np.random.default_rng(0)
    cand = np.clip(ref + noise * rng.standard_normal(ref.shape), 0, 1)
    expected = structural_similarity(ref[0], cand[0], data_range=1.0, channel_axis=0, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert ssim(ref, cand, 1.0) == pytest.approx(expected, abs=1e-6)


def test_ssim_falls_with_structure_loss():
    ref = _photo(1)
    blurred = (ref + np.roll(ref, 1, -1) + np.roll(ref, -1, -1) + np.roll(ref, 1, -2) + np.roll(ref, -1, -2)) / 5
    assert ssim(ref, ref) == pytest.approx(1.0)
    assert ssim(ref, blurred) < 0.95
    assert ssim(ref, np.full_like(ref, ref.mean())) < 0.2


def test_small_range_rule_measures_against_peak_to_peak():
    """A random-init johnson spans ~-1.5..2.7 of 0..255: an all-zero artifact must not pass 45 dB."""
    from pix2mobile.models import get_variant

    torch.manual_seed(0)
    johnson = get_variant("fast_style", "johnson")
    model = johnson.create().eval()
    with torch.no_grad():
        ref = model(torch.round(sample_batch(2, 32, seed=0) * 255)).numpy()
    assert np.ptp(ref) / 255 < 0.05
    zeros = np.zeros_like(ref)
    assert psnr(np.clip(ref / 255, 0, 1), zeros, 1.0) > 50, "on the full range the broken artifact would pass"
    res = compare([ref], [zeros], johnson.io.outputs, threshold_db=45.0)
    assert res.scale == "peak_to_peak" and not res.passed and res.psnr_db < 20
    assert res.max_abs_err == pytest.approx(float(np.clip(ref, 0, None).max()) / 255, rel=1e-5)
    good = compare([ref], [ref + 1e-4], johnson.io.outputs, threshold_db=45.0)
    assert good.scale == "peak_to_peak" and good.passed


def test_full_range_outputs_use_range_scale_and_worst_output_decides():
    ref = _photo(2).astype(np.float32)
    small_err = ref + 1e-3
    big_err = np.clip(ref + 0.05, 0, 1)
    res = compare([ref, ref], [small_err, big_err], [IMG, TensorSpec("b")], threshold_db=45.0)
    assert res.scale == "range" and res.samples == 1
    assert res.psnr_db == pytest.approx(psnr(ref, big_err), abs=1e-6) and not res.passed
    assert "PSNR" in res.describe() and "threshold 45 dB" in res.describe()


def test_non_finite_artifact_output_fails():
    ref = _photo(3).astype(np.float32)
    bad = ref.copy()
    bad[0, 0, 0, 0] = np.nan
    res = compare([ref], [bad], [IMG], threshold_db=45.0)
    assert not res.passed and res.ssim is None


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        compare([np.zeros((1, 3, 8, 8))], [np.zeros((1, 8, 8, 3))], [IMG], 45.0)


def test_lightly_trained_outputs_are_image_like():
    from export_nets import STYLE_IO, StyleLike
    from pix2mobile.train.warmup import lightly_train

    torch.manual_seed(0)
    model = StyleLike()
    x = torch.round(sample_batch(2, 32, seed=5) * 255)
    with torch.no_grad():
        before = model(x).numpy()
    lightly_train(model, STYLE_IO, 32, steps=100)
    with torch.no_grad():
        after = model(x).numpy()
    assert np.ptp(after) / 255 > 0.5, "trained outputs span most of the range"
    assert np.abs(after / 255 - x.numpy() / 255).mean() < np.abs(before / 255 - x.numpy() / 255).mean()


def test_one_bad_image_among_four_fails_although_the_pooled_psnr_passes():
    """The gate judges the worst image: three perfect images used to lift a 42 dB one over 45 dB."""
    ref = np.concatenate([_photo(seed, 32) for seed in range(4)]).astype(np.float32) * 0.8 + 0.1
    cand = ref.copy()
    cand[3] += 0.008                                     # ~41.9 dB on image 3 only
    pooled = psnr(ref, cand)
    assert pooled >= 45.0, "the old pooled gate passed this artifact"
    res = compare([ref], [cand], [IMG], threshold_db=45.0)
    assert not res.passed and res.worst_image == 3 and res.samples == 4
    assert res.psnr_db == pytest.approx(psnr(ref[3:], cand[3:]), abs=1e-6) and res.psnr_db < 42.5
    assert res.image_psnr_db[:3] == (PSNR_CAP_DB,) * 3
    assert res.mean_psnr_db == pytest.approx(np.mean(res.image_psnr_db))
    assert "worst image PSNR" in res.describe() and "image 3 of 4" in res.describe()
