"""Claims as data: the registry, the rules on tiny fake results directories, the table, the CLI and the README."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from hyperbench.bench.files import atomic_write_json
from hyperbench.bench.record import record_path
from hyperbench.bench.suite import SuiteError, parse_suite
from hyperbench.claims.cli import README_BEGIN, README_END, replace_readme_table
from hyperbench.claims.evaluate import VERDICTS, evaluate_claim, evaluate_claims, steps_fraction
from hyperbench.claims.registry import CLAIMS, RULE_KINDS, Claim, Evidence, UnknownClaimError, get_claim
from hyperbench.claims.table import claims_json, claims_markdown, findings_from_json
from tests.bench.hb_bench_helpers import make_record

REPO = Path(__file__).resolve().parents[2]
REF = {"task-a": (0.0, 100.0), "task-b": (-50.0, 50.0)}


def _reference(task: str) -> tuple[float, float] | None:
    return REF.get(task)


def _write_runs(
    root: Path,
    name: str,
    finals: dict[str, np.ndarray],
    claims: list[dict[str, str]] | None = None,
    missing: tuple[str, str, int] | None = None,
) -> Path:
    """A results directory: ``finals[method][seed, task]`` final returns on task-a / task-b, 4-point curves."""
    runs = root / "results" / name
    tasks = ["task-a", "task-b"]
    seeds = list(range(next(iter(finals.values())).shape[0]))
    for m, arr in finals.items():
        for s in seeds:
            for j, t in enumerate(tasks):
                if missing == (m, t, s):
                    continue
                final = float(arr[s, j])
                curve = [REF[t][0] + (final - REF[t][0]) * k / 4 for k in (1, 2, 3, 4)]
                make_record(m, t, s, curve).save(record_path(runs, m, t, s))
    suite: dict[str, object] = {
        "name": name,
        "version": 1,
        "hash": "0" * 16,
        "description": "",
        "baseline": "mlp",
        "seeds": seeds,
        "budget": 400,
        "eval": {"frequency": 100, "episodes": 1, "max_tasks": None},
        "config": {},
        "methods": [{"name": m, "method": m, "config": {}, "tasks": None, "baseline": None} for m in finals],
        "tasks": [{"name": t, "budget": None, "eval": {}, "config": {}, "env_kwargs": {}, "reference": None} for t in tasks],
    }
    if claims:
        suite["claims"] = claims
    atomic_write_json(runs / "suite.json", suite)
    return runs


def _claim(kind: str, evidence: tuple[Evidence, ...], params: dict[str, float] | None = None) -> Claim:
    base = CLAIMS["sa-hyper-final-return"] if kind == "better" else CLAIMS["sa-hyper-steps-to-baseline"]
    rule = type(base.rule)(kind, base.rule.text, params if params is not None else dict(base.rule.params))
    return Claim(base.id, base.paper, base.where, base.statement, base.paper_figure, "test", rule, evidence)


PREREG = [{"id": "sa-hyper-final-return", "method": "hyper", "baseline": "mlp", "rule": "Δ CI > 0 and P lower > 0.5"}]


def _finals(shift: float, n: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mlp = np.column_stack([rng.normal(40, 5, n), rng.normal(0, 5, n)])
    hyper = mlp + np.array([shift, shift]) + rng.normal(0, 1, (n, 2))
    return {"hyper": hyper, "mlp": mlp}


def test_registry_is_complete_and_consistent() -> None:
    wanted = {
        "sa-hyper-final-return",
        "sa-hyper-steps-to-baseline",
        "as-hyper-worse",
        "sa-hyper-gradient-accuracy",
        "hyper-maml-order",
        "hyper-maml-no-adaptation",
        "hyper-maml-lower-variance",
        "hyper-pearl-final-return",
        "hyper-pearl-steps",
        "hyper-pearl-ood",
        "hyperinit-kaiming-fails",
        "hyperinit-bias-vs-others",
        "hyper-varibad",
    }
    assert wanted <= set(CLAIMS)
    for c in CLAIMS.values():
        assert c.rule.kind in RULE_KINDS and c.rule.text and c.paper_figure and c.test
        assert (c.rule.kind == "none") == (not c.evidence), c.id
    with pytest.raises(UnknownClaimError, match="sa-hyper-final-return"):
        get_claim("sa-hyper-final-retrun")


@pytest.mark.parametrize(
    ("shift", "verdict"), [(10.0, "supported"), (-10.0, "not supported"), (0.0, "inconclusive at this scale")]
)
def test_better_rule_on_a_preregistered_suite(tmp_path: Path, shift: float, verdict: str) -> None:
    _write_runs(tmp_path, "conf", _finals(shift), claims=PREREG)
    claim = _claim("better", (Evidence("results/conf", ("hyper", "mlp"), "conf", confirmatory=True),))
    (f,) = evaluate_claim(claim, tmp_path, reps=300, reference=_reference)
    assert f.kind == "confirmatory"
    assert f.verdict == verdict, f
    delta = f.values["delta"]  # type: ignore[index]
    # the point estimate is the mean of per-task normalised differences
    assert delta[1] <= delta[0] <= delta[2]
    assert np.sign(delta[0]) == np.sign(shift) or shift == 0.0
    assert f.scale == "2 tasks (task-a, task-b) × 10 seeds, 400 steps"


def test_a_suite_without_the_preregistered_rule_is_only_exploratory(tmp_path: Path) -> None:
    _write_runs(tmp_path, "conf", _finals(10.0))  # same data, but no claims: field in its suite
    claim = _claim("better", (Evidence("results/conf", ("hyper", "mlp"), "conf", confirmatory=True),))
    (f,) = evaluate_claim(claim, tmp_path, reps=300, reference=_reference)
    assert (f.kind, f.verdict, f.rule_verdict) == ("exploratory", "exploratory", "supported")
    md = claims_markdown([f], {claim.id: claim})
    assert "| exploratory (rule would say: supported) |" in md
    assert "**supported**" not in md


def test_an_incomplete_confirmatory_grid_is_not_yet_run(tmp_path: Path) -> None:
    _write_runs(tmp_path, "conf", _finals(10.0), claims=PREREG, missing=("hyper", "task-b", 3))
    claim = _claim("better", (Evidence("results/conf", ("hyper", "mlp"), "conf", confirmatory=True),))
    (f,) = evaluate_claim(claim, tmp_path, reps=300, reference=_reference)
    assert (f.verdict, f.figure, f.scale) == ("not yet run", "—", "39 of 40 runs done")
    (g,) = evaluate_claim(claim, tmp_path / "nowhere", reps=300, reference=_reference)
    assert g.verdict == "not yet run" and "suite.json" in g.scale


def test_steps_fraction_and_rule(tmp_path: Path) -> None:
    steps = np.array([100, 200, 300, 400])
    fast = np.tile([50.0, 80.0, 90.0, 95.0], (6, 1))
    assert steps_fraction(steps, fast, np.full(6, 60.0), 400, reps=200) == (0.5, 0.5, 0.5)
    slow = np.tile([10.0, 20.0, 30.0, 40.0], (6, 1))
    point, low, high = steps_fraction(steps, slow, np.full(6, 60.0), 400, reps=200)
    assert np.isinf(point) and np.isinf(low) and np.isinf(high)

    # fake suites: the 'hyper' curve is linear to a higher final score, so it passes the baseline's final early
    _write_runs(tmp_path, "conf", _finals(30.0), claims=PREREG)
    claim = _claim("fewer-steps", (Evidence("results/conf", ("hyper", "mlp"), "conf"),))
    (f,) = evaluate_claim(claim, tmp_path, reps=300, reference=_reference)
    assert f.rule_verdict == "supported" and f.verdict == "exploratory"
    _write_runs(tmp_path, "worse", _finals(-30.0))
    claim = _claim("fewer-steps", (Evidence("results/worse", ("hyper", "mlp"), "worse"),))
    (g,) = evaluate_claim(claim, tmp_path, reps=300, reference=_reference)
    assert g.rule_verdict == "not supported" and "never" in g.figure


def _write_grad_cs(runs: Path, method: str, means_per_seed: np.ndarray) -> None:
    """grad_cs.json files as the runner's callback writes them: two measurements per run."""
    from hyperbench.bench.record import task_slug
    from hyperbench.diagnostics.grad_cs_callback import CURVE_KIND

    for task in ("task-a", "task-b"):
        for s, mean in enumerate(means_per_seed):
            doc = {
                "kind": CURVE_KIND,
                "schema_version": 1,
                "label": method,
                "steps_requested": [100, 200],
                "measurements": [
                    {"step": 100, "summary": {"mean_cs": float(mean) - 0.05}},
                    {"step": 200, "summary": {"mean_cs": float(mean) + 0.05}},
                ],
            }
            atomic_write_json(runs / "diagnostics" / method / task_slug(task) / f"seed-{s}" / "grad_cs.json", doc)


