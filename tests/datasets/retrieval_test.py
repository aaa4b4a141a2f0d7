"""The Sec. 6.1 retrieval data against a plain-Python reading of the paper's two settings."""

import numpy as np
import pytest

from fwp_keras.datasets.retrieval import retrieval_dataset, retrieval_evaluation_data


def latest_values(keys, values, queries):
    """Independent reference: replay the writes into a dict; a query reads its key's entry."""
    memory = {}
    for key, value in zip(keys, values):
        memory[key] = value  # a re-assigned key keeps only its most recent value
    return [memory[q] for q in queries]


def first_batch(dataset):
    inputs, targets = next(iter(dataset))
    return {name: x.numpy() for name, x in inputs.items()}, targets.numpy()


@pytest.mark.parametrize("setting", [1, 2])
def test_targets_are_the_latest_value_of_each_query(setting):
    s = 13
    inputs, targets = first_batch(retrieval_dataset(s, setting, batch_size=6, num_queries=5))
    assert inputs["keys"].shape == (6, setting * s) == inputs["values"].shape
    assert targets.shape == (6, 5, s)
    for row in range(6):
        keys, values = inputs["keys"][row].tolist(), inputs["values"][row].tolist()
        expected = latest_values(keys, values, inputs["queries"][row].tolist())
        np.testing.assert_array_equal(targets[row], np.eye(s)[expected])
        if setting == 1:  # a permutation: every key once, without replacement
            assert sorted(keys) == list(range(s))
        else:  # every key present, about S re-assignments
            assert set(keys) == set(range(s))
            assert len(keys) - len(set(keys)) == s


def test_setting_two_reassigns_keys_with_changed_values():
    s = 20
    inputs, targets = first_batch(retrieval_dataset(s, 2, batch_size=32))
    changed = 0
    for keys, values in zip(inputs["keys"], inputs["values"]):
        first = {}
        for key, value in zip(keys, values):
            first.setdefault(key, value)
        changed += sum(latest_values(keys, values, [k])[0] != first[k] for k in set(keys))
    # About S re-assignments per sequence, each changing the value with probability 1 - 1/S.
    assert changed / 32 > s / 3


def test_evaluation_asks_every_key_of_twenty_fixed_sequences():
    inputs, targets = retrieval_evaluation_data(17, 2)
    inputs = {name: x.numpy() for name, x in inputs.items()}
    assert inputs["keys"].shape == (20, 34)
    np.testing.assert_array_equal(inputs["queries"], np.tile(np.arange(17), (20, 1)))
    for row in range(20):
        expected = latest_values(inputs["keys"][row], inputs["values"][row], range(17))
        np.testing.assert_array_equal(targets.numpy()[row], np.eye(17)[expected])
    again = retrieval_evaluation_data(17, 2)[0]["keys"].numpy()
    np.testing.assert_array_equal(inputs["keys"], again)
    training = first_batch(retrieval_dataset(17, 2, batch_size=20))[0]["keys"]
    assert not np.array_equal(training, inputs["keys"])


def test_batches_are_a_function_of_seed_and_step():
    def batches(**kwargs):
        return [b[0]["keys"].numpy() for b in retrieval_dataset(10, 1, batch_size=4, **kwargs)]

    full = batches(num_steps=5)
    assert len(full) == 5
    np.testing.assert_array_equal(np.stack(full), np.stack(batches(num_steps=5)))
    np.testing.assert_array_equal(np.stack(full[3:]), np.stack(batches(start_step=3, num_steps=2)))
    assert not np.array_equal(full[0], batches(num_steps=1, seed=1)[0])
    assert not np.array_equal(full[0], full[1])


@pytest.mark.parametrize("arguments, message", [
    (dict(num_keys=0, setting=1), "num_keys"),
    (dict(num_keys=5, setting=3), "setting"),
    (dict(num_keys=5, setting=1, batch_size=0), "batch_size"),
    (dict(num_keys=5, setting=1, start_step=-1), "start_step"),
])
def test_bad_arguments_name_themselves(arguments, message):
    with pytest.raises(ValueError, match=message):
        retrieval_dataset(**arguments)


def test_load_data_is_the_evaluation_set_as_numpy():
    from fwp_keras.datasets import retrieval

    inputs, targets = retrieval.load_data(7, 2, seed=3, num_sequences=4)
    expected_inputs, expected_targets = retrieval_evaluation_data(7, 2, seed=3, num_sequences=4)
    assert isinstance(targets, np.ndarray) and targets.shape == (4, 7, 7)
    np.testing.assert_array_equal(targets, expected_targets.numpy())
    for name in ("keys", "values", "queries"):
        np.testing.assert_array_equal(inputs[name], expected_inputs[name].numpy())
