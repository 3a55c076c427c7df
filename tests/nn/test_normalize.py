"""The meta-input normaliser: its statistics, when they change, and that they are saved with the weights."""

from __future__ import annotations

import pytest
import torch as th
from safetensors.torch import load_file, save_file

from hyperbench.nn import HyperNetwork
from hyperbench.nn.normalize import RunningNormalizer


def test_exact_mode_equals_the_statistics_of_everything_seen() -> None:
    norm = RunningNormalizer(2)
    a = th.tensor([[0.0, 1.0], [2.0, 3.0]])
    b = th.tensor([[4.0, 5.0], [6.0, 7.0], [8.0, 9.0]])
    norm.update(a)
    norm.update(b)
    # All five rows: column means 4 and 5, population variance 8 (values 0, 2, 4, 6, 8).
    th.testing.assert_close(norm.running_mean, th.tensor([4.0, 5.0]))
    th.testing.assert_close(norm.running_var, th.tensor([8.0, 8.0]))
    assert float(norm.running_count) == 5.0
    th.testing.assert_close(norm.eval()(th.tensor([[4.0, 5.0 + 8.0**0.5]])), th.tensor([[0.0, 1.0]]))


def test_moving_average_mode_takes_the_first_batch_exactly_then_mixes() -> None:
    norm = RunningNormalizer(1, momentum=0.5)
    norm.update(th.tensor([[0.0], [2.0]]))  # mean 1, var 1
    th.testing.assert_close(norm.running_mean, th.tensor([1.0]))
    th.testing.assert_close(norm.running_var, th.tensor([1.0]))
    norm.update(th.tensor([[4.0], [6.0]]))  # mean 5, var 1
    # Half-half mixture of N(1, 1) and N(5, 1): mean 3, variance 1 + 0.25·(5 − 1)² = 5.
    th.testing.assert_close(norm.running_mean, th.tensor([3.0]))
    th.testing.assert_close(norm.running_var, th.tensor([5.0]))


def test_updates_in_training_mode_only_and_never_from_one_sample() -> None:
    norm = RunningNormalizer(3)
    x = 2.0 + 3.0 * th.randn(64, 3)
    y = norm.train()(x)  # the first training batch is standardised with its own statistics
    th.testing.assert_close(y.mean(0), th.zeros(3), atol=1e-5, rtol=0)
    th.testing.assert_close(y.std(0, unbiased=False), th.ones(3), atol=1e-4, rtol=0)
    before = norm.running_mean.clone()
    norm(th.randn(1, 3) + 100.0)  # a single sample (e.g. one action) leaves the statistics alone
    norm.eval()(th.randn(64, 3) + 100.0)
    norm.auto_update = False
    norm.train()(th.randn(64, 3) + 100.0)
    th.testing.assert_close(norm.running_mean, before)
    assert float(norm.running_count) == 64.0


def test_constant_features_and_outliers_stay_bounded() -> None:
    norm = RunningNormalizer(2)
    norm.update(th.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]))
    out = norm.eval()(th.tensor([[1.0, 1.0], [1.5, 1e6]]))
    assert out[0, 0] == 0.0  # a constant feature at its constant value maps to 0, not NaN
    assert out.abs().max() == 10.0  # VecNormalize's clip


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (th.zeros(4, 3), r"2 features in the last dimension, got shape \(4, 3\)"),
        (th.zeros(1, 2), "at least 2 samples"),
        (th.tensor([[0.0, float("nan")], [1.0, 1.0]]), "NaN or infinite"),
    ],
)
def test_bad_batches_are_refused_with_the_reason(batch: th.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RunningNormalizer(2).update(batch)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="momentum"):
        RunningNormalizer(2, momentum=0.0)
    with pytest.raises(ValueError, match="positive"):
        RunningNormalizer(0)


def test_statistics_are_state_and_round_trip_through_safetensors(tmp_path) -> None:
    th.manual_seed(0)
    net = HyperNetwork(5, 3, 1, dynamic_hidden=(16,), init="hfi", n_members=2)
    assert {"primary.meta_norm.running_mean", "primary.meta_norm.running_var", "primary.meta_norm.running_count"} <= set(
        net.state_dict()
    )
    meta, base = 3.0 + 2.0 * th.randn(32, 5), th.randn(32, 3)
    net.train()(meta, base)  # takes the batch's statistics
    save_file(net.state_dict(), str(tmp_path / "net.safetensors"))
    th.manual_seed(1)
    clone = HyperNetwork(5, 3, 1, dynamic_hidden=(16,), init="hfi", n_members=2)
    clone.load_state_dict(load_file(str(tmp_path / "net.safetensors")))
    assert float(clone.primary.meta_norm.running_count) == 64.0  # type: ignore[union-attr]  (32 samples × 2 members)
    th.testing.assert_close(clone.eval()(meta, base), net.eval()(meta, base), rtol=0, atol=0)


def test_meta_norm_can_be_switched_for_any_scheme() -> None:
    assert HyperNetwork(5, 3, 1, init="kaiming", meta_norm=True).primary.meta_norm is not None
    assert HyperNetwork(5, 3, 1, init="hfi", meta_norm=False).primary.meta_norm is None
    net = HyperNetwork(5, 3, 1, init="weight-hyperinit", meta_norm_momentum=0.01)
    assert net.primary.meta_norm is not None and net.primary.meta_norm.momentum == 0.01
    net.update_meta_stats(th.randn(8, 5))
    assert float(net.primary.meta_norm.running_count) == 8.0
    HyperNetwork(5, 3, 1, init="kaiming").update_meta_stats(th.randn(8, 5))  # a no-op without a normaliser
