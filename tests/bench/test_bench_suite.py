"""Suite files: validation with helpful errors, resolution of overrides, the grid, the shipped suites."""

from __future__ import annotations

from pathlib import Path

import pytest
from hb_bench_helpers import tiny_suite_dict

from hyperbench.bench.registry import get_method, list_methods
from hyperbench.bench.suite import SuiteError, find_suite_file, load_suite, parse_suite

REPO = Path(__file__).resolve().parents[2]


def problems_of(data: dict) -> str:
    with pytest.raises(SuiteError) as info:
        parse_suite(data, source="<test>")
    return str(info.value)


def test_valid_suite_resolves_grid_and_config(tiny_suite):
    suite = tiny_suite(
        seeds=[3, 7],
        methods=["hb-td3-tiny", {"name": "fast", "method": "hb-td3-tiny", "config": {"learning_rate": 0.01}}],
        tasks=[
            "hb/Bandit-v0",
            {"name": "Pendulum-v1", "budget": 300, "eval": {"episodes": 1}, "config": {"learning_starts": 7}},
        ],
        config={"learning_starts": 20},
    )
    grid = suite.grid()
    assert len(grid) == 2 * 2 * 2
    assert [s.seed for s in grid[:4]] == [3, 3, 3, 3]  # seed-major
    by_id = {s.run_id: s for s in grid}
    base = by_id["hb-td3-tiny/hb/Bandit-v0/seed-3"]
    assert base.config == {"learning_rate": 3e-3, "learning_starts": 20}  # registry default ← suite config
    fast_pendulum = by_id["fast/Pendulum-v1/seed-7"]
    # registry ← suite ← task ← method
    assert fast_pendulum.config == {"learning_rate": 0.01, "learning_starts": 7}
    assert fast_pendulum.budget == 300 and fast_pendulum.eval.episodes == 1 and fast_pendulum.eval.frequency == 100
    assert fast_pendulum.method_id == "hb-td3-tiny"
    assert base.config_hash != by_id["hb-td3-tiny/hb/Bandit-v0/seed-7"].config_hash


def test_every_problem_reported_with_closest_names():
    data = tiny_suite_dict(
        methdos=["x"],
        methods=["hb-td3-tiny", "td3-mpl", {"name": "v", "method": "hb-td3-tiny", "config": {"learning_rte": 1}}],
        tasks=["Hoper-v5", "hb/Bandit-v0"],
        baseline="hb-td3-tiny2",
        eval={"frequency": 100, "episods": 3},
    )
    msg = problems_of(data)
    assert "unknown key 'methdos'" in msg and "'methods'" in msg
    assert "unknown method 'td3-mpl'" in msg and "'td3-mlp'" in msg
    assert "unknown setting 'learning_rte'" in msg and "'learning_rate'" in msg
    assert "unknown task 'Hoper-v5'" in msg and "'Hopper-v5'" in msg
    assert "baseline 'hb-td3-tiny2'" in msg
    assert "'episods'" in msg and "missing 'episodes'" in msg


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"seeds": 0}, "seeds: a count must be ≥ 1"),
        ({"seeds": [1, 1]}, "duplicates"),
        ({"budget": -5}, "budget must be ≥ 1"),
        ({"budget": 50}, "eval frequency 100 is larger than its budget 50"),
        ({"version": "one"}, "version must be an integer"),
        ({"name": "Has Spaces"}, "name 'Has Spaces'"),
        ({"methods": [{"name": "a", "method": "hb-td3-tiny", "config": {"learning_rate": "fast"}}]}, "has type str"),
        ({"methods": ["hb-td3-tiny", "hb-td3-tiny"]}, "listed twice"),
        ({"config": {"nonexistent_setting": 1}}, "belongs to none of the suite's methods"),
        ({"config": {"learning_rate": [1, 2]}}, "has type list"),
        (
            {"methods": ["hb-td3-tiny", {"name": "m", "method": "hb-td3-tiny", "tasks": ["Walker"]}]},
            "not a task of this suite",
        ),
        ({"tasks": [{"name": "hb/Bandit-v0", "reference": [1, 1]}]}, "two different numbers"),
    ],
)
def test_single_problems(change, expected):
    assert expected in problems_of(tiny_suite_dict(**change))


def test_overrides_are_plain_values_only():
    # yaml.safe_load produces dates for unquoted dates; anything not plain is rejected, nothing is evaluated
    import datetime

    msg = problems_of(tiny_suite_dict(config={"learning_rate": datetime.date(2024, 1, 1)}))
    assert "plain values" in msg


def test_meta_and_context_methods_need_families():
    msg = problems_of(tiny_suite_dict(methods=["hb-td3-tiny", "hb-meta-stub", "sac-context-mlp"]))
    assert "hb-meta-stub" in msg and "needs a task family" in msg and "sac-context-mlp" in msg
    suite = parse_suite(
        tiny_suite_dict(
            methods=["hb-td3-tiny", {"name": "hb-meta-stub", "tasks": ["point-robot"]}],
            tasks=["hb/Bandit-v0", "point-robot"],
        )
    )
    assert {(s.method, s.task) for s in suite.grid()} == {
        ("hb-td3-tiny", "hb/Bandit-v0"),
        ("hb-td3-tiny", "point-robot"),
        ("hb-meta-stub", "point-robot"),
    }