@pytest.mark.parametrize(
    ("gap", "verdict"), [(0.3, "supported"), (-0.3, "not supported"), (0.0, "inconclusive at this scale")]
)
def test_grad_cs_rule_reads_the_suites_diagnostics(tmp_path: Path, gap: float, verdict: str) -> None:
    prereg = [{"id": "sa-hyper-gradient-accuracy", "method": "hyper", "baseline": "mlp", "rule": "Δ CI > 0"}]
    runs = _write_runs(tmp_path, "conf", {**_finals(0.0), "as": _finals(0.0)["mlp"]}, claims=prereg)
    rng = np.random.default_rng(1)
    base = rng.normal(0.2, 0.1, 10)
    _write_grad_cs(runs, "mlp", base)
    _write_grad_cs(runs, "hyper", base + gap + rng.normal(0, 0.02, 10))
    _write_grad_cs(runs, "as", base - 0.1)
    ev = Evidence("results/conf", ("hyper", "mlp", "as"), "conf", confirmatory=True)
    claim = dataclasses.replace(CLAIMS["sa-hyper-gradient-accuracy"], evidence=(ev,))
    (f,) = evaluate_claim(claim, tmp_path, reps=300)
    assert (f.kind, f.verdict) == ("confirmatory", verdict), f
    values = f.values or {}
    assert values["runs"] == {"hyper": 20, "mlp": 20, "as": 20}  # 2 tasks × 10 seeds, each the mean of 2 steps
    assert values["delta"][0] == pytest.approx(gap, abs=0.02)
    assert values["delta_vs_as"][0] == pytest.approx(gap + 0.1, abs=0.02) and "vs as" in f.figure
    # a missing measurement file leaves the claim not yet run instead of deciding on fewer runs
    (runs / "diagnostics" / "as" / "task-b" / "seed-3" / "grad_cs.json").unlink()
    (g,) = evaluate_claim(claim, tmp_path, reps=300)
    assert g.verdict == "not yet run" and "no grad-cs measurement for as on task-b, seed 3" in g.scale


