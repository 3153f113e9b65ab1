"""Export-time rewrites that keep a generator inside the phone runtimes' fast paths, exactly.

The trained model is never changed: `mobile_graph` deep-copies it, swaps submodules in the copy
and (for the upsampling rewrite) edits the `torch.export` graph. Each rewrite computes the same
function: the padding and upsampling rewrites move the same floats (bit-equal), the InstanceNorm
rewrite is the same formula with the reductions written out (float round-off, ~1e-6 relative).
Each format's exporter picks the rewrites that measurably help it (`MobilePlan`); the facts:

Reflection padding. ExecuTorch 1.5 lowers `ReflectionPad2d` to aten abs/sub/arange/index, none of
which XNNPACK takes: a fast_style/lite .pte made 192 portable-kernel calls and 31 delegate
segments out of it. litert-torch 0.10 writes TFLite's MIRROR_PAD, which the TFLite XNNPACK
delegate does not take either: each pad splits the delegate (lite at 256x256: 82 ms with the
other rewrites, 31 ms with this one). `SliceReflectionPad2d` builds the border from one-row and
one-column slices concatenated around the input (SLICE + CONCATENATION; XNNPACK's static slice
and concatenate), the same values in the same places.

InstanceNorm. ExecuTorch lowers it to `_native_batch_norm_legit` plus repeats (portable
kernels); litert-torch computes MEAN over NCHW's spatial axes and wraps each in layout
TRANSPOSEs (30 in a lite .tflite). `ExplicitInstanceNorm2d` writes it out: m = mean over H, W
(keepdim: XNNPACK's global average pooling, TFLite MEAN on NHWC), d = x - m, v = mean(d * d),
y = d * rsqrt(v + eps) (* weight + bias). It subtracts the mean before squaring, and for fp16
compute (Core ML fp16 programs; LiteRT's GPU delegate) it scales d by 2^-k first (`shift`):
y = (d 2^-k) * rsqrt(mean((d 2^-k)^2) + eps 4^-k), the same number in exact arithmetic, and
in floating point too, since a power of two only moves the exponent. An fp16 square overflows
above |d| = 255.9; `fp16_shifts` picks, per layer, the smallest k that keeps the largest |d|
seen on the export's sample photo times `FP16_HEADROOM` below 256, and never more than
`MAX_SHIFT` so that eps 4^-k (1.5e-7 at k = 3 for eps = 1e-5) stays a non-zero fp16 value (a
constant channel then normalises to 0, not NaN). The bound is measured, not proven: a layer
whose headroom falls short is named in the notes.

Nearest x2 upsampling. XNNPACK has no nearest resize: ExecuTorch leaves `upsample_nearest2d` on a
portable kernel (2 calls, 2 more delegate segments in lite). `nearest_as_concat` replaces it in
the exported graph by reshapes and concatenations of copies (`(N, C*H, W, 1)` twice side by
side, then rows twice), all 4-D, which XNNPACK takes. Each concatenation gets two distinct
reshape nodes: XNNPACK's partitioner counts distinct input nodes and refuses a `cat([v, v])`
("only support concatenation of > 2 tensors"). TFLite keeps RESIZE_NEAREST_NEIGHBOR (XNNPACK
and the GPU delegate run it; the reshapes would add 4 TRANSPOSEs in NHWC).

Upsampling convolutions. fast_style/johnson's `UpsampleConvLayer` is nearest x2, reflection pad 1,
3x3 conv: 9 taps on 4x the pixels. Every output pixel of one parity (row and column even/odd)
reads the same 2x2 input pixels, so the layer is a stride-2 transposed conv with a 4x4 kernel
(rows [k2, k1+k2, k0+k1, k0], the same for columns) over the input replicate-padded by one
(the reflected border of the upsampled image is the input's edge row again): 16 taps per input
pixel instead of 36, cropped by 3 at each side. XNNPACK computes a stride-2 transposed conv as
four sub-convolutions; TFLite's GPU delegate takes TRANSPOSE_CONV. Measured on johnson at
256x256 (2 threads, .tflite): 16.2 -> about 11 ms and 17.7 -> about 12 ms for the two layers.
`TransposedUpsampleConv`; the weights are summed taps (float round-off).

Narrow output convolutions. A stride-1 conv to 3 channels (johnson's and lite's last 9x9, the
CycleGAN ResNet's last 7x7) fills 3 of XNNPACK's 8- or 16-wide output-channel tiles: johnson's
took 28 ms at 256x256 for 0.5 GMAC (the 128-channel residual convs run 5x faster per MAC).
`PhaseConv2d` computes the four output parities as one stride-2 conv with 4 x 3 outputs and a
(k+1)x(k+1) kernel (the original kernel placed at each parity's offset, zeros elsewhere), then
interleaves them with a stride-2 transposed conv whose 2x2 kernels are one-hot: 14 ms. The
products are the original ones plus products with zero, summed in another order (float
round-off); the interleave multiplies by 1 and adds zeros (exact). An interleave written as reshapes or
pixel_shuffle costs TFLite layout TRANSPOSEs (litert-torch keeps reshapes NCHW); the transposed
conv stays NHWC. Only kernels >= 5 (the zero taps cost (k+1)^2/k^2) and even output sizes.

Broadcasting. XNNPACK has no expand: BicycleGAN's `z[:, :, None, None].expand(...)` and the
morph's batched matmuls (ExecuTorch decomposes matmul into expand_copy + bmm) stayed on portable
`expand_copy` kernels between delegate segments (2 and 6 segments). `expand_as_add` writes each
expand as x + zeros of the broadcast shape (an add XNNPACK broadcasts itself) and each batched
matmul as bmm of operands broadcast that way.

Constants. ExecuTorch folds no constant subexpression: the morph's first layer (its constant
coordinate grid times each MLP's weights) stayed two portable `mm` calls and split the delegate.
`fold_constants` computes such ops once at export and stores their results as buffers.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pix2mobile.models.fast_style import UpsampleConvLayer

log = logging.getLogger(__name__)

FP16_LIMIT = 255.9
"""Largest |d| whose square is a finite fp16 value (65504)."""
FP16_HEADROOM = 4.0
"""How far past the sample photo's largest |x - mean| the fp16 square stays finite."""
_ENABLED = contextvars.ContextVar("pix2mobile_mobile_graph", default=True)