def test_hash_ignores_formatting_and_description(tmp_path):
    text = Path(REPO / "suites" / "smoke.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text("# a comment\n" + text.replace("description:", "description: changed words."))
    a, b = load_suite(tmp_path / "a.yaml"), load_suite(tmp_path / "b.yaml")
    assert a.hash == b.hash
    (tmp_path / "c.yaml").write_text(text.replace("version: ", "version: 9", 1) if "version: 9" not in text else text)
    assert load_suite(tmp_path / "c.yaml").hash != a.hash


def test_find_suite_by_name_and_suggestions():
    assert find_suite_file("smoke") == REPO / "suites" / "smoke.yaml"
    with pytest.raises(FileNotFoundError, match="'smoke'"):
        find_suite_file("smok")


CRITICS = ("mlp", "sa-hyper", "as-hyper", "mlp-small", "mlp-large", "resnet-features", "res35", "d2rl")
REQUIRED_METHODS = [f"{algo}-{critic}" for algo in ("td3", "sac") for critic in CRITICS] + [
    "tqc-sa-hyper",
    "tqc-mlp",
    "sac-context-mlp",
    "sac-context-hyper",
]


def test_registry_has_the_issue_methods():
    assert set(REQUIRED_METHODS) <= set(list_methods())
    assert get_method("td3-sa-hyper").defaults["critic_lr"] == 5e-5
    assert get_method("td3-mlp").defaults["learning_rate"] == 3e-4


SHIPPED_SUITES = sorted(p.stem for p in (Path(__file__).parents[2] / "suites").glob("*.yaml"))


def test_the_issue_suites_ship():
    assert {"smoke", "mini-rl", "paper-rl"} <= set(SHIPPED_SUITES)


@pytest.mark.parametrize("name", SHIPPED_SUITES)
def test_shipped_suites_validate(name):
    suite = load_suite(name)
    assert suite.name == name and suite.grid()


def _ships_with_hyperbench(factory: object) -> bool:
    if isinstance(factory, str):
        return factory.startswith("hyperbench.")
    module = getattr(getattr(factory, "func", factory), "__module__", "")
    return module.startswith("hyperbench.")


def test_smoke_covers_every_registered_method():
    smoke = load_suite("smoke")
    used = {m.method for m in smoke.methods}
    builtin = [m for m in list_methods() if _ships_with_hyperbench(get_method(m).factory)]  # not tests' methods
    assert set(builtin) <= used, f"smoke misses {sorted(set(builtin) - used)}"
    assert any(m.config.get("preset") == "paper" for m in smoke.methods), "smoke must exercise the paper preset once"


def test_paper_rl_is_the_paper_protocol():
    suite = load_suite("paper-rl")
    assert set(suite.task_names) == {"Hopper-v5", "Walker2d-v5", "Ant-v5", "HalfCheetah-v5"}
    assert len(suite.seeds) == 5 and suite.budget == 1_000_000
    assert {m.method for m in suite.methods} == {f"{a}-{c}" for a in ("td3", "sac") for c in CRITICS}
    # each algorithm's methods are compared with that algorithm's MLP critic, as in the paper
    assert {m.name: suite.baseline_of(m.name) for m in suite.methods} == {
        m.name: m.name.split("-")[0] + "-mlp" for m in suite.methods
    }
    assert len(suite.grid()) == 4 * 16 * 5


def test_paper_rl_dry_run(tmp_path, capsys):
    from hyperbench.cli import main

    assert main(["run", "paper-rl", "--dry-run", "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "320 runs = 16 methods × 4 tasks × 5 seeds" in out
    assert "td3-sa-hyper" in out and "estimated compute" in out
    assert not (tmp_path / "runs" / "records").exists()  # a dry run runs nothing


def test_incompatible_method_and_task_are_rejected_with_the_reason():
    # MAML's Gaussian policy cannot act in GridNavi's Discrete action space; TD3 neither
    msg = problems_of(tiny_suite_dict(methods=["hb-td3-tiny", "maml", "td3-mlp"], baseline="maml", tasks=["gridnavi"]))
    assert "method 'maml' cannot run on task 'gridnavi': maml acts in box action spaces" in msg
    assert "'gridnavi' has a discrete action space" in msg and "td3-mlp acts in box" in msg
    assert "hb-td3-tiny" not in msg  # a plugin method that declares no requirement is not second-guessed
    # restricted to the tasks it can run on, the same suite validates
    suite = parse_suite(
        tiny_suite_dict(
            methods=[{"name": "maml", "tasks": ["point-robot"]}, "hb-meta-stub"],
            baseline="hb-meta-stub",
            tasks=["gridnavi", "point-robot"],
        )
    )
    assert {(s.method, s.task) for s in suite.grid()} >= {("maml", "point-robot"), ("hb-meta-stub", "gridnavi")}


def test_requirements_name_what_is_missing():
    from hyperbench.bench.registry import Requirements, TaskCapabilities

    caps = TaskCapabilities(is_family=True, action_kind="box", has_context=False, multi_episode=False)
    problems = Requirements(needs_context=True, episodes_per_task=4).problems("my-varibad", "one-shot", caps)
    assert problems == [
        "my-varibad conditions on the task's oracle context, which 'one-shot' does not provide",
        "my-varibad needs 4 episodes of one task per meta-episode, but 'one-shot' does not keep its task across episodes",
    ]
