"""The papers' claims as data: what each paper says, what tests it here, and the rule that decides it.

Every :class:`Claim` names its source (paper, figure or section, the paper's number), the suite or
diagnostic that tests it, its decision :class:`Rule` (written down before any confirmatory run) and the
:class:`Evidence` we have: results directories of this repository, each either **confirmatory** (a suite
that pre-registered the claim in its ``claims:`` field before it ran, on seeds never used before) or
**exploratory** (anything else; an exploratory result is never reported as "supported").

This module is plain data with no heavy imports: the suite validator reads :data:`CLAIMS` to check a
suite's ``claims:`` ids. The arithmetic is in :mod:`hyperbench.claims.evaluate`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["CLAIMS", "RULE_KINDS", "Claim", "Evidence", "Rule", "UnknownClaimError", "get_claim"]

SARAFIAN = "Sarafian, Keynan & Kraus, ICML 2021"
BECK = "Beck, Jackson, Vuorio & Whiteson, CoRL 2022"

#: Rule kinds :mod:`hyperbench.claims.evaluate` knows how to decide (``none``: nothing can test it yet).
RULE_KINDS: tuple[str, ...] = (
    "better",
    "worse",
    "fewer-steps",
    "order",
    "no-adaptation",
    "lower-variance",
    "higher-grad-cs",
    "none",
)


@dataclass(frozen=True)
class Rule:
    """A decision rule: the kind of comparison, its thresholds, and the same in words."""

    kind: str
    """one of :data:`RULE_KINDS`"""
    text: str
    """the rule in words (metric, comparison, threshold, seeds)"""
    params: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    """thresholds the evaluator reads (see each kind in :mod:`hyperbench.claims.evaluate`)"""


@dataclass(frozen=True)
class Evidence:
    """One results directory that bears on a claim."""

    results: str
    """directory relative to the repository root: a suite's runs (``records/``) or a diagnostic's output"""
    methods: tuple[str, ...]
    """the methods compared, claimed-better first (``better``: (method, baseline); ``order``: best to worst)"""
    label: str
    """short name in the table"""
    confirmatory: bool = False
    """``True`` only for suites that pre-register this claim for these methods (checked when evaluated)"""
    tasks: tuple[str, ...] | None = None
    """restrict to these tasks (``None``: every task the methods share)"""
    source: str = "suite"
    """``suite`` (run records), ``maml-study`` (its ``summary.json``) or ``maml-variance`` (its JSON files)"""


@dataclass(frozen=True)
class Claim:
    """A claim of one of the papers."""

    id: str
    paper: str
    """authors, venue, year"""
    where: str
    """figure, table or section"""
    statement: str
    """what the paper claims, in one line"""
    paper_figure: str
    """the paper's number and the scale it was measured at"""
    test: str
    """the suite or diagnostic of this repository that tests it (or what is missing)"""
    rule: Rule
    evidence: tuple[Evidence, ...] = ()


_BETTER = Rule(
    "better",
    "Per algorithm, on the suite's tasks and seeds: Δ = mean normalised final return (method) − (MLP baseline), "
    "averaged over tasks, 95% stratified-bootstrap CI (each method's runs resampled within each task, 2000 reps); "
    "P = P(method > baseline), rliable's probability of improvement, with its CI. Supported if Δ's CI is above 0 "
    "and P's lower bound is above 0.5; not supported if Δ's CI is entirely ≤ 0; otherwise inconclusive at this scale.",
    MappingProxyType({"delta": 0.0, "poi": 0.5}),
)

_STEPS = Rule(
    "fewer-steps",
    "Per algorithm and task: f = first evaluation step at which the method's mean learning curve (over seeds) "
    "reaches the baseline's mean final return, as a fraction of the budget (never: ∞), 95% percentile bootstrap "
    "CI over each method's seeds (2000 reps). Supported if f's upper bound is below 1 on every task; not "
    "supported if f's lower bound is ≥ 1 on every task; otherwise inconclusive at this scale.",
    MappingProxyType({"fraction": 1.0}),
)

_PEARL_TEST = "suites/mini-pearl.yaml (confirmatory, Point-Robot, 5 seeds)"
_PEARL_EVIDENCE = (Evidence("results/mini-pearl", ("hyper-pearl", "pearl"), "mini-pearl", True),)
_HYPERINIT_TEST = (
    "suites/mini-hyperinit.yaml (200k steps) and suites/confirm-hyperinit-gridnavi.yaml (600k steps) on GridNavi, "
    "suites/confirm-hyperinit-point.yaml (480k steps, Kaiming and Bias-HyperInit only) on Point-Robot; "
    "all confirmatory, 5 seeds each"
)
_CONFIRM_HYPERINIT = "results/confirm-hyperinit-gridnavi"
_CONFIRM_POINT = "results/confirm-hyperinit-point"
_SA_HYPER_TEST = (
    "suites/confirm-sa-hyper-sac.yaml, suites/confirm-sa-hyper-td3.yaml (confirmatory); mini-rl, mini-rl-lr (exploratory)"
)

