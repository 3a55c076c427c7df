"""Grad-cs during training: an SB3 callback, and its wiring into suite runs.

:class:`GradCSCallback` measures :func:`~hyperbench.diagnostics.grad_cs.grad_cs` when training reaches
chosen environment steps, records the headline numbers in the SB3 logger (``grad_cs/mean``,
``grad_cs/median``, ``grad_cs/fraction_positive``) and, if given a path, rewrites a JSON file after every
measurement (atomically) so nothing measured is lost when a run is killed. The measurement uses its own
environment and random generator; the training run is not changed by it.

Use it in any SB3 project::

    from hyperbench.diagnostics import GradCSCallback
    model.learn(20_000, callback=GradCSCallback(lambda: gym.make("Hopper-v5"), steps=[5_000, 20_000], path="gcs.json"))

Suites ask for it with a ``diagnostics: {grad_cs: {...}}`` block (:mod:`hyperbench.diagnostics.settings`);
:func:`suite_grad_cs_callback` builds the callback for one run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.callbacks import BaseCallback

from hyperbench.diagnostics.grad_cs import DEFAULT_TAUS, GradCSConfig, _algorithm, grad_cs

__all__ = ["CURVE_KIND", "GradCSCallback", "load_curve", "suite_grad_cs_callback"]

CURVE_KIND = "hyperbench.GradCSCurve"


class GradCSCallback(BaseCallback):
    """Measure grad-cs at chosen training steps (Sarafian, Keynan & Kraus, ICML 2021, Fig. 3).

    :param env: the environment to measure on, or a function that builds it (called at the first measurement);
        a single Gymnasium env built like the training env, not the training env itself
    :param steps: environment steps at which to measure (at the first callback call at or after each)
    :param config: grad-cs settings (default: the paper's public code)
    :param path: JSON file rewritten after every measurement; measurements already in it from an earlier
        attempt of the same run, up to the step training resumes from, are kept and not repeated
    :param seed: seed of every measurement (the same states' seeds each time: only the model changes)
    :param label: name stored with the measurements
    :param verbose: 1 prints one line per measurement
    """

    def __init__(
        self,
        env: gym.Env | Callable[[], gym.Env],
        steps: Sequence[int],
        config: GradCSConfig | None = None,
        path: str | Path | None = None,
        seed: int = 0,
        label: str | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose=verbose)
        if not steps or any(int(s) < 1 for s in steps):
            raise ValueError(f"steps must be a non-empty list of positive environment steps, got {list(steps)}")
        self.config = config or GradCSConfig()
        self.config.check()
        self._env_or_factory = env
        self._env: gym.Env | None = env if isinstance(env, gym.Env) else None
        self.steps = sorted({int(s) for s in steps})
        self.path = None if path is None else Path(path)
        self.seed = seed
        self.label = label
        self.measurements: list[dict[str, Any]] = []
        self.pending: list[int] = []

    def _on_training_start(self) -> None:
        start = int(self.model.num_timesteps)
        if self.path is not None and self.path.is_file():
            # keep what an earlier attempt measured before the point training resumes from
            self.measurements = [m for m in load_curve(self.path)["measurements"] if int(m["step"]) <= start]
        self.pending = [s for s in self.steps if s > start]

    def _environment(self) -> gym.Env:
        if self._env is None:
            factory = self._env_or_factory
            assert callable(factory)
            self._env = factory()
        return self._env

    def _on_step(self) -> bool:
        step = int(self.model.num_timesteps)
        if self.pending and step >= self.pending[0]:
            while self.pending and step >= self.pending[0]:
                self.pending.pop(0)
            self.measure(step)
        return True

    def measure(self, step: int) -> dict[str, Any]:
        """Measure now, log and store the result.

        :param step: the training step the measurement belongs to
        :return: the stored measurement (``step`` plus :meth:`GradCSResult.to_dict`)
        """
        result = grad_cs(self.model, self._environment(), self.config, seed=self.seed, label=self.label)
        summary = result.summary()
        self.logger.record("grad_cs/mean", summary["mean_cs"])
        self.logger.record("grad_cs/median", summary["median_cs"])
        self.logger.record("grad_cs/fraction_positive", summary["fraction_positive"])
        entry = {"step": step, **result.to_dict(DEFAULT_TAUS)}
        self.measurements.append(entry)
        if self.verbose:
            print(f"grad-cs at step {step}: mean {summary['mean_cs']:.3f} ({result.settings['wall_s']:.1f} s)")
        if self.path is not None:
            self._write()
        return entry

    def _write(self) -> None:
        from hyperbench.bench.files import atomic_write_json, json_safe

        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "kind": CURVE_KIND,
            "schema_version": 1,
            "label": self.label,
            "steps_requested": self.steps,
            "measurements": self.measurements,
        }
        atomic_write_json(self.path, json_safe(doc))

    def _on_training_end(self) -> None:
        if self._env is not None and not isinstance(self._env_or_factory, gym.Env):
            self._env.close()
            self._env = None


def load_curve(path: str | Path) -> dict[str, Any]:
    """Read a file written by :class:`GradCSCallback`.

    :param path: the JSON file
    :return: the document (``measurements``: one entry per step, in order)
    :raises ValueError: if it is not such a file
    """
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("kind") != CURVE_KIND or not isinstance(doc.get("measurements"), list):
        raise ValueError(f"{path} is not a grad-cs curve file (kind {CURVE_KIND!r})")
    return doc


def suite_grad_cs_callback(
    block: Mapping[str, Any],
    model: Any,
    *,
    make_env: Callable[[], gym.Env],
    target: Path,
    seed: int,
    label: str,
) -> GradCSCallback | None:
    """The callback a suite's ``diagnostics.grad_cs`` block asks for in one run, or ``None`` if it does not apply.

    :param block: the parsed block (:func:`hyperbench.diagnostics.settings.parse_diagnostics`)
    :param model: the run's learner (measured only if it is an SB3 TD3, SAC or TQC model)
    :param make_env: builds one environment of the run's task, as the training env
    :param target: the JSON file of this run's measurements
    :param seed: seed of the measurements
    :param label: the run's method label
    """
    from hyperbench.diagnostics.settings import grad_cs_config

    try:
        _algorithm(model)
    except TypeError:
        return None
    return GradCSCallback(make_env, block["steps"], GradCSConfig(**grad_cs_config(block)), path=target, seed=seed, label=label)