def test_table_and_json_round_trip(tmp_path: Path) -> None:
    _write_runs(tmp_path, "conf", _finals(10.0), claims=PREREG)
    claims = {
        "sa-hyper-final-return": _claim("better", (Evidence("results/conf", ("hyper", "mlp"), "conf", confirmatory=True),)),
        "hyper-varibad": CLAIMS["hyper-varibad"],
    }
    findings = evaluate_claims(tmp_path, claims, reps=300, reference=_reference)
    absent = len(CLAIMS["hyper-varibad"].evidence)  # none of its results directories exist under tmp_path
    assert [f.verdict for f in findings] == ["supported"] + ["not yet run"] * absent
    data = json.loads(json.dumps(claims_json(findings, claims)))
    assert findings_from_json(data) == findings
    md = claims_markdown(findings, claims)
    assert sum(line.startswith("| ") for line in md.splitlines()) == 2 + absent
    assert "| **supported** |" in md and "| not yet run |" in md
    assert all(f.verdict in VERDICTS for f in findings)


def test_suite_claims_field_is_validated() -> None:
    base = {
        "name": "s",
        "version": 1,
        "baseline": "td3-mlp",
        "seeds": [1000],
        "budget": 100,
        "eval": {"frequency": 100, "episodes": 1},
        "methods": ["td3-mlp", "td3-sa-hyper"],
        "tasks": ["Pendulum-v1"],
    }
    plain = parse_suite(base)
    ok = parse_suite(
        {**base, "claims": [{"id": "sa-hyper-final-return", "method": "td3-sa-hyper", "baseline": "td3-mlp", "rule": "x"}]}
    )
    assert ok.claims[0].method == "td3-sa-hyper" and "claims" in ok.to_dict() and "claims" not in plain.to_dict()
    assert ok.hash != plain.hash  # a pre-registered rule is part of the suite's identity
    with pytest.raises(SuiteError) as err:
        parse_suite(
            {**base, "claims": [{"id": "sa-hyper-final-retrun", "method": "td3-sa-hyperr", "baseline": "td3-mlp", "rul": "x"}]}
        )
    text = str(err.value)
    assert "unknown key 'rul'" in text and "'rule' must be non-empty" in text
    with pytest.raises(SuiteError) as err:
        parse_suite(
            {
                **base,
                "claims": [{"id": "sa-hyper-final-retrun", "method": "td3-sa-hyperr", "baseline": "td3-mlp", "rule": "x"}],
            }
        )
    text = str(err.value)
    assert "did you mean 'sa-hyper-final-return'" in text and "did you mean 'td3-sa-hyper'" in text


