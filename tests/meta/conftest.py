"""Settings of the meta-learner tests (the shared fixtures are in tests/conftest.py)."""

from __future__ import annotations

#: Small meta-batches keep every learning test to seconds on one core.
TINY = {"meta_batch_size": 10, "episodes_per_task": 10}
