"""Per-task replay buffers of PEARL (Rakelly et al. 2019): one ring buffer of transitions for every training task.

PEARL keeps two of them: the RL buffer (everything collected, sampled for the SAC losses) and the encoder
buffer (only the prior-collected data of the latest iteration, sampled for the context). Storage grows by
doubling up to ``capacity`` transitions per task, so a buffer of a million transitions per task costs only
what has been collected. Everything is a tensor, so the buffer is checkpointed as the learner's large state
(:meth:`MultiTaskReplayBuffer.state_dict`), never pickled. The transitions live on the learner's device; the
fill counters are host-side NumPy arrays, so sampling (inside PEARL's update step) reads nothing back from
the device.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch as th

__all__ = ["MultiTaskReplayBuffer"]


class MultiTaskReplayBuffer:
    """Transitions ``[obs, action, reward, next_obs, terminated]`` of ``n_tasks`` tasks, one ring buffer each.

    :param n_tasks: number of tasks (rows)
    :param obs_dim: observation size
    :param act_dim: action size
    :param capacity: most transitions kept per task (older ones are overwritten)
    :param device: where the transitions are stored
    """

    def __init__(self, n_tasks: int, obs_dim: int, act_dim: int, capacity: int, device: th.device | str = "cpu") -> None:
        if n_tasks < 1 or capacity < 1:
            raise ValueError(f"a replay buffer needs n_tasks >= 1 and capacity >= 1, got {n_tasks} and {capacity}")
        self.n_tasks, self.obs_dim, self.act_dim, self.capacity = int(n_tasks), int(obs_dim), int(act_dim), int(capacity)
        self.width = 2 * self.obs_dim + self.act_dim + 2
        self.device = th.device(device)
        self.data = th.zeros(self.n_tasks, 0, self.width, device=self.device)
        #: transitions stored per task (host-side)
        self.sizes = np.zeros(self.n_tasks, dtype=np.int64)
        #: next write position per task (host-side)
        self.pointers = np.zeros(self.n_tasks, dtype=np.int64)

    def to(self, device: th.device | str) -> MultiTaskReplayBuffer:
        """Move the stored transitions to ``device`` (in place).

        :return: self
        """
        self.device = th.device(device)
        self.data = self.data.to(self.device)
        return self

    def _grow(self, needed: int) -> None:
        allocated = self.data.shape[1]
        if needed <= allocated:
            return
        new = min(self.capacity, max(needed, 2 * allocated, 256))
        grown = th.zeros(self.n_tasks, new, self.width, device=self.device)
        grown[:, :allocated] = self.data
        self.data = grown

    def add(
        self, task: int, obs: th.Tensor, action: th.Tensor, reward: th.Tensor, next_obs: th.Tensor, done: th.Tensor
    ) -> None:
        """Append ``n`` transitions of task ``task`` (rows of each tensor; overwrites the oldest when full).

        :param task: task row
        :param obs: ``(n, obs_dim)``
        :param action: ``(n, act_dim)``
        :param reward: ``(n,)``
        :param next_obs: ``(n, obs_dim)``
        :param done: ``(n,)`` terminated (not truncated)
        """
        rows = th.cat([obs, action, reward[:, None], next_obs, done[:, None].to(obs.dtype)], dim=1)
        rows = rows.to(device=self.device, dtype=th.float32)
        n = rows.shape[0]
        if n > self.capacity:  # only the newest capacity transitions survive
            rows, n = rows[-self.capacity :], self.capacity
        self._grow(min(self.capacity, int(self.sizes[task]) + n))
        index = (int(self.pointers[task]) + th.arange(n, device=self.device)) % self.capacity
        self.data[task, index] = rows
        self.pointers[task] = (int(self.pointers[task]) + n) % self.capacity
        self.sizes[task] = min(self.capacity, int(self.sizes[task]) + n)

    def clear(self, task: int) -> None:
        """Forget every transition of task ``task``."""
        self.sizes[task] = 0
        self.pointers[task] = 0

    def sample(self, tasks: th.Tensor, n: int, generator: th.Generator) -> th.Tensor:
        """``n`` transitions of each task, uniformly with replacement: ``(len(tasks), n, width)``.

        :param tasks: task rows, a host (CPU) tensor (e.g. drawn with ``generator``)
        :param n: transitions per task
        :param generator: a CPU generator (the draws are the same on every device)
        :raises ValueError: when one of the tasks has no data
        """
        if not (self.sizes > 0).all():  # host-side: only a buffer with an empty task pays for the exact check
            sizes_np = self.sizes[tasks.numpy()]
            if (sizes_np == 0).any():
                empty = tasks.numpy()[sizes_np == 0].tolist()
                raise ValueError(f"cannot sample tasks {empty}: their buffers are empty")
        sizes = th.from_numpy(self.sizes)[tasks]
        index = (th.rand(len(tasks), n, generator=generator) * sizes[:, None]).long()
        return self.data[tasks[:, None].to(self.device), index.to(self.device)]

    def split(self, rows: th.Tensor) -> tuple[th.Tensor, th.Tensor, th.Tensor, th.Tensor, th.Tensor]:
        """Columns of sampled rows ``(..., width)``: ``obs, action, reward, next_obs, done``."""
        o, a = self.obs_dim, self.act_dim
        return rows[..., :o], rows[..., o : o + a], rows[..., o + a], rows[..., o + a + 1 : 2 * o + a + 1], rows[..., -1]

    def state_dict(self, prefix: str) -> dict[str, th.Tensor]:
        """The filled part of the storage and the counters, by name (for the large-state file)."""
        filled = int(self.sizes.max()) if self.n_tasks else 0
        return {
            f"{prefix}.data": self.data[:, :filled].clone(),
            f"{prefix}.sizes": th.from_numpy(self.sizes.copy()),
            f"{prefix}.pointers": th.from_numpy(self.pointers.copy()),
        }

    def load_state_dict(self, tensors: Mapping[str, th.Tensor], prefix: str) -> None:
        """Restore :meth:`state_dict` output.

        :raises ValueError: when an entry is missing or does not fit this buffer's shape
        """
        missing = [k for k in ("data", "sizes", "pointers") if f"{prefix}.{k}" not in tensors]
        if missing:
            raise ValueError(f"replay buffer {prefix!r}: missing {missing}")
        data = tensors[f"{prefix}.data"]
        if data.dim() != 3 or data.shape[0] != self.n_tasks or data.shape[2] != self.width or data.shape[1] > self.capacity:
            raise ValueError(
                f"replay buffer {prefix!r}: data of shape {tuple(data.shape)} does not fit "
                f"({self.n_tasks}, <= {self.capacity}, {self.width})"
            )
        self.data = data.to(device=self.device, dtype=th.float32).clone()
        self.sizes = tensors[f"{prefix}.sizes"].to(th.int64).numpy().copy()
        self.pointers = tensors[f"{prefix}.pointers"].to(th.int64).numpy().copy()
        if self.sizes.shape != (self.n_tasks,) or int(self.sizes.max()) > self.data.shape[1]:
            raise ValueError(f"replay buffer {prefix!r}: sizes {tuple(self.sizes.shape)} do not fit the stored data")