REWRITTEN = "pix2mobile_mobile_graph"
"""Attribute set on a rewritten module: `mobile_graph` leaves such a module as it is."""
MAX_SHIFT = 3
"""Largest k: eps * 4^-k stays a non-zero fp16 value for eps >= 1e-5."""


@dataclass(frozen=True)
class MobilePlan:
    """Which rewrites an exporter applies (each one measured to help that format; see the module docstring).

    reflection_pad: ReflectionPad2d as slices and concatenation.
    instance_norm: InstanceNorm2d written out as means, a subtraction, a square and rsqrt.
    fp16_safe: with `instance_norm`, scale d by 2^-k so its square cannot overflow fp16.
    nearest_upsample: nearest upsampling by integer factors as reshapes and concatenations.
    broadcast_add: `expand` (BicycleGAN's z maps, the morph's batched matmuls) as an add of zeros.
    fold_constants: ops whose inputs are all weights or buffers computed once, at export.
    upsample_conv: fast_style's nearest x2 + 3x3 conv layers as one stride-2 transposed conv.
    narrow_conv: stride-1 convs to <= 4 channels with kernels >= 5 as a stride-2 conv per parity.
    """

    reflection_pad: bool = False
    instance_norm: bool = False
    fp16_safe: bool = False
    nearest_upsample: bool = False
    broadcast_add: bool = False
    fold_constants: bool = False
    upsample_conv: bool = False
    narrow_conv: bool = False

    def __bool__(self) -> bool:
        return (self.reflection_pad or self.instance_norm or self.nearest_upsample or self.broadcast_add
                or self.fold_constants or self.upsample_conv or self.narrow_conv)

    def resizable(self) -> MobilePlan:
        """This plan less the rewrites that pin the export size (constant slices and output shapes)."""
        return dataclasses.replace(self, reflection_pad=False, upsample_conv=False, narrow_conv=False)

    @property
    def edits_graph(self) -> bool:
        """The plan needs the `torch.export` graph (its result is a graph module)."""
        return self.nearest_upsample or self.broadcast_add or self.fold_constants


