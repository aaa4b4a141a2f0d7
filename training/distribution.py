"""`--distribution`: data parallelism on the engines that exist (no code of ours in between).

- `mirrored`: `tf.distribute.MirroredStrategy` over this machine's devices (TensorFlow).
- `multi-worker`: `tf.distribute.MultiWorkerMirroredStrategy`, the workers read from the
  `TF_CONFIG` environment variable (TensorFlow).
- `data-parallel`: `keras.distribution.DataParallel` over every JAX device (JAX).

Each scales nothing by itself: `--batch-size` stays the global batch, split across replicas,
so a run reaches the single-device loss trajectory (docs/guides/distribution.md has the
measured agreement).
"""

import contextlib
import json
import os

import keras

from fwp_keras.training.arguments.train import DISTRIBUTIONS

_BACKENDS = {"mirrored": "tensorflow", "multi-worker": "tensorflow", "data-parallel": "jax"}


def split_cpu(count):
    """`count` logical CPU devices for TensorFlow (before anything runs): two replicas on one
    machine, as the tests run `--distribution mirrored`."""
    if count < 1:
        raise ValueError(f"`--cpu-devices` must be an integer >= 1. Received: {count}")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def _reduce_structures(strategy):
    """`MultiWorkerMirroredStrategy.reduce` as Keras 3.15's TensorFlow trainer calls it.

    The trainer (keras-team/keras#20329, #20585) reduces the first batch, a dict here, in one
    `strategy.reduce` call before `fit` (`_maybe_symbolic_build`), and each step's scalar
    logs with `axis=0`; the strategy takes neither. Here each value is reduced on its own,
    and a scalar across the replicas only (`axis=None`), which is what the trainer means.
    """
    import tensorflow as tf

    reduce = strategy.reduce

    def reduce_one(reduce_op, value, axis):
        if axis is not None and getattr(value, "shape", None) is not None and \
                value.shape.rank == 0:
            axis = None
        return reduce(reduce_op, value, axis)

    def reduce_each(reduce_op, value, axis=None):
        return tf.nest.map_structure(lambda v: reduce_one(reduce_op, v, axis), value)

    strategy.reduce = reduce_each


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
            _reduce_structures(self.strategy)
        elif name == "data-parallel":
            distribution = keras.distribution.DataParallel()
            keras.distribution.set_distribution(distribution)
            self.num_replicas = len(distribution.device_mesh.devices.flatten())
        if self.strategy is not None:
            self.num_replicas = self.strategy.num_replicas_in_sync

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    @property
    def worker_name(self):
        """None for the process whose files are the run's (the chief: `chief`, or worker 0
        when there is none); else `<task type>-<id>`. Every worker of a multi-worker run
        trains and keeps its own backups; the others write them under `workers/`."""
        if self.name != "multi-worker":
            return None
        resolver = self.strategy.cluster_resolver
        chief = resolver.task_type in (None, "chief") or (
            resolver.task_type == "worker" and resolver.task_id == 0
            and "chief" not in resolver.cluster_spec().as_dict())
        return None if chief else f"{resolver.task_type}-{resolver.task_id}"

    def output_dir(self, output_dir):
        """Where this process writes (see `worker_name`)."""
        worker = self.worker_name
        return output_dir if worker is None else os.path.join(output_dir, "workers", worker)

    def description(self):
        return {"distribution": self.name, "replicas": self.num_replicas}

    def check_batch_size(self, batch_size):
        if batch_size % self.num_replicas:
            raise ValueError(
                f"`--batch-size` ({batch_size}) must be divisible by the number of replicas "
                f"({self.num_replicas}, `--distribution {self.name}`): it is the global batch.")
