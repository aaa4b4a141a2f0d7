"""Data parallelism on one machine reaches the single-device loss trajectory (same global
batch, same seed): MirroredStrategy over two logical CPUs, MultiWorkerMirroredStrategy over
two local worker processes, and Keras' JAX DataParallel over two host devices."""

import csv
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

COMMAND = [sys.executable, "-m", "fwp_keras.training", "synthetic", "--setting", "2",
           "--num-keys", "10", "--model", "delta_net", "--feature-map", "dpfp",
           "--max-steps", "150", "--eval-every", "50", "--diagnostics-every", "50",
           "--verbose", "0"]
# The agreement measured (README): about 1e-6 relative after 150 steps, 3e-5 after 300.
RTOL = 1e-4


def environment(backend, **extra):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    return {**env, **extra}


def trajectory(output_dir):
    with open(os.path.join(output_dir, "log.csv"), newline="") as file:
        rows = list(csv.DictReader(file))
    with open(os.path.join(output_dir, "results.json")) as file:
        replicas = json.load(file)["replicas"]
    return np.array([[float(r["loss"]), float(r["val_loss"])] for r in rows]), replicas


def run(output_dir, *flags, env):
    subprocess.run(COMMAND + ["--output-dir", str(output_dir), *flags], env=env, check=True,
                   capture_output=True, timeout=600)
    return trajectory(output_dir)


@pytest.fixture(scope="module")
def single_device_tf(tmp_path_factory):
    return run(tmp_path_factory.mktemp("single"), env=environment("tensorflow"))[0]


def test_mirrored_over_two_logical_cpus(tmp_path, single_device_tf):
    losses, replicas = run(tmp_path, "--distribution", "mirrored", "--cpu-devices", "2",
                           env=environment("tensorflow"))
    assert replicas == 2 and losses.shape == (3, 2)
    np.testing.assert_allclose(losses, single_device_tf, rtol=RTOL)


def test_multi_worker_over_two_local_processes(tmp_path, single_device_tf):
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [
        subprocess.Popen(
            COMMAND + ["--output-dir", str(tmp_path), "--distribution", "multi-worker"],
            env=environment("tensorflow", TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}})),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for index in range(2)
    ]
    for worker in workers:
        _, error = worker.communicate(timeout=600)
        assert worker.returncode == 0, error.decode()[-2000:]
    losses, replicas = trajectory(tmp_path)  # the chief's files; worker 1 under workers/
    assert replicas == 2
    np.testing.assert_allclose(losses, single_device_tf, rtol=RTOL)
    np.testing.assert_allclose(trajectory(tmp_path / "workers" / "worker-1")[0], losses)


def test_jax_data_parallel_over_two_host_devices(tmp_path):
    env = environment("jax", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    single, _ = run(tmp_path / "single", env=env)
    losses, replicas = run(tmp_path / "parallel", "--distribution", "data-parallel", env=env)
    assert replicas == 2
    np.testing.assert_allclose(losses, single, rtol=RTOL)


def test_batch_not_divisible_by_the_replicas_fails_before_training(tmp_path):
    result = subprocess.run(
        COMMAND + ["--output-dir", str(tmp_path), "--distribution", "mirrored",
                   "--cpu-devices", "2", "--batch-size", "31"],
        env=environment("tensorflow"), capture_output=True, timeout=600)
    assert result.returncode == 2
    assert b"`--batch-size` (31) must be divisible by the number of replicas (2" in \
        result.stderr
    assert not os.path.exists(tmp_path / "log.csv")