class SliceReflectionPad2d(nn.Module):
    """`ReflectionPad2d` as one-row/one-column slices concatenated around the input (bit-equal)."""

    def __init__(self, padding: Sequence[int]):
        super().__init__()
        left, right, top, bottom = (int(p) for p in padding)
        self.padding = (left, right, top, bottom)

    @staticmethod
    def _mirror(x: torch.Tensor, dim: int, before: int, after: int) -> torch.Tensor:
        n = x.shape[dim]
        if before >= n or after >= n:
            raise ValueError(f"reflection padding {max(before, after)} needs more than {n} rows/columns")
        parts = [x.narrow(dim, i, 1) for i in range(before, 0, -1)]
        parts.append(x)
        parts += [x.narrow(dim, n - 1 - i, 1) for i in range(1, after + 1)]
        return torch.cat(parts, dim) if len(parts) > 1 else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right, top, bottom = self.padding
        return self._mirror(self._mirror(x, -2, top, bottom), -1, left, right)


class ExplicitInstanceNorm2d(nn.Module):
    """InstanceNorm2d (instance statistics, optional affine) written out; `shift` k scales d by 2^-k."""

    def __init__(self, original: nn.InstanceNorm2d, shift: int = 0):
        super().__init__()
        if not 0 <= shift <= MAX_SHIFT:
            raise ValueError(f"shift must be in 0..{MAX_SHIFT}, got {shift}")
        self.eps = float(original.eps)
        self.shift = int(shift)
        if original.affine and original.weight is not None and original.bias is not None:
            self.weight: nn.Parameter | None = nn.Parameter(original.weight.detach().clone().view(1, -1, 1, 1))
            self.bias: nn.Parameter | None = nn.Parameter(original.bias.detach().clone().view(1, -1, 1, 1))
        else:
            self.weight = self.bias = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = x - x.mean(dim=(2, 3), keepdim=True)
        if self.shift:
            d = d * (2.0 ** -self.shift)
        y = d * torch.rsqrt((d * d).mean(dim=(2, 3), keepdim=True) + self.eps * 4.0 ** -self.shift)
        if self.weight is not None and self.bias is not None:
            y = y * self.weight + self.bias
        return y


def _replicate_pad1(x: torch.Tensor) -> torch.Tensor:
    """x with its edge rows and columns repeated once around it (slices and concatenation)."""
    x = torch.cat([x[:, :, :1], x, x[:, :, -1:]], 2)
    return torch.cat([x[:, :, :, :1], x, x[:, :, :, -1:]], 3)


_PARITY_TAPS = ((0.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0), (1.0, 0.0, 0.0))
"""Row t of the 4-tap transposed kernel sums the 3x3 kernel's taps marked 1 (see the module docstring)."""


class TransposedUpsampleConv(nn.Module):
    """Nearest x2, reflection pad 1, 3x3 conv (`UpsampleConvLayer`) as one stride-2 transposed conv."""

    @staticmethod
    def accepts(conv: nn.Conv2d) -> bool:
        return conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.groups == 1 and conv.padding == (0, 0)

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if not self.accepts(conv):
            raise ValueError("TransposedUpsampleConv takes a 3x3, stride-1, ungrouped, unpadded conv")
        taps = torch.tensor(_PARITY_TAPS, dtype=torch.float64)
        weight = torch.einsum("ay,bx,oiyx->ioab", taps, taps, conv.weight.detach().double())
        self.weight = nn.Parameter(weight.to(conv.weight.dtype))
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        y = F.conv_transpose2d(_replicate_pad1(x), self.weight, self.bias, stride=2)
        return y[:, :, 3:3 + 2 * h, 3:3 + 2 * w]