def test_readme_block_replacement() -> None:
    text = f"intro\n{README_BEGIN}\nold\n{README_END}\nrest\n"
    assert replace_readme_table(text, "| new |\n") == f"intro\n{README_BEGIN}\n\n| new |\n\n{README_END}\nrest\n"
    with pytest.raises(ValueError, match="no claims block"):
        replace_readme_table("no markers", "x")


def test_readme_table_is_the_commands_output() -> None:
    """README and leaderboard show what `hyperbench claims` wrote to results/claims/claims.json (rendered again here)."""
    data = json.loads((REPO / "results" / "claims" / "claims.json").read_text(encoding="utf-8"))
    table = claims_markdown(findings_from_json(data))
    assert (REPO / "results" / "claims" / "claims.md").read_text(encoding="utf-8") == table
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert replace_readme_table(readme, table) == readme


@pytest.mark.slow
def test_committed_claims_json_is_reproducible() -> None:
    """Recomputing every claim from the committed results gives the committed claims.json (bootstrap seed 0)."""
    data = json.loads((REPO / "results" / "claims" / "claims.json").read_text(encoding="utf-8"))
    assert claims_json(evaluate_claims(REPO)) == json.loads(json.dumps(data))


def test_leaderboard_build_shows_the_claims_section(tmp_path: Path) -> None:
    from hyperbench.leaderboard.board import Leaderboard
    from hyperbench.leaderboard.build import build_board

    _write_runs(tmp_path, "conf", _finals(10.0), claims=PREREG)
    claims = {
        "sa-hyper-final-return": _claim("better", (Evidence("results/conf", ("hyper", "mlp"), "conf <b>", confirmatory=True),))
    }
    data = claims_json(evaluate_claims(tmp_path, claims, reps=200, reference=_reference), claims)
    board = Leaderboard(tmp_path / "board")
    plain = build_board(board, plots=False)
    assert "Paper claims" not in plain.markdown.read_text()
    atomic_write_json(board.root / "claims.json", data)
    result = build_board(board, plots=False)
    md, html = result.markdown.read_text(), result.html.read_text()
    assert "## Paper claims" in md and "| **supported** |" in md
    assert '<section id="paper-claims">' in html and "conf &lt;b&gt; (confirmatory)" in html and "<td>supported</td>" in html
    assert html.rstrip().endswith("</body></html>")


def test_cli_rejects_bad_input_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hyperbench.cli import main

    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    out = tmp_path / "out"
    assert main(["claims", "--root", str(tmp_path), "--out", str(out), "--readme", str(readme)]) == 2
    assert "has no claims block" in capsys.readouterr().err
    assert main(["claims", "--root", str(tmp_path), "--out", str(out), "--board", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert not out.exists() and readme.read_text() == "no markers here\n"
    assert main(["claims", "--rules"]) == 0
    assert "sa-hyper-final-return" in capsys.readouterr().out


@pytest.mark.slow
def test_readme_claims_commands_run(tmp_path: Path) -> None:
    """The README's `hyperbench claims` block runs (output redirected to a temporary directory)."""
    from hyperbench.cli import main

    section = (REPO / "README.md").read_text(encoding="utf-8").split("<!-- section: claims -->", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].split() for line in block.splitlines() if line.strip()]
    assert commands and all(c[:2] == ["hyperbench", "claims"] for c in commands)
    for c in commands:
        assert main([*c[1:], "--root", str(REPO), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "claims.json").is_file()
