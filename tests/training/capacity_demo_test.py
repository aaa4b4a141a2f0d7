"""`fwp_keras.training.capacity_demo` at a small size: the files, and the claims of Section 4 as
numbers (capacity of the sum rule, recency and overwriting of the delta rule)."""

import json
import os

import pytest

pytest.importorskip("matplotlib")

from fwp_keras.training import capacity_demo  # noqa: E402

KEY_DIM = 16


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("capacity_demo")
    capacity_demo.main(["--output-dir", str(out), "--key-dim", str(KEY_DIM), "--value-dim", "8",
                        "--trials", "8", "--seed", "1"])
    return out


@pytest.fixture(scope="module")
def results(demo):
    with open(os.path.join(demo, "capacity_demo.json")) as f:
        return json.load(f)["results"]


def at(result, sizes_key, n):
    return result[sizes_key].index(n)


def test_writes_png_and_json(demo, results):
    png = os.path.join(demo, "capacity_demo.png")
    assert os.path.getsize(png) > 10_000
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert set(results) == {"l2", "sum"}
    for result in results.values():
        assert result["key_dims"] == {"dpfp": KEY_DIM, "elu_plus_one": KEY_DIM}
        assert result["capacity_sizes"][0] == KEY_DIM // 16
        assert result["capacity_sizes"][-1] == 4 * KEY_DIM


@pytest.mark.parametrize("key_norm", ["l2", "sum"])
@pytest.mark.parametrize("feature_map", ["dpfp", "elu_plus_one"])
def test_sum_rule_error_grows_past_capacity(results, key_norm, feature_map):
    result = results[key_norm]
    errors = result["capacity"][feature_map]["sum"]["all"]
    small = errors[at(result, "capacity_sizes", KEY_DIM // 4)]
    large = errors[at(result, "capacity_sizes", 4 * KEY_DIM)]
    assert large > 8 * small
    assert large > 1.0  # past capacity the crosstalk outweighs the value itself


def test_dpfp_keys_are_closer_to_orthogonal_than_elu(results):
    stats = {name: results["l2"]["capacity"][name]["keys"] for name in ("dpfp", "elu_plus_one")}
    assert stats["dpfp"]["mean_squared_cosine"] < stats["elu_plus_one"]["mean_squared_cosine"] / 5
    for name in ("dpfp", "elu_plus_one"):
        assert results["l2"]["capacity"][name]["keys"]["mean_k_dot_k"] == pytest.approx(1, 1e-5)
        assert results["sum"]["capacity"][name]["keys"]["mean_k_dot_k"] < 0.5


def test_delta_rule_keeps_recent_associations(results):
    result = results["l2"]
    i = at(result, "capacity_sizes", 4 * KEY_DIM)
    for name in ("dpfp", "elu_plus_one"):
        delta, total = result["capacity"][name]["delta"], result["capacity"][name]["sum"]
        assert delta["recent"][i] < total["recent"][i] / 5
        assert delta["recent"][i] < delta["all"][i]
        assert delta["by_age"][0] < 1e-4  # the last write is read back exactly


def test_overwriting(results):
    result = results["l2"]
    orthonormal = result["overwrite"]["orthonormal"]
    for i, _ in enumerate(result["overwrite_sizes"]):
        assert orthonormal["delta"]["vs_new"][i] < 1e-4  # the new value replaces the old one
        assert orthonormal["sum"]["vs_new"][i] > 0.1  # the sum rule returns old + new
        assert orthonormal["sum"]["vs_old_plus_new"][i] < 1e-4
    m1 = at(result, "overwrite_sizes", 1)
    for name in ("dpfp", "elu_plus_one"):
        per_rule = result["overwrite"][name]
        assert per_rule["delta"]["vs_new"][m1] < 1e-4
        assert per_rule["sum"]["vs_new"][m1] > 0.1
        for i, _ in enumerate(result["overwrite_sizes"]):
            assert per_rule["delta"]["vs_new"][i] < per_rule["sum"]["vs_new"][i]
    # Sum-normalised random keys: k.k << 1, so a beta = 1 write replaces only part of the value.
    dpfp = results["sum"]["overwrite"]["dpfp"]
    assert dpfp["delta"]["vs_new"][at(results["sum"], "overwrite_sizes", 1)] > 0.1
