"""Correctness of the hypernetwork forward, its gradients, presets and persistence."""

from __future__ import annotations

import io

import pytest
import torch as th
from torch import nn

from hyperbench.nn import INIT_SCHEMES, PRIMARY_PRESETS, HyperNetwork, n_parameters


def mlp_like(net: HyperNetwork) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(net.layer_sizes[:-1], net.layer_sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out, dtype=th.float64), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).double()


@pytest.mark.parametrize("batch", [1, 17])
@pytest.mark.parametrize("hidden", [(32,), (16, 8)])
def test_dynamic_forward_equals_sequential_mlp(batch: int, hidden: tuple[int, ...]) -> None:
    th.manual_seed(0)
    net = HyperNetwork(5, 3, 2, dynamic_hidden=hidden, n_members=2, init="hfi").double()
    mlp = mlp_like(net)
    linears = [m for m in mlp if isinstance(m, nn.Linear)]
    net.set_base_network([(m.weight, m.bias) for m in linears])
    x = th.randn(batch, 3, dtype=th.float64)
    out = net(th.randn(batch, 5, dtype=th.float64), x)
    assert out.shape == (2, batch, 2)
    th.testing.assert_close(out[0], mlp(x), rtol=1e-12, atol=1e-12)
    th.testing.assert_close(out[1], mlp(x), rtol=1e-12, atol=1e-12)


def test_gain_and_bias_heads_act_per_sample() -> None:
    """Non-zero gain/bias heads change the output exactly as (1 + g) ⊙ (xW) + b says."""
    th.manual_seed(0)
    net = HyperNetwork(4, 3, 1, dynamic_hidden=(8,), init="weight-hyperinit").double()
    meta, base = th.randn(6, 4, dtype=th.float64), th.randn(6, 3, dtype=th.float64)
    with th.no_grad():
        net.heads.weight.normal_(0.0, 0.1)
    params = net.generate(meta)
    x = base
    for i, p in enumerate(params):
        h = th.einsum("bi,bio->bo", x, p.weight[0])
        assert p.gain is not None
        x = (1 + p.gain[0]) * h + p.bias[0]
        x = th.relu(x) if i == 0 else x
    th.testing.assert_close(net(meta, base)[0], x)


def test_gradcheck_float64() -> None:
    th.manual_seed(0)
    net = HyperNetwork(3, 2, 1, dynamic_hidden=(4,), primary=(5,), init="weight-hyperinit").double()
    meta = th.randn(3, 3, dtype=th.float64, requires_grad=True)
    net.update_meta_stats(3.0 + th.randn(16, 3, dtype=th.float64))
    net.eval()  # a fixed function: the meta-input normaliser's statistics do not move
    base = th.randn(3, 2, dtype=th.float64, requires_grad=True)
    assert th.autograd.gradcheck(lambda m, b: net(m, b), (meta, base))
    # and with respect to the parameters
    params = tuple(net.parameters())

    def as_fn(*ps: th.Tensor) -> th.Tensor:
        return th.func.functional_call(net, dict(zip((n for n, _ in net.named_parameters()), ps)), (meta, base))

    assert th.autograd.gradcheck(as_fn, tuple(p.detach().clone().requires_grad_(True) for p in params))


@pytest.mark.parametrize("init", sorted(INIT_SCHEMES))
def test_gradients_reach_every_primary_parameter(init: str) -> None:
    th.manual_seed(0)
    net = HyperNetwork(7, 3, 1, n_members=2, init=init)
    meta, base = th.randn(32, 7), th.randn(32, 3)
    opt = th.optim.SGD(net.parameters(), lr=1e-2)
    net(meta, base).pow(2).sum().backward()
    if init == "bias-hyperinit":
        # Head weights start at 0, so the very first gradient stops at the heads ...
        assert all(th.count_nonzero(p.grad) == 0 for p in net.primary.parameters() if p.grad is not None)
    # ... and after one step every primary parameter receives gradient, for every scheme.
    opt.step()
    opt.zero_grad()
    net(meta, base).pow(2).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and th.count_nonzero(p.grad) > 0, name


def test_detached_generation_leaves_primary_without_gradients() -> None:
    net = HyperNetwork(7, 3, 1)
    with th.no_grad():
        params = net.generate(th.randn(8, 7))
    action = th.randn(8, 3, requires_grad=True)
    net.dynamic_forward(params, action).sum().backward()
    assert action.grad is not None and th.count_nonzero(action.grad) > 0
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("preset", sorted(PRIMARY_PRESETS))
@pytest.mark.parametrize("init", sorted(INIT_SCHEMES))
def test_every_preset_and_scheme_trains_and_round_trips(preset: str, init: str) -> None:
    th.manual_seed(0)
    net = HyperNetwork(17, 6, 1, n_members=2, primary=preset, init=init)
    opt = th.optim.Adam(net.parameters(), lr=1e-3)
    meta, base = th.randn(4, 17), th.randn(4, 6)
    loss = net(meta, base).pow(2).mean()
    loss.backward()
    opt.step()
    buffer = io.BytesIO()
    th.save(net.state_dict(), buffer)
    buffer.seek(0)
    th.manual_seed(1)
    clone = HyperNetwork(17, 6, 1, n_members=2, primary=preset, init=init)
    clone.load_state_dict(th.load(buffer, weights_only=True))  # parameters and the normaliser's statistics
    th.testing.assert_close(clone.eval()(meta, base), net.eval()(meta, base), rtol=0, atol=0)


