"""Save and restore an SB3 off-policy algorithm's whole training state without pickle: safetensors + JSON.

SB3's own ``model.save()`` writes a zip whose parameters go through ``torch.save`` and whose other
attributes are pickled, and ``save_replay_buffer`` pickles the buffer; loading either runs whatever code
the file names. This module writes the state that training continues from as two safetensors files
(raw tensor bytes with a JSON header, parsed, never executed) and rebuilds nothing from the file: the
caller builds a fresh algorithm with the same configuration (hyperbench's runner uses the method registry
and the run's resolved config) and :func:`load_training_state` fills it in::

    from hyperbench.sb3.persistence import load_training_state, save_training_state

    save_training_state(model, "ckpt")           # ckpt/training_state.safetensors, ckpt/replay_buffer.safetensors
    fresh = TD3("MlpPolicy", env, **same_kwargs)
    load_training_state(fresh, "ckpt")           # weights, optimizers, counters, RNGs, replay buffer

``training_state.safetensors`` holds

- the ``state_dict`` of every module and optimizer SB3 itself saves (``model._get_torch_save_params()``:
  the policy with its actor, critics and targets; ``actor.optimizer``, ``critic.optimizer``, SAC/TQC's
  ``ent_coef_optimizer``) and its extra tensors (SAC/TQC's ``log_ent_coef``): tensors as tensors,
  optimizer hyperparameters and non-tensor state as JSON in the header;
- the counters ``num_timesteps``, ``_n_updates`` (TD3's policy delay counts them), ``_episode_num`` and
  ``_current_progress_remaining`` (the learning-rate schedule's position);
- the random streams: torch's CPU generator (a tensor), NumPy's and Python's global generators (JSON),
  and the previous value of a stateful action noise (Ornstein-Uhlenbeck);

``replay_buffer.safetensors`` holds the filled part of a :class:`~stable_baselines3.common.buffers.ReplayBuffer`
or :class:`~stable_baselines3.common.buffers.DictReplayBuffer` (observations, next observations, actions,
rewards, dones, timeouts) and ``pos`` / ``full``. Each header carries a SHA-256 over its tensors and its
other header entries (:func:`hyperbench.digest.state_digest`); a file that is not such a state, was
edited, or does not fit the model (another class, other shapes) raises :class:`TrainingStateError`
naming what differs. The environment is not part of the state: the next ``learn`` resets it.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch as th

from hyperbench.digest import DIGEST_KEY, state_digest

__all__ = [
    "BUFFER_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "STATE_FILE",
    "TrainingStateError",
    "load_training_state",
    "read_state_file",
    "save_training_state",
]

FORMAT = "hyperbench.sb3-training-state"
BUFFER_FORMAT = "hyperbench.sb3-replay-buffer"
FORMAT_VERSION = 1
STATE_FILE = "training_state.safetensors"
BUFFER_FILE = "replay_buffer.safetensors"

#: Scalar attributes of an SB3 algorithm that training continues from.
COUNTERS: tuple[str, ...] = ("num_timesteps", "_n_updates", "_episode_num", "_current_progress_remaining")
_BUFFER_ARRAYS: tuple[str, ...] = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
_SEP = "|"


class TrainingStateError(ValueError):
    """A training-state file that cannot be restored into this model (corrupted, edited, another model)."""


# ----------------------------------------------------------------------------------------------------
# Files


def _write(path: Path, tensors: dict[str, th.Tensor], header: dict[str, str]) -> None:
    from safetensors.torch import save_file

    header = {**header, DIGEST_KEY: state_digest(tensors, header)}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        save_file(tensors, str(tmp), metadata=header)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_state_file(path: str | os.PathLike[str], fmt: str = FORMAT) -> tuple[dict[str, str], dict[str, th.Tensor]]:
    """Read a file written by :func:`save_training_state` and check its format, version and digest.

    :param path: ``training_state.safetensors`` or ``replay_buffer.safetensors``
    :param fmt: the expected ``format`` entry (``FORMAT`` or the replay buffer's)
    :return: the header (strings) and the tensors (on the CPU)
    :raises TrainingStateError: not such a file, another format version, or a digest that does not match
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise TrainingStateError(f"{path}: missing (expected a {fmt} file written by save_training_state)")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118  (safe_open has no __iter__)
    except Exception as exc:  # SafetensorError / OSError with a low-level message
        raise TrainingStateError(f"{path} is not a safetensors file ({exc})") from exc
    if header.get("format") != fmt:
        raise TrainingStateError(f"{path}: format {header.get('format')!r}, expected {fmt!r}")
    if header.get("format_version") != str(FORMAT_VERSION):
        raise TrainingStateError(
            f"{path}: format version {header.get('format_version')!r}, this hyperbench reads {FORMAT_VERSION}"
        )
    if header.get(DIGEST_KEY) != state_digest(tensors, header):
        raise TrainingStateError(f"{path} is corrupted or was edited: its SHA-256 does not match its tensors and header")
    return header, tensors


def _json_entry(header: Mapping[str, str], key: str, path: Path) -> Any:
    try:
        return json.loads(header[key])
    except (KeyError, ValueError) as exc:
        raise TrainingStateError(f"{path}: header entry {key!r} is missing or not JSON ({exc})") from exc


# ----------------------------------------------------------------------------------------------------
# Saving


def _unshared(tensor: th.Tensor, seen: set[int]) -> th.Tensor:
    """A CPU, contiguous tensor that shares no storage with one saved before (safetensors refuses sharing)."""
    tensor = tensor.detach().cpu().contiguous()
    ptr = tensor.untyped_storage().data_ptr() if tensor.numel() else -1
    if ptr in seen:
        tensor = tensor.clone()
    elif ptr != -1:
        seen.add(ptr)
    return tensor


def _torch_objects(model: Any) -> tuple[dict[str, th.nn.Module], dict[str, th.optim.Optimizer], dict[str, th.Tensor]]:
    names, variables = model._get_torch_save_params()
    modules: dict[str, th.nn.Module] = {}
    optimizers: dict[str, th.optim.Optimizer] = {}
    for name in names:
        obj = _getattr_path(model, name)
        if isinstance(obj, th.optim.Optimizer):
            optimizers[name] = obj
        elif isinstance(obj, th.nn.Module):
            modules[name] = getattr(obj, "_orig_mod", obj)
        else:
            raise TrainingStateError(f"{type(model).__name__}.{name} is neither a torch module nor an optimizer")
    tensors = {}
    for name in variables:
        obj = _getattr_path(model, name)
        if not isinstance(obj, th.Tensor):
            raise TrainingStateError(f"{type(model).__name__}.{name} is not a tensor")
        tensors[name] = obj
    return modules, optimizers, tensors


def _getattr_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _rng_state() -> tuple[th.Tensor, dict[str, Any]]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return th.get_rng_state(), {
        "numpy": [name, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss_next],
    }


def save_training_state(model: Any, directory: str | os.PathLike[str], *, replay_buffer: bool = True) -> Path:
    """Write an SB3 algorithm's training state into ``directory`` (safetensors + JSON, no pickle).

    :param model: an SB3 / sb3-contrib algorithm (TD3, SAC, TQC, DDPG, …; on-policy ones without a buffer)
    :param directory: created if needed; receives ``training_state.safetensors`` and, when the model has a
        replay buffer and ``replay_buffer`` is true, ``replay_buffer.safetensors``
    :param replay_buffer: also save the replay buffer
    :return: the directory
    :raises TrainingStateError: for a replay buffer class this format does not know (e.g. HER)
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    modules, optimizers, variables = _torch_objects(model)
    seen: set[int] = set()
    tensors: dict[str, th.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            if not isinstance(value, th.Tensor):
                raise TrainingStateError(f"{name}.{key} is a {type(value).__name__}, not a tensor")
            tensors[_SEP.join(("module", name, key))] = _unshared(value, seen)
    optimizer_meta: dict[str, Any] = {}
    for name, optimizer in optimizers.items():
        state_dict = optimizer.state_dict()
        extra: dict[str, dict[str, Any]] = {}
        for index, state in state_dict["state"].items():
            for key, value in state.items():
                if isinstance(value, th.Tensor):
                    tensors[_SEP.join(("optimizer", name, str(index), key))] = _unshared(value, seen)
                else:
                    extra.setdefault(str(index), {})[key] = value
        optimizer_meta[name] = {"param_groups": state_dict["param_groups"], "state": extra}
    for name, value in variables.items():
        tensors[_SEP.join(("variable", name))] = _unshared(value, seen)
    torch_rng, rng = _rng_state()
    tensors["rng|torch"] = torch_rng
    noise_prev = getattr(getattr(model, "action_noise", None), "noise_prev", None)
    if isinstance(noise_prev, np.ndarray):
        tensors["noise|noise_prev"] = th.from_numpy(np.ascontiguousarray(noise_prev))
    counters = {key: getattr(model, key) for key in COUNTERS if hasattr(model, key)}
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "class": type(model).__name__,
        "policy_class": type(model.policy).__name__,
        "modules": json.dumps(sorted(modules)),
        "optimizers": json.dumps(optimizer_meta, sort_keys=True),
        "variables": json.dumps(sorted(variables)),
        "counters": json.dumps(counters, sort_keys=True),
        "rng": json.dumps(rng),
    }
    _write(directory / STATE_FILE, tensors, header)
    buffer = getattr(model, "replay_buffer", None)
    if replay_buffer and buffer is not None:
        _save_buffer(buffer, directory / BUFFER_FILE)
    return directory


def _buffer_arrays(buffer: Any) -> dict[str, np.ndarray]:
    from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer

    if type(buffer) not in (ReplayBuffer, DictReplayBuffer):
        raise TrainingStateError(
            f"replay buffers of class {type(buffer).__name__} are not supported (ReplayBuffer and DictReplayBuffer are)"
        )
    arrays: dict[str, np.ndarray] = {}
    for name in _BUFFER_ARRAYS:
        value = getattr(buffer, name, None)
        if isinstance(value, dict):
            arrays.update({f"{name}.{key}": array for key, array in value.items()})
        elif isinstance(value, np.ndarray):
            arrays[name] = value
    return arrays


def _save_buffer(buffer: Any, path: Path) -> None:
    filled = buffer.buffer_size if buffer.full else buffer.pos
    tensors = {name: th.from_numpy(np.ascontiguousarray(array[:filled])) for name, array in _buffer_arrays(buffer).items()}
    header = {
        "format": BUFFER_FORMAT,
        "format_version": str(FORMAT_VERSION),
        "class": type(buffer).__name__,
        "layout": json.dumps(
            {
                "buffer_size": int(buffer.buffer_size),
                "n_envs": int(buffer.n_envs),
                "pos": int(buffer.pos),
                "full": bool(buffer.full),
                "optimize_memory_usage": bool(getattr(buffer, "optimize_memory_usage", False)),
            },
            sort_keys=True,
        ),
    }
    _write(path, tensors, header)


# ----------------------------------------------------------------------------------------------------
# Loading


def _check(condition: bool, path: Path, message: str) -> None:
    if not condition:
        raise TrainingStateError(f"{path}: {message}")


def load_training_state(
    model: Any, directory: str | os.PathLike[str], *, replay_buffer: bool = True, restore_rng: bool = True
) -> None:
    """Restore a state written by :func:`save_training_state` into a freshly built algorithm of the same configuration.

    Everything is checked before anything is changed: the file's digest, the algorithm and policy class,
    the names and shapes of every tensor, the optimizers' parameter groups and the buffer's layout.

    :param model: an algorithm built like the saved one (same class, policy, spaces and hyperparameters)
    :param directory: the directory :func:`save_training_state` wrote
    :param replay_buffer: also restore the replay buffer (when the directory holds one)
    :param restore_rng: also restore the torch, NumPy and Python global random generators
    :raises TrainingStateError: naming what does not fit
    """
    directory = Path(directory)
    path = directory / STATE_FILE
    header, tensors = read_state_file(path)
    _check(
        header.get("class") == type(model).__name__, path, f"saved from a {header.get('class')}, not a {type(model).__name__}"
    )
    _check(
        header.get("policy_class") == type(model.policy).__name__,
        path,
        f"saved with policy {header.get('policy_class')}, this model has {type(model.policy).__name__}",
    )
    modules, optimizers, variables = _torch_objects(model)
    _check(_json_entry(header, "modules", path) == sorted(modules), path, "saved modules differ from this model's")
    _check(_json_entry(header, "variables", path) == sorted(variables), path, "saved variables differ from this model's")
    optimizer_meta = _json_entry(header, "optimizers", path)
    _check(
        isinstance(optimizer_meta, dict) and sorted(optimizer_meta) == sorted(optimizers),
        path,
        f"saved optimizers {sorted(optimizer_meta) if isinstance(optimizer_meta, dict) else optimizer_meta} differ "
        f"from this model's {sorted(optimizers)}",
    )
    counters = _json_entry(header, "counters", path)
    rng = _json_entry(header, "rng", path)

    grouped: dict[tuple[str, str], dict[str, th.Tensor]] = {}
    for key, value in tensors.items():
        kind, _, rest = key.partition(_SEP)
        if kind in ("module", "optimizer"):
            owner, _, inner = rest.partition(_SEP)
            grouped.setdefault((kind, owner), {})[inner] = value
    module_states = {name: grouped.get(("module", name), {}) for name in modules}
    for name, module in modules.items():
        want = module.state_dict()
        got = module_states[name]
        missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
        _check(not missing and not extra, path, f"{name}: missing tensors {missing[:5]}, unexpected {extra[:5]}")
        for key, value in want.items():
            _check(
                tuple(got[key].shape) == tuple(value.shape) and got[key].dtype == value.dtype,
                path,
                f"{name}.{key}: saved {tuple(got[key].shape)} {got[key].dtype}, model has {tuple(value.shape)} {value.dtype}",
            )
    optimizer_states: dict[str, dict[str, Any]] = {}
    for name, optimizer in optimizers.items():
        meta = optimizer_meta[name]
        fresh = optimizer.state_dict()
        groups = meta.get("param_groups") if isinstance(meta, dict) else None
        _check(
            isinstance(groups, list)
            and len(groups) == len(fresh["param_groups"])
            and all(
                isinstance(g, dict) and g.get("params") == f["params"] and set(g) == set(f)
                for g, f in zip(groups, fresh["param_groups"])
            ),
            path,
            f"{name}: saved parameter groups do not fit this model's optimizer",
        )
        assert isinstance(groups, list)
        for group, fresh_group in zip(groups, fresh["param_groups"]):
            for key, value in fresh_group.items():  # JSON has no tuples (Adam's betas)
                if isinstance(value, tuple) and isinstance(group[key], list):
                    group[key] = tuple(group[key])
        state: dict[int, dict[str, Any]] = {}
        for key, value in grouped.get(("optimizer", name), {}).items():
            index, _, field = key.partition(_SEP)
            state.setdefault(int(index), {})[field] = value
        for index, extra in (meta.get("state") or {}).items():
            state.setdefault(int(index), {}).update(extra)
        param_ids = {p for g in fresh["param_groups"] for p in g["params"]}
        _check(set(state) <= param_ids, path, f"{name}: state for parameters the optimizer does not have")
        optimizer_states[name] = {"state": state, "param_groups": groups}
    for name, value in variables.items():
        saved = tensors.get(_SEP.join(("variable", name)))
        _check(
            saved is not None and saved.shape == value.shape and saved.dtype == value.dtype,
            path,
            f"variable {name}: missing or of another shape/dtype",
        )
    _check(isinstance(counters, dict) and set(counters) <= set(COUNTERS), path, f"bad counters {counters!r}")
    buffer_update = None
    buffer = getattr(model, "replay_buffer", None)
    if replay_buffer and buffer is not None and (directory / BUFFER_FILE).is_file():
        buffer_update = _read_buffer(buffer, directory / BUFFER_FILE)

    # Everything fits: apply.
    for name, module in modules.items():
        module.load_state_dict(module_states[name], strict=True)
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(optimizer_states[name])
    with th.no_grad():
        for name, value in variables.items():
            value.copy_(tensors[_SEP.join(("variable", name))])
    for key, value in counters.items():
        setattr(model, key, value)
    noise = getattr(model, "action_noise", None)
    if "noise|noise_prev" in tensors and isinstance(getattr(noise, "noise_prev", None), np.ndarray):
        noise.noise_prev = tensors["noise|noise_prev"].numpy().copy()  # type: ignore[union-attr]
    if buffer_update is not None:
        buffer_update()
    if restore_rng:
        th.set_rng_state(tensors["rng|torch"])
        name, keys, pos, has_gauss, cached = rng["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        version, internal, gauss_next = rng["python"]
        random.setstate((version, tuple(internal), gauss_next))


def _read_buffer(buffer: Any, path: Path) -> Any:
    """Check a saved buffer against ``buffer``; return a function that copies it in."""
    header, tensors = read_state_file(path, BUFFER_FORMAT)
    _check(
        header.get("class") == type(buffer).__name__, path, f"a {header.get('class')}, the model has a {type(buffer).__name__}"
    )
    layout = _json_entry(header, "layout", path)
    want = {
        "buffer_size": int(buffer.buffer_size),
        "n_envs": int(buffer.n_envs),
        "optimize_memory_usage": bool(getattr(buffer, "optimize_memory_usage", False)),
    }
    _check(
        isinstance(layout, dict) and {k: layout.get(k) for k in want} == want,
        path,
        f"buffer layout {layout!r} does not fit this model's {want}",
    )
    pos, full = layout.get("pos"), layout.get("full")
    _check(
        isinstance(pos, int) and isinstance(full, bool) and 0 <= pos < want["buffer_size"] + (0 if full else 1),
        path,
        f"bad pos/full {pos!r}/{full!r}",
    )
    filled = want["buffer_size"] if full else pos
    arrays = _buffer_arrays(buffer)
    _check(set(tensors) == set(arrays), path, f"saved arrays {sorted(tensors)}, this buffer has {sorted(arrays)}")
    for name, array in arrays.items():
        saved = tensors[name]
        expected_shape = (filled, *array.shape[1:])
        _check(
            tuple(saved.shape) == expected_shape and saved.numpy().dtype == array.dtype,
            path,
            f"{name}: saved {tuple(saved.shape)} {saved.numpy().dtype}, expected {expected_shape} {array.dtype}",
        )

    def apply() -> None:
        for name, array in arrays.items():
            array[:filled] = tensors[name].numpy()
        buffer.pos, buffer.full = pos, full

    return apply
