"""Export-time graph rewrites: equivalent modules that converters accept.

A rewrite never touches the trained model: it deep-copies it and swaps submodules in the copy.
Each rewrite returns the copy plus notes for the manifest.

`padding_free_conv_transpose`: litert-torch 0.10 fails on `ConvTranspose2d(output_padding=1)`
(CycleGAN and BicycleGAN up-sampling) with "failed to legalize operation 'mhlo.convolution'
that was explicitly marked illegal". A transposed convolution without padding computes the
full output; cropping `padding` from the start and `padding - output_padding` from the end
gives exactly the original (zeros added on the far side plus the bias when output_padding
exceeds padding, which never happens in our families but is handled).

`expand_as_resize`: BicycleGAN broadcasts z (N, nz) over each level's grid with
`z[:, :, None, None].expand(...)`. litert-torch 0.10 lowers those expands to BROADCAST_TO ops
that share one (N, nz, 1, 1) reshape, and its layout optimisation then broadcasts that NCHW
reshape onto an NHWC shape: the file converts but the interpreter refuses it ("Output shape
must be broadcastable from input shape ... (BROADCAST_TO) failed to prepare"). Expanding a
1x1 map is exactly a nearest-neighbour resize, which TFLite runs natively in NHWC; the rewrite
exports the module with `torch.export` and swaps those expand nodes in the graph.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence, cast

import torch
import torch.nn.functional as F
from torch import nn


class PaddingFreeConvTranspose2d(nn.Module):
    """`ConvTranspose2d(padding=p, output_padding=op)` as an unpadded transposed conv plus a slice."""

    def __init__(self, original: nn.ConvTranspose2d):
        super().__init__()
        if original.padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d with padding_mode={original.padding_mode!r} cannot be rewritten")
        self.padding = tuple(int(p) for p in original.padding)
        self.output_padding = tuple(int(p) for p in original.output_padding)
        # The bias can stay inside the conv unless output_padding reaches past the full output.
        self.bias_after = original.bias is not None and any(
            op > p for op, p in zip(self.output_padding, self.padding))
        # ConvTranspose2d stores kernel_size, stride and dilation as pairs; torch types them tuple[int, ...]
        pair = tuple[int, int]
        self.conv = nn.ConvTranspose2d(
            original.in_channels, original.out_channels, cast(pair, original.kernel_size),
            stride=cast(pair, original.stride), padding=0, output_padding=0, groups=original.groups,
            bias=original.bias is not None and not self.bias_after, dilation=cast(pair, original.dilation),
            device=original.weight.device, dtype=original.weight.dtype)
        bias = original.bias
        with torch.no_grad():
            self.conv.weight.copy_(original.weight)
            if self.conv.bias is not None and bias is not None:     # the conv has a bias only if the original does
                self.conv.bias.copy_(bias)
        if self.bias_after and bias is not None:                    # bias_after implies a bias
            self.bias = nn.Parameter(bias.detach().clone())
        else:
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        (ph, pw), (oh, ow) = self.padding, self.output_padding
        h, w = y.shape[-2], y.shape[-1]
        y = y[..., ph:h - ph + min(oh, ph), pw:w - pw + min(ow, pw)]
        extra_h, extra_w = max(oh - ph, 0), max(ow - pw, 0)
        if extra_h or extra_w:
            y = F.pad(y, (0, extra_w, 0, extra_h))
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y


def padding_free_conv_transpose(module: nn.Module) -> tuple[nn.Module, list[str]]:
    """A deep copy of `module` with every ConvTranspose2d that has output_padding rewritten."""
    out = copy.deepcopy(module)
    replaced = []
    for parent_name, parent in list(out.named_modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ConvTranspose2d) and any(child.output_padding):
                setattr(parent, name, PaddingFreeConvTranspose2d(child))
                replaced.append(f"{parent_name}.{name}" if parent_name else name)
    notes = []
    if replaced:
        notes.append(f"rewrite: {len(replaced)} ConvTranspose2d with output_padding replaced by an unpadded "
                     f"transposed conv plus a slice ({', '.join(replaced[:4])}{', ...' if len(replaced) > 4 else ''})")
    return out, notes


def expand_as_resize(module: nn.Module, args: Sequence[torch.Tensor] = (),
                     kwargs: Mapping[str, torch.Tensor] | None = None) -> tuple[nn.Module, list[str]]:
    """`module` with every expand of an (N, C, 1, 1) map onto (N, C, H, W) turned into a nearest resize.

    Returns the module itself (and no notes) when it has no such expand; otherwise the
    `torch.export`-ed graph module (eval mode, traced with `args`/`kwargs`) with the nodes swapped.
    """
    aten = torch.ops.aten
    with torch.no_grad():
        program = torch.export.export(module, tuple(args), kwargs=dict(kwargs or {}))
    graph_module: Any = program.module()
    graph = graph_module.graph
    replaced = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target != aten.expand.default:
            continue
        src, out = node.args[0].meta.get("val"), node.meta.get("val")
        if src is None or out is None or src.dim() != 4 or out.dim() != 4:
            continue
        if tuple(src.shape[2:]) != (1, 1) or tuple(src.shape[:2]) != tuple(out.shape[:2]) \
                or tuple(out.shape[2:]) == (1, 1):
            continue
        with graph.inserting_before(node):
            resize = graph.call_function(aten.upsample_nearest2d.vec,
                                         (node.args[0], [int(out.shape[2]), int(out.shape[3])], None))
        resize.meta = dict(node.meta)
        node.replace_all_uses_with(resize)
        graph.erase_node(node)
        replaced += 1
    if not replaced:
        return module, []
    graph.lint()
    graph_module.recompile()
    for sub in graph_module.modules():   # exported modules refuse .eval(); the graph is eval already
        sub.training = False
    return graph_module, [f"rewrite: {replaced} expand(s) of an (N, C, 1, 1) map replaced by a nearest resize"]
