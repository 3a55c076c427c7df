"""The reference-score table and the command that regenerates its random column."""

from __future__ import annotations

import json

import pytest

import hyperbench.envs as henvs
from hyperbench.envs.reference import (
    REFERENCE_FILE,
    MissingReferenceError,
    load_reference_table,
    measure_oracle,
    measure_random,
    normalized_score,
    reference_scores,
    write_reference_table,
)

SINGLE_TASK = [
    "Hopper-v5",
    "Walker2d-v5",
    "Ant-v5",
    "HalfCheetah-v5",
    "InvertedDoublePendulum-v5",
    "Reacher-v5",
    "Pendulum-v1",
    "InvertedPendulum-v5",
]
KINDS = {"published", "analytic", "measured", "none"}


def test_table_covers_every_family_and_single_task_env() -> None:
    table = load_reference_table()
    families = {name.split("/")[0] for name in table if name.split("/")[0] in henvs.FAMILIES}
    assert families == set(henvs.FAMILIES)
    assert {"ml1/pick-place-v3", "ml1/push-v3", "ml1/reach-v3"} <= set(table)
    assert set(SINGLE_TASK) <= set(table)
    for row in table.values():
        assert row.reference_kind in KINDS
        assert row.random_protocol.startswith(("uniform-random actions", "scripted")), row
        assert row.reference_source, row
        assert (row.reference is None) == (row.reference_kind == "none"), row
        if row.reference is not None:
            assert row.reference > row.random, row  # normalisation would flip sign otherwise
        if row.reference_kind == "published":
            assert row.reference_source.startswith("published: "), row
        if row.reference_kind == "measured":
            assert "hyperbench envs reference --measure" in row.reference_source, row


def test_reference_scores_lookup() -> None:
    random, reference = reference_scores("Hopper-v5")
    assert reference == 3564.07 and random < 100
    assert reference_scores("hopper-v5") == (random, reference)  # case-insensitive
    assert normalized_score("Hopper-v5", random) == 0.0
    assert normalized_score("Hopper-v5", reference) == pytest.approx(1.0)
    with pytest.raises(KeyError, match=r"Did you mean \['Hopper-v5'"):
        reference_scores("Hoper-v5")
    with pytest.raises(MissingReferenceError, match="no reference return yet"):
        reference_scores("halfcheetah-dir")


@pytest.mark.parametrize("name", ["point-robot", "sparse-point-robot", "gridnavi", "InvertedPendulum-v5"])
def test_stored_random_column_is_reproduced_by_the_measuring_code(name: str) -> None:
    row = load_reference_table()[name]
    random, protocol = measure_random(name)
    assert random == pytest.approx(row.random, rel=1e-12, abs=1e-12)
    assert protocol == row.random_protocol


@pytest.mark.parametrize("name", ["point-robot", "sparse-point-robot", "gridnavi"])
def test_measured_oracle_references_are_reproduced(name: str) -> None:
    row = load_reference_table()[name]
    assert row.reference_kind == "measured"
    reference, _ = measure_oracle(name)
    assert reference == pytest.approx(row.reference, rel=1e-12)


def test_gridnavi_oracle_matches_the_shortest_path_return() -> None:
    # walking d = gx + gy steps: d − 1 steps at −0.1, then +1 for the remaining 15 − d + 1 steps
    fam = henvs.make_family("gridnavi")
    expected = [-0.1 * (sum(t.goal) - 1) + (15 - sum(t.goal) + 1) for t in fam.test_tasks]  # type: ignore[attr-defined]
    assert measure_oracle("gridnavi")[0] == pytest.approx(sum(expected) / len(expected))


def test_write_reference_table_roundtrip(tmp_path: object) -> None:
    path = tmp_path / "scores.json"  # type: ignore[operator]
    path.write_text(REFERENCE_FILE.read_text())
    table = load_reference_table(path)
    write_reference_table(table, path)
    assert load_reference_table(path) == table
    assert json.loads(path.read_text())["regenerate"] == "hyperbench envs reference --measure --write"


@pytest.mark.parametrize("name", ["point-robot", "gridnavi", "InvertedPendulum-v5", "Reacher-v5"])
def test_stored_zero_action_column_is_reproduced_by_the_measuring_code(name: str) -> None:
    from hyperbench.envs.reference import measure_zero_action

    row = load_reference_table()[name]
    zero, protocol = measure_zero_action(name)
    assert row.zero_action == pytest.approx(zero, rel=1e-12, abs=1e-12)
    assert row.zero_action_protocol.startswith(protocol)


def test_every_row_has_a_zero_action_score_or_a_reason() -> None:
    for row in load_reference_table().values():
        if row.zero_action is None:
            assert row.zero_action_protocol.startswith("blank: "), row
        else:
            assert row.zero_action_protocol.startswith(("zero action", "no-op action")), row
            assert "hyperbench envs reference --measure" in row.zero_action_protocol, row
    # GridNavi's documented no-op (stay) never reaches the goal: −0.1 per step for 15 steps
    assert load_reference_table()["gridnavi"].zero_action == pytest.approx(-1.5)


def test_zero_action_of_each_space() -> None:
    import numpy as np
    from gymnasium import spaces

    from hyperbench.envs.reference import NoZeroActionError, remeasure, zero_action

    box = spaces.Box(low=np.array([-1.0, 0.5], dtype=np.float32), high=np.array([1.0, 2.0], dtype=np.float32))
    np.testing.assert_array_equal(zero_action(box, "any"), np.array([0.0, 0.5], dtype=np.float32))  # clipped into bounds
    assert zero_action(spaces.Discrete(5), "gridnavi") == 0
    with pytest.raises(NoZeroActionError, match="without a documented no-op"):
        zero_action(spaces.Discrete(3), "some-discrete-task")
    with pytest.raises(ValueError, match="did you mean 'zero_action'"):
        remeasure(load_reference_table(), ["gridnavi"], ["zero-actoin"])