CLAIMS: Mapping[str, Claim] = MappingProxyType(
    {
        c.id: c
        for c in (
            Claim(
                id="sa-hyper-final-return",
                paper=SARAFIAN,
                where="Fig. 6a–b, §5.3",
                statement="SA-Hyper critics beat MLP-Standard critics on final return (TD3 and SAC)",
                paper_figure="+10% to +70% final return over MLP-Standard (Hopper, Walker2d, Ant, HalfCheetah; 1M steps, 5 seeds)",  # noqa: E501
                test=_SA_HYPER_TEST,
                rule=_BETTER,
                evidence=(
                    Evidence(
                        "results/confirm-sa-hyper-td3", ("td3-sa-hyper-lite-lr3e-4", "td3-mlp"), "confirm-sa-hyper-td3", True
                    ),
                    Evidence(
                        "results/confirm-sa-hyper-sac", ("sac-sa-hyper-lite-lr3e-4", "sac-mlp"), "confirm-sa-hyper-sac", True
                    ),
                    Evidence("results/mini-rl", ("td3-sa-hyper-lite", "td3-mlp"), "mini-rl TD3"),
                    Evidence("results/mini-rl", ("sac-sa-hyper-lite", "sac-mlp"), "mini-rl SAC"),
                    Evidence("results/mini-rl-lr", ("td3-sa-hyper-lite-lr3e-4", "td3-mlp"), "mini-rl-lr TD3"),
                    Evidence("results/mini-rl-lr", ("sac-sa-hyper-lite-lr3e-4", "sac-mlp"), "mini-rl-lr SAC"),
                ),
            ),
            Claim(
                id="sa-hyper-steps-to-baseline",
                paper=SARAFIAN,
                where="Fig. 6a–b, §5.3",
                statement="SA-Hyper reaches MLP-Standard's final score in fewer steps",
                paper_figure="in 20%–70% of the steps (same runs as above)",
                test=_SA_HYPER_TEST,
                rule=_STEPS,
                evidence=(
                    Evidence(
                        "results/confirm-sa-hyper-td3", ("td3-sa-hyper-lite-lr3e-4", "td3-mlp"), "confirm-sa-hyper-td3", True
                    ),
                    Evidence(
                        "results/confirm-sa-hyper-sac", ("sac-sa-hyper-lite-lr3e-4", "sac-mlp"), "confirm-sa-hyper-sac", True
                    ),
                    Evidence("results/mini-rl-lr", ("td3-sa-hyper-lite-lr3e-4", "td3-mlp"), "mini-rl-lr TD3"),
                    Evidence("results/mini-rl-lr", ("sac-sa-hyper-lite-lr3e-4", "sac-mlp"), "mini-rl-lr SAC"),
                ),
            ),
            Claim(
                id="as-hyper-worse",
                paper=SARAFIAN,
                where="Fig. 4, §3",
                statement="AS-Hyper critics (action → weights over the state) are worse than MLP-Standard",
                paper_figure="AS-Hyper below MLP-Standard on the learning curves (4 MuJoCo tasks)",
                test="suites/confirm-sa-hyper-td3.yaml (confirmatory); mini-rl (exploratory)",
                rule=Rule(
                    "worse",
                    "As for the final-return claim with the direction reversed: supported if Δ's CI is below 0 and "
                    "P(AS-Hyper > MLP)'s upper bound is below 0.5; not supported if Δ's CI is entirely ≥ 0; "
                    "otherwise inconclusive at this scale.",
                    MappingProxyType({"delta": 0.0, "poi": 0.5}),
                ),
                evidence=(
                    Evidence(
                        "results/confirm-sa-hyper-td3", ("td3-as-hyper-lite-lr3e-4", "td3-mlp"), "confirm-sa-hyper-td3", True
                    ),
                    Evidence("results/mini-rl", ("td3-as-hyper-lite", "td3-mlp"), "mini-rl TD3"),
                    Evidence("results/mini-rl", ("sac-as-hyper-lite", "sac-mlp"), "mini-rl SAC"),
                ),
            ),
            Claim(
                id="sa-hyper-gradient-accuracy",
                paper=SARAFIAN,
                where="Fig. 3, §3",
                statement="SA-Hyper's ∇ₐQ is more accurate (cosine similarity with the true gradient), above all early",
                paper_figure="higher mean CS than MLP and AS-Hyper, > 0 throughout, largest gap in the first 100k steps",
                test="suites/confirm-sa-hyper-td3.yaml (grad-cs at 2k and 5k steps, confirmatory)",
                rule=Rule(
                    "higher-grad-cs",
                    "Per run: the mean cosine similarity between the critic's and the estimated true ∇ₐQ over the "
                    "measured states, averaged over the suite's early-training measurements. Δ = mean over seeds of "
                    "SA-Hyper minus MLP, 95% percentile-bootstrap CI resampling each method's seeds (2000 reps). "
                    "Supported if Δ's lower bound is above 0; not supported if its upper bound is ≤ 0; otherwise "
                    "inconclusive at this scale. SA-Hyper minus AS-Hyper is reported alongside, not deciding.",
                    MappingProxyType({"delta": 0.0}),
                ),
                evidence=(
                    Evidence(
                        "results/confirm-sa-hyper-td3",
                        ("td3-sa-hyper-lite-lr3e-4", "td3-mlp", "td3-as-hyper-lite-lr3e-4"),
                        "confirm-sa-hyper-td3",
                        True,
                    ),
                ),
            ),
            Claim(
                id="hyper-maml-order",
                paper=SARAFIAN,
                where="Fig. 6c, §5.3",
                statement="Hyper-MAML > Context-MAML > MAML (after adaptation)",
                paper_figure="Hyper-MAML ≈ +50% over Context-MAML; Context-MAML above MAML",
                test="suites/mini-maml.yaml (exploratory)",
                rule=Rule(
                    "order",
                    "For each consecutive pair, P(better > worse) on the normalised post-adaptation score with its "
                    "95% stratified-bootstrap CI. Supported if every lower bound is above 0.5; not supported if any "
                    "upper bound is below 0.5; otherwise inconclusive at this scale.",
                    MappingProxyType({"poi": 0.5}),
                ),
                evidence=(
                    Evidence(
                        "results/mini-maml-suite",
                        ("hyper-maml", "context-maml", "maml"),
                        "mini-maml Point-Robot",
                        tasks=("point-robot",),
                    ),
                ),
            ),
            Claim(
                id="hyper-maml-no-adaptation",
                paper=SARAFIAN,
                where="§5.3",
                statement="Hyper-MAML needs no adaptation step (pre- ≈ post-adaptation score)",
                paper_figure="no observable difference between pre- and post-adaptation scores",
                test="hyperbench diagnose maml-study (exploratory)",
                rule=Rule(
                    "no-adaptation",
                    "Normalised post − pre-adaptation score of Hyper-MAML, mean over seeds with a 95% bootstrap CI. "
                    "Supported if the CI lies within ±0.03 while Context-MAML's lower bound is above 0.03; not "
                    "supported if Hyper-MAML's CI lies outside ±0.03; otherwise inconclusive at this scale. With the "
                    "paper's inner step (5e-5) Hyper-MAML's step is small by construction.",
                    MappingProxyType({"margin": 0.03}),
                ),
                evidence=(
                    Evidence(
                        "results/mini-maml",
                        ("hyper-maml", "context-maml"),
                        "mini-maml Point-Robot",
                        tasks=("point-robot",),
                        source="maml-study",
                    ),
                ),
            ),
            Claim(
                id="hyper-maml-lower-variance",
                paper=SARAFIAN,
                where="Fig. 5, §4",
                statement="Hypernetwork meta-policies have lower meta-gradient variance than Context-MAML",
                paper_figure="spread of returns after 50 independent meta-gradient steps much lower, every task",
                test="hyperbench diagnose maml-variance (exploratory)",
                rule=Rule(
                    "lower-variance",
                    "Ratio of the standard deviations of the returns after K independent meta-gradient steps "
                    "(Hyper-MAML / Context-MAML), 95% bootstrap CI over the K estimates. Supported if the upper "
                    "bound is below 1; not supported if the lower bound is ≥ 1; otherwise inconclusive at this scale.",
                    MappingProxyType({"ratio": 1.0}),
                ),
                evidence=(
                    Evidence(
                        "results/mini-maml/variance",
                        ("hyper-maml", "context-maml"),
                        "mini-maml Point-Robot (K = 50)",
                        tasks=("point-robot",),
                        source="maml-variance",
                    ),
                ),
            ),
            Claim(
                id="hyper-pearl-final-return",
                paper=SARAFIAN,
                where="Fig. 6d, §5.3",
                statement="Hyper-PEARL beats PEARL on final return",
                paper_figure="+15% final return",
                test=_PEARL_TEST,
                rule=_BETTER,
                evidence=_PEARL_EVIDENCE,
            ),
            Claim(
                id="hyper-pearl-steps",
                paper=SARAFIAN,
                where="Fig. 6d, §5.3",
                statement="Hyper-PEARL reaches PEARL's final score in fewer steps",
                paper_figure="70% fewer steps",
                test=_PEARL_TEST,
                rule=_STEPS,
                evidence=_PEARL_EVIDENCE,
            ),
            Claim(
                id="hyper-pearl-ood",
                paper=SARAFIAN,
                where="Fig. 7, §5.3",
                statement="Hyper-PEARL generalises better out of distribution (HalfCheetah-Vel-Medium)",
                paper_figure="higher return on the OOD test velocities U[2.5, 3]",
                test=(
                    "a GPU run: mini-pearl is Point-Robot only "
                    "(HalfCheetah-Vel-Medium at the paper's budget does not fit a CPU)"
                ),
                rule=Rule("none", "To be fixed before the run: final-return rule on the family's ood_test_tasks."),
            ),
            Claim(
                id="hyperinit-kaiming-fails",
                paper=BECK,
                where="Fig. 1 (claim 1)",
                statement="A Kaiming-initialised hypernetwork fails where Bias-HyperInit works",
                paper_figure="Cheetah-Dir ≈ 378 (Kaiming hypernetwork) vs ≈ 2300 (Bias-HyperInit), ≈ 2100 standard network",
                test=_HYPERINIT_TEST,
                rule=_BETTER,
                evidence=(
                    Evidence(
                        "results/mini-hyperinit",
                        ("hyper-varibad-bias-hyperinit", "hyper-varibad-kaiming"),
                        "mini-hyperinit",
                        True,
                    ),
                    Evidence(
                        _CONFIRM_HYPERINIT,
                        ("hyper-varibad-bias-hyperinit", "hyper-varibad-kaiming"),
                        "confirm-hyperinit-gridnavi",
                        True,
                    ),
                    Evidence(
                        _CONFIRM_POINT,
                        ("hyper-varibad-bias-hyperinit", "hyper-varibad-kaiming"),
                        "confirm-hyperinit-point",
                        True,
                    ),
                ),
            ),
            Claim(
                id="hyperinit-bias-vs-others",
                paper=BECK,
                where="Fig. 1 (claim 2)",
                statement="Bias-HyperInit matches or beats HFI and Weight-HyperInit",
                paper_figure="Bias-HyperInit ≥ HFI (the supervised-learning state of the art) and Weight-HyperInit",
                test=_HYPERINIT_TEST,
                rule=_BETTER,
                evidence=(
                    Evidence("results/mini-hyperinit", ("hyper-varibad-bias-hyperinit", "hyper-varibad-hfi"), "vs HFI", True),
                    Evidence(
                        "results/mini-hyperinit",
                        ("hyper-varibad-bias-hyperinit", "hyper-varibad-weight-hyperinit"),
                        "vs Weight-HyperInit",
                        True,
                    ),
                    Evidence(
                        _CONFIRM_HYPERINIT,
                        ("hyper-varibad-bias-hyperinit", "hyper-varibad-hfi"),
                        "vs HFI, 600k",
                        True,
                    ),
                    Evidence(
                        _CONFIRM_HYPERINIT,
                        ("hyper-varibad-bias-hyperinit", "hyper-varibad-weight-hyperinit"),
                        "vs Weight-HyperInit, 600k",
                        True,
                    ),
                ),
            ),
            Claim(
                id="hyper-varibad",
                paper=BECK,
                where="Fig. 1 (claim 3)",
                statement="VariBAD with a hypernetwork policy beats VariBAD",
                paper_figure="Meta-World ML1 Pick-Place test success 4.4% → 42.9%; ML10 10.2% → 23.9% (as quoted, unverified)",
                test=_HYPERINIT_TEST + "; tested on meta-episode returns, not Meta-World success",
                rule=_BETTER,
                evidence=(
                    Evidence("results/mini-hyperinit", ("hyper-varibad-bias-hyperinit", "varibad"), "mini-hyperinit", True),
                    Evidence(
                        _CONFIRM_HYPERINIT, ("hyper-varibad-bias-hyperinit", "varibad"), "confirm-hyperinit-gridnavi", True
                    ),
                    Evidence(_CONFIRM_POINT, ("hyper-varibad-bias-hyperinit", "varibad"), "confirm-hyperinit-point", True),
                ),
            ),
        )
    }
)


class UnknownClaimError(KeyError):
    """A claim id that is not registered; the message suggests the closest ids."""

    def __str__(self) -> str:
        return str(self.args[0])


def get_claim(claim_id: str) -> Claim:
    """The registered claim ``claim_id``.

    :param claim_id: id, e.g. ``sa-hyper-final-return``
    :return: the claim
    :raises UnknownClaimError: with the closest ids
    """
    if claim_id in CLAIMS:
        return CLAIMS[claim_id]
    close = difflib.get_close_matches(claim_id, list(CLAIMS), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownClaimError(f"unknown claim {claim_id!r}{hint} Known claims: {', '.join(CLAIMS)}")
