from __future__ import annotations

import pytest
import torch as th


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    # Tests run beside other processes on 2 cores; one thread each is faster overall.
    th.set_num_threads(1)