def test_paper_preset_matches_published_size() -> None:
    # Twin SA-Hyper critics of the public code: about 17.1M parameters together (docs/sources.md §1).
    net = HyperNetwork(17, 6, 1, n_members=2, primary="paper")
    assert net.latent_dim == 1024
    assert n_parameters(net) == pytest.approx(17.1e6, rel=0.01)
    lite = HyperNetwork(17, 6, 1, n_members=2, primary="lite")
    assert n_parameters(lite) < n_parameters(net) / 20


def test_custom_widths_build_the_requested_structure() -> None:
    net = HyperNetwork(3, 2, 1, primary=(8, 16), blocks_per_width=3, dynamic_hidden=(5, 5, 5), use_gain=False)
    assert net.latent_dim == 16 and net.layer_sizes == (2, 5, 5, 5, 1)
    assert sum(1 for m in net.primary.layers if m.__class__.__name__ == "EnsembleResBlock") == 6
    assert all(p.gain is None for p in net.generate(th.randn(2, 3)))


@pytest.mark.parametrize(
    ("meta", "base", "message"),
    [
        (th.randn(4, 5), th.randn(4, 6), r"meta input has shape \(4, 5\), expected \(batch, 17\)"),
        (th.randn(4, 17), th.randn(4, 2), r"base input has shape \(4, 2\), expected \(batch, 6\)"),
        (th.randn(17), th.randn(6), r"meta input has shape \(17,\), expected \(batch, 17\)"),
        (th.randn(1, 4, 4, 17), th.randn(4, 6), r"shape \(1, 4, 4, 17\)"),
        (th.randn(4, 17), th.randn(3, 6), "batch size 4 but base input has 3"),
    ],
)
def test_shape_errors_name_expected_and_received(meta: th.Tensor, base: th.Tensor, message: str) -> None:
    net = HyperNetwork(17, 6, 1, n_members=2)
    with pytest.raises(ValueError, match=message):
        net(meta, base)


def test_dtype_error() -> None:
    net = HyperNetwork(3, 2, 1)
    with pytest.raises(TypeError, match=r"dtype torch\.float64, expected torch\.float32"):
        net(th.randn(2, 3, dtype=th.float64), th.randn(2, 2))


def _broadcast_dynamic_forward(net: HyperNetwork, params: list, base: th.Tensor) -> th.Tensor:
    """The dynamic forward as it was first written: broadcast multiply ``(E, B, in, out)`` and sum."""
    x = base.unsqueeze(0).expand(net.n_members, *base.shape)
    for i, (weight, bias, gain) in enumerate(params):
        h = (x.unsqueeze(-1) * weight).sum(-2)
        x = th.addcmul(bias, h, 1.0 + gain) if gain is not None else h + bias
        if i != len(params) - 1:
            x = th.relu(x)
    return x


@pytest.mark.parametrize(("hidden", "out_dim", "use_gain"), [((256,), 1, True), ((64, 32), 3, False), ((16,), 1, False)])
def test_dynamic_forward_matches_the_broadcast_formulation(hidden: tuple[int, ...], out_dim: int, use_gain: bool) -> None:
    """Batched matmuls / dot products give the same outputs and gradients (float tolerance) as broadcast-and-sum."""
    th.manual_seed(0)
    net = HyperNetwork(17, 6, out_dim, dynamic_hidden=hidden, n_members=2, use_gain=use_gain, init="hyperl")
    meta, base = th.randn(128, 17), th.randn(128, 6, requires_grad=True)
    outputs, grads = [], []
    for fn in (net.dynamic_forward, lambda p, b: _broadcast_dynamic_forward(net, p, b)):
        net.zero_grad()
        base.grad = None
        out = fn(net.generate(meta), base)
        (out.square().mean() + out.mean()).backward()
        outputs.append(out.detach())
        grads.append([base.grad.clone(), *(p.grad.clone() for p in net.parameters())])  # type: ignore[union-attr]
    th.testing.assert_close(outputs[0], outputs[1], rtol=1e-5, atol=1e-6)
    for new, old in zip(*grads):
        th.testing.assert_close(new, old, rtol=1e-4, atol=1e-6)