class PhaseConv2d(nn.Module):
    """A stride-1 conv to few channels as a stride-2 conv computing each output parity, interleaved."""

    interleave: torch.Tensor

    @staticmethod
    def accepts(conv: nn.Conv2d) -> bool:
        return (conv.stride == (1, 1) and conv.groups == 1 and conv.dilation == (1, 1)
                and conv.padding_mode == "zeros" and not isinstance(conv.padding, str))

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if not self.accepts(conv):
            raise ValueError("PhaseConv2d takes a stride-1, ungrouped, undilated, zero-padded conv")
        out_ch, in_ch, kh, kw = conv.weight.shape
        weight = conv.weight.new_zeros(2, 2, out_ch, in_ch, kh + 1, kw + 1)
        interleave = conv.weight.new_zeros(2, 2, out_ch, out_ch, 2, 2)
        eye = torch.eye(out_ch, dtype=conv.weight.dtype)
        for a in range(2):
            for b in range(2):
                weight[a, b, :, :, a:a + kh, b:b + kw] = conv.weight.detach()
                interleave[a, b, :, :, a, b] = eye
        self.out_channels, self.kernel_size = out_ch, (kh, kw)
        self.padding = tuple(int(p) for p in conv.padding)
        self.weight = nn.Parameter(weight.reshape(4 * out_ch, in_ch, kh + 1, kw + 1))
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().repeat(4))
        self.register_buffer("interleave", interleave.reshape(4 * out_ch, out_ch, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        out_h, out_w = x.shape[-2] + 2 * ph - kh + 1, x.shape[-1] + 2 * pw - kw + 1
        if out_h % 2 or out_w % 2:      # odd output: the original conv (its kernel is the first parity's)
            o = self.out_channels
            bias = None if self.bias is None else self.bias[:o]
            return F.conv2d(x, self.weight[:o, :, :kh, :kw], bias, padding=self.padding)
        y = F.conv2d(x, self.weight, self.bias, stride=2, padding=self.padding)
        return F.conv_transpose2d(y, self.interleave, stride=2)


NARROW_MAX_CHANNELS = 4
"""Output channels up to which `PhaseConv2d` pays: XNNPACK's f32 tiles are 8 (ARM) or 16 (x86) wide."""
NARROW_MIN_KERNEL = 5
"""Smallest kernel for `PhaseConv2d`: its zero taps cost (k+1)^2 / k^2 (1.44x at 5, 1.78x at 3)."""


def _is_narrow(conv: nn.Conv2d) -> bool:
    return (conv.out_channels <= NARROW_MAX_CHANNELS and min(conv.kernel_size) >= NARROW_MIN_KERNEL
            and PhaseConv2d.accepts(conv))


def _uses_instance_stats(norm: nn.InstanceNorm2d) -> bool:
    """True when the layer normalises by each image's own statistics (what the rewrite computes)."""
    return not (norm.track_running_stats and not norm.training and norm.running_mean is not None)


def fp16_shifts(module: nn.Module, example_inputs: Sequence[torch.Tensor]) -> dict[str, tuple[int, float]]:
    """Per InstanceNorm2d (by module name): (k, largest |x - mean| it saw on `example_inputs`)."""
    seen: dict[str, float] = {}
    hooks = []
    for name, sub in module.named_modules():
        if isinstance(sub, nn.InstanceNorm2d):
            def hook(_m: nn.Module, args: tuple[torch.Tensor, ...], _out: Any, name: str = name) -> None:
                x = args[0].detach()
                dev = (x - x.mean(dim=(-2, -1), keepdim=True)).abs().max().item()
                seen[name] = max(seen.get(name, 0.0), dev)
            hooks.append(sub.register_forward_hook(hook))
    try:
        with torch.no_grad():
            module(*example_inputs)
    finally:
        for h in hooks:
            h.remove()
    out = {}
    for name, dev in seen.items():
        need = dev * FP16_HEADROOM / FP16_LIMIT
        k = 0 if need <= 1 else math.ceil(math.log2(need))
        out[name] = (min(k, MAX_SHIFT), dev)
    return out


def swap_modules(module: nn.Module, plan: MobilePlan,
                 shifts: dict[str, tuple[int, float]] | None = None) -> tuple[nn.Module, list[str]]:
    """A deep copy of `module` with the module-level rewrites of `plan` applied, and notes."""
    out = copy.deepcopy(module)
    pads = norms = upconvs = narrow = 0
    short: list[str] = []
    for parent_name, parent in list(out.named_modules()):
        for name, child in list(parent.named_children()):
            full = f"{parent_name}.{name}" if parent_name else name
            if (plan.upsample_conv and type(child) is UpsampleConvLayer and child.reflection_pad.padding == (1, 1, 1, 1)
                    and TransposedUpsampleConv.accepts(child.conv2d)):
                setattr(parent, name, TransposedUpsampleConv(child.conv2d))
                upconvs += 1
            elif plan.narrow_conv and type(child) is nn.Conv2d and _is_narrow(child):
                setattr(parent, name, PhaseConv2d(child))
                narrow += 1
            elif plan.reflection_pad and isinstance(child, nn.ReflectionPad2d):
                setattr(parent, name, SliceReflectionPad2d(child.padding))
                pads += 1
            elif plan.instance_norm and isinstance(child, nn.InstanceNorm2d) and _uses_instance_stats(child):
                k, dev = (shifts or {}).get(full, (0, 0.0)) if plan.fp16_safe else (0, 0.0)
                setattr(parent, name, ExplicitInstanceNorm2d(child, k))
                norms += 1
                if plan.fp16_safe and dev * FP16_HEADROOM * 2.0 ** -k > FP16_LIMIT:
                    short.append(f"{full} (|x - mean| {dev:.0f}, headroom {FP16_LIMIT * 2.0 ** k / dev:.1f}x)")
    notes = []
    if upconvs:
        notes.append(f"rewrite: {upconvs} nearest x2 + 3x3 conv layer(s) as a stride-2 transposed conv")
    if narrow:
        notes.append(f"rewrite: {narrow} conv(s) to <= {NARROW_MAX_CHANNELS} channels as a stride-2 conv per "
                     "output parity + a one-hot transposed conv")
    if pads:
        notes.append(f"rewrite: {pads} ReflectionPad2d as slices + concatenation")
    if norms:
        ks = sorted({k for k, _ in (shifts or {}).values()}) if plan.fp16_safe else []
        notes.append(f"rewrite: {norms} InstanceNorm2d written out (mean, subtract, square, rsqrt)"
                     + (f"; fp16-safe, d scaled by 2^-k, k in {ks}" if ks else ""))
    if short:
        notes.append("fp16: less than the wanted headroom at " + ", ".join(short))
    return out, notes


def _swap(node: Any, new: Any) -> None:
    """Put `new` (a node just inserted before `node`, or one of its inputs) where `node` was."""
    if new is not node.args[0]:
        new.meta = dict(node.meta)
    node.replace_all_uses_with(new)
    node.graph.erase_node(node)


def _recompiled(graph_module: Any, changes: int) -> int:
    """Check and regenerate the graph module's code after `changes` edits (none: nothing to do)."""
    if changes:
        graph_module.graph.eliminate_dead_code()
        graph_module.graph.lint()
        graph_module.recompile()
    return changes


def nearest_as_concat(graph_module: Any) -> int:
    """Replace every integer-factor nearest upsample in a `torch.export` graph module; how many."""
    aten = torch.ops.aten
    targets = {aten.upsample_nearest2d.vec, aten.upsample_nearest2d.default}
    graph = graph_module.graph
    replaced = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node.target not in targets:
            continue
        src, out = node.args[0].meta.get("val"), node.meta.get("val")
        if src is None or out is None or src.dim() != 4:
            continue
        n, c, h, w = (int(s) for s in src.shape)
        oh, ow = int(out.shape[2]), int(out.shape[3])
        if oh % h or ow % w:
            continue
        with graph.inserting_before(node):
            _swap(node, graph.call_function(_nearest_concat, (node.args[0], oh // h, ow // w)))
        replaced += 1
    return _recompiled(graph_module, replaced)


def _zeros_for(graph_module: Any, shape: Sequence[int], dtype: torch.dtype) -> Any:
    """A get_attr node of a new all-zeros buffer of `shape` on `graph_module`."""
    name = f"pix2mobile_zeros_{sum(1 for n, _ in graph_module.named_buffers() if n.startswith('pix2mobile_zeros_'))}"
    graph_module.register_buffer(name, torch.zeros(list(shape), dtype=dtype))
    return graph_module.graph.get_attr(name)


def _broadcast(graph_module: Any, node: Any, src: torch.Tensor, out_shape: Sequence[int]) -> Any:
    """`node` (value `src`) broadcast to `out_shape` as node + zeros (the node itself when nothing grows)."""
    in_shape = [int(s) for s in src.shape]
    lead = len(out_shape) - len(in_shape)
    padded = [1] * lead + in_shape
    zeros_shape = [int(o) if p != o else 1 for p, o in zip(padded, out_shape)]
    if lead == 0 and all(z == 1 for z in zeros_shape):
        return node
    return graph_module.graph.call_function(torch.ops.aten.add.Tensor,
                                            (node, _zeros_for(graph_module, zeros_shape, src.dtype)))


def expand_as_add(graph_module: Any) -> int:
    """Replace every broadcast in a `torch.export` graph module XNNPACK would leave outside; how many.

    `expand(x)` becomes x + zeros of the broadcast shape: x + 0 is x for every finite x (-0
    becomes +0, which no consumer tells apart); the zeros have size 1 wherever the input already
    has the full size, so they stay small (1x1xHxW). A batched `matmul` becomes `bmm` of
    operands broadcast that way: ExecuTorch decomposes matmul into expand_copy + bmm, and
    XNNPACK takes bmm but not the expand."""
    aten = torch.ops.aten
    graph = graph_module.graph
    replaced = 0
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        if node.target in (aten.expand.default, aten.expand_copy.default):
            src, out = node.args[0].meta.get("val"), node.meta.get("val")
            if src is None or out is None:
                continue
            with graph.inserting_before(node):
                new = _broadcast(graph_module, node.args[0], src, [int(s) for s in out.shape])
        elif node.target == aten.matmul.default:
            a, b, out = node.args[0].meta.get("val"), node.args[1].meta.get("val"), node.meta.get("val")
            if a is None or b is None or out is None or out.dim() != 3 or a.dim() < 2 or b.dim() < 2:
                continue
            batch = int(out.shape[0])
            with graph.inserting_before(node):
                ba = _broadcast(graph_module, node.args[0], a, [batch, *(int(s) for s in a.shape[-2:])])
                bb = _broadcast(graph_module, node.args[1], b, [batch, *(int(s) for s in b.shape[-2:])])
                new = graph.call_function(aten.bmm.default, (ba, bb))
        else:
            continue
        _swap(node, new)
        replaced += 1
    return _recompiled(graph_module, replaced)


_IMPURE = ("rand", "normal", "uniform", "bernoulli", "dropout", "empty", "multinomial")


def fold_constants(graph_module: Any) -> int:
    """Compute every op whose inputs are all weights, buffers or literals once, now; how many results
    the graph then reads as buffers. The same ops on the same values: the same numbers.

    Only results a non-constant op reads are stored (intermediate constants are dropped with the
    ops that made them). Random and uninitialised-memory ops are never folded."""
    graph = graph_module.graph
    values: dict[Any, Any] = {}
    for node in graph.nodes:
        if node.op == "get_attr":
            value: Any = graph_module
            for part in str(node.target).split("."):
                value = getattr(value, part)
            values[node] = value
        elif node.op == "call_function" and node.all_input_nodes \
                and all(n in values for n in node.all_input_nodes) \
                and str(getattr(node.target, "__module__", "")).startswith("torch") \
                and not any(word in str(node.target) for word in _IMPURE):
            args = torch.fx.node.map_arg(node.args, lambda n: values[n])
            kwargs = torch.fx.node.map_arg(node.kwargs, lambda n: values[n])
            with torch.no_grad():
                values[node] = node.target(*args, **kwargs)
    folded = 0
    for node in list(graph.nodes):
        if node.op != "call_function" or node not in values or not isinstance(values[node], torch.Tensor):
            continue
        if all(user in values for user in node.users):
            continue
        name = f"pix2mobile_folded_{folded}"
        graph_module.register_buffer(name, values[node].detach().clone())
        with graph.inserting_before(node):
            _swap(node, graph.get_attr(name))
        folded += 1
    return _recompiled(graph_module, folded)


def _nearest_concat(x: torch.Tensor, fh: int, fw: int) -> torch.Tensor:
    """Nearest upsampling by (fh, fw) from 4-D reshapes and concatenations (see the module docstring)."""
    n, c, h, w = x.shape
    y = x
    if fw > 1:
        y = torch.cat([x.reshape(n, c * h, w, 1) for _ in range(fw)], 3)
    y = y.reshape(n, c * h, 1, w * fw)
    if fh > 1:
        y = torch.cat([y.reshape(n, c * h, 1, w * fw) for _ in range(fh)], 2)
    return y.reshape(n, c, h * fh, w * fw)


@contextlib.contextmanager
def plain_graphs() -> Iterator[None]:
    """Within it, `mobile_graph` rewrites nothing: exporters convert the model as it is.

    For measuring what the rewrites buy (`benchmark.mobile_graphs` exports before and after)
    and for bisecting a converter problem to a rewrite."""
    token = _ENABLED.set(False)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def mobile_graph(module: nn.Module, example_inputs: Sequence[torch.Tensor], plan: MobilePlan,
                 what: str = "") -> tuple[nn.Module, list[str]]:
    """`module` rewritten by `plan` (a copy; the module itself when the plan is empty) and notes.

    With `plan.edits_graph` the result may be a `torch.export` graph module (eval semantics)."""
    if not plan or not _ENABLED.get() or getattr(module, REWRITTEN, False):
        return module, []
    shifts = fp16_shifts(module, example_inputs) if plan.instance_norm and plan.fp16_safe else None
    out, notes = swap_modules(module.eval(), plan, shifts)
    if plan.edits_graph:
        with torch.no_grad():
            graph_module: Any = torch.export.export(out.eval(), tuple(example_inputs)).module()
        upsamples = nearest_as_concat(graph_module) if plan.nearest_upsample else 0
        expands = expand_as_add(graph_module) if plan.broadcast_add else 0
        folded = fold_constants(graph_module) if plan.fold_constants else 0
        if upsamples:
            notes.append(f"rewrite: {upsamples} nearest upsample(s) as reshapes + concatenation")
        if expands:
            notes.append(f"rewrite: {expands} broadcast(s) (expand, batched matmul) as an add of zeros")
        if folded:
            notes.append(f"rewrite: {folded} constant subexpression(s) computed at export")
        if upsamples or expands or folded:
            for sub in graph_module.modules():   # exported modules refuse .eval(); the graph is eval already
                sub.training = False
            out = graph_module
    if notes and what:
        log.info("%s: %s", what, "; ".join(notes))
    setattr(out, REWRITTEN, True)
    return out, notes
