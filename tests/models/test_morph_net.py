"""morph: MLPs render at any size; the MorphGenerator's in-graph weight blend hits both ends
exactly and is the averaged MLP at alpha = 0.5."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import fx

from pix2mobile.errors import ConfigError
from pix2mobile.models import model_cost, morph

TIGHT = {"atol": 1e-6, "rtol": 0.0}


@pytest.fixture
def stack(randomize) -> morph.MorphStack:
    return randomize(morph.MLP.create(num_images=3)).eval()


def test_alpha_ends_reproduce_each_mlp(stack):
    gen = morph.MorphGenerator.from_stack(stack, pair=(0, 1), size=(12, 16))
    with torch.no_grad():
        out = gen(torch.tensor([0.0, 1.0]))
        torch.testing.assert_close(out[0:1], stack.render(0, (12, 16)), **TIGHT)
        torch.testing.assert_close(out[1:2], stack.render(1, (12, 16)), **TIGHT)
    assert out.shape == (2, 3, 12, 16) and 0 <= out.min() and out.max() <= 1


def test_half_alpha_is_the_weight_average(stack):
    mean_mlp = copy.deepcopy(stack.mlps[0])
    with torch.no_grad():
        for p, a, b in zip(mean_mlp.parameters(), stack.mlps[0].parameters(), stack.mlps[1].parameters()):
            p.copy_(0.5 * a + 0.5 * b)
        out = morph.MorphGenerator.from_stack(stack, (0, 1), (8, 8))(torch.tensor([0.5]))
        torch.testing.assert_close(out, mean_mlp.render((8, 8)), **TIGHT)
        assert not torch.allclose(out, stack.render(0, (8, 8)))


def test_pair_is_selectable(stack):
    with torch.no_grad():
        out = morph.MorphGenerator.from_stack(stack, pair=(2, 0), size=(8, 8))(torch.tensor([0.0, 1.0]))
        torch.testing.assert_close(out[0:1], stack.render(2, (8, 8)), **TIGHT)
        torch.testing.assert_close(out[1:2], stack.render(0, (8, 8)), **TIGHT)
    with pytest.raises(ConfigError, match="pair"):
        morph.MorphGenerator.from_stack(stack, pair=(0, 3))


def test_renders_larger_than_training(randomize):
    """An MLP fit on 8x8 renders 32x32; the corners are the same continuous points."""
    mlp = morph.CoordinateMLP(fourier=2)
    target = torch.rand(1, 3, 8, 8)
    grid = morph.coordinate_grid((8, 8), fourier=2)
    opt = torch.optim.Adam(mlp.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        loss = F.mse_loss(mlp(grid).T.reshape(1, 3, 8, 8), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    with torch.no_grad():
        small, big = mlp.render((8, 8)), mlp.render((32, 32))
        gen_big = morph.MorphGenerator(mlp, mlp, (32, 32))(torch.tensor([0.3]))
    assert big.shape == (1, 3, 32, 32)
    for y, x in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        torch.testing.assert_close(big[..., y, x], small[..., y, x])
    torch.testing.assert_close(gen_big, big, **TIGHT)


def test_grid_layout_and_fourier_features():
    grid = morph.coordinate_grid((2, 3), fourier=0)
    assert grid.tolist() == [[-1, -1], [0, -1], [1, -1], [-1, 1], [0, 1], [1, 1]]
    assert morph.coordinate_grid((4, 4), fourier=3).shape == (16, 2 + 4 * 3)
    assert morph.CoordinateMLP(fourier=3).layers[0].in_features == 14
    assert [layer.out_features for layer in morph.CoordinateMLP().layers] == [100, 100, 100, 100, 3]


def test_forward_has_no_grid_building_ops(stack):
    gen = morph.MLP.exportable(stack, (8, 8))
    assert isinstance(gen, morph.MorphGenerator) and gen.grid.shape == (64, 2)
    targets = {n.target for n in fx.symbolic_trace(gen).graph.nodes if n.op in ("call_function", "call_method")}
    names = {getattr(t, "__name__", str(t)) for t in targets}
    assert not names & {"meshgrid", "linspace", "sin", "cos", "arange"}
    assert {"matmul", "relu", "sigmoid"} <= names


def test_io_and_cost():
    assert morph.MLP.io.inputs[0].kind == "scalar" and morph.MLP.io.inputs[0].range == (0.0, 1.0)
    assert morph.MLP.io.outputs[0].range == (0.0, 1.0)
    cost = model_cost(morph.MLP, (16, 16))
    assert cost["params"] == 2 * sum(p.numel() for p in morph.CoordinateMLP().parameters())
    # the first layer runs for both MLPs (it blends their outputs on the constant grid; converters fold it)
    assert cost["macs"] == 16 * 16 * (2 * 2 * 100 + 3 * 100 * 100 + 100 * 3)


def test_bad_options():
    with pytest.raises(ConfigError, match="num_images"):
        morph.MLP.create(num_images=1)
    with pytest.raises(ConfigError, match="same architecture"):
        morph.MorphGenerator(morph.CoordinateMLP(0), morph.CoordinateMLP(2), (8, 8))
