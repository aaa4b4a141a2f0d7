"""`--distribution`: data parallelism on the engines that exist (no code of ours in between).

- `mirrored`: `tf.distribute.MirroredStrategy` over this machine's devices (TensorFlow).
- `multi-worker`: `tf.distribute.MultiWorkerMirroredStrategy`, the workers read from the
  `TF_CONFIG` environment variable (TensorFlow).
- `data-parallel`: `keras.distribution.DataParallel` over every JAX device (JAX).

Each scales nothing by itself: `--batch-size` stays the global batch, split across replicas,
so a run reaches the single-device loss trajectory (see the README for the measured agreement).
"""

import contextlib
import json
import os

import keras

DISTRIBUTIONS = ("none", "mirrored", "multi-worker", "data-parallel")
_BACKENDS = {"mirrored": "tensorflow", "multi-worker": "tensorflow", "data-parallel": "jax"}


class Distribution:
    """A strategy's `scope()` and its replica count; `none` is one device, no scope."""

    def __init__(self, name="none"):
        if name not in DISTRIBUTIONS:
            raise ValueError(f"`--distribution` must be one of {DISTRIBUTIONS}. "
                             f"Received: {name!r}")
        backend = keras.backend.backend()
        needed = _BACKENDS.get(name)
        if needed and backend != needed:
            raise ValueError(f"`--distribution {name}` runs on the {needed} backend "
                             f"(KERAS_BACKEND={needed}). Received backend: {backend}")
        self.name = name
        self.strategy = None
        self.num_replicas = 1
        if name == "mirrored":
            import tensorflow as tf

            self.strategy = tf.distribute.MirroredStrategy()
        elif name == "multi-worker":
            import tensorflow as tf

            if "TF_CONFIG" not in os.environ:
                raise ValueError("`--distribution multi-worker` reads the cluster from the "
                                 "TF_CONFIG environment variable, which is not set.")
            json.loads(os.environ["TF_CONFIG"])  # a clear JSON error before any connection
            self.strategy = tf.distribute.MultiWorkerMirroredStrategy()
        elif name == "data-parallel":
            distribution = keras.distribution.DataParallel()
            keras.distribution.set_distribution(distribution)
            self.num_replicas = len(distribution.device_mesh.devices.flatten())
        if self.strategy is not None:
            self.num_replicas = self.strategy.num_replicas_in_sync

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    @property
    def is_chief(self):
        """Whether this process writes the outputs (every worker of a multi-worker run trains;
        only the chief's files are the run's)."""
        if self.name != "multi-worker":
            return True
        resolver = self.strategy.cluster_resolver
        return resolver.task_type in (None, "chief") or (
            resolver.task_type == "worker" and resolver.task_id == 0)

    def check_batch_size(self, batch_size):
        if batch_size % self.num_replicas:
            raise ValueError(
                f"`--batch-size` ({batch_size}) must be divisible by the number of replicas "
                f"({self.num_replicas}, `--distribution {self.name}`): it is the global batch.")
