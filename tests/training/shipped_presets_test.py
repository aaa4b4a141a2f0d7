"""Every shipped preset: loads offline by name, measures its recorded check again (an
`fwp-evaluate` command on a fixed slice of `../shared/data`) within its tolerance, gives the
same outputs twice, and keeps to the size budget (a few MB each, 60 MB in all)."""

import os

import keras_hub
import numpy as np
import pytest

from fwp_keras import zoo
from fwp_keras.training.reproduce import shipping
from fwp_keras.zoo import presets

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
PACKAGE = os.path.dirname(zoo.__file__)
SHIPPED = {name: preset for name, preset in presets.preset_utils.BUILTIN_PRESETS.items()
           if preset["kaggle_handle"].startswith(PACKAGE)}
MAX_PRESET_MB, MAX_TOTAL_MB = 8, 60


def size_mb(path):
    return sum(os.path.getsize(os.path.join(folder, name))
               for folder, _, names in os.walk(path) for name in names) / 2**20


def test_the_shipped_presets_cover_every_family_and_task_within_the_budget():
    classes = [zoo.LinearTransformerSeq2SeqLM, zoo.PerformerSeq2SeqLM, zoo.DPFPSeq2SeqLM,
               zoo.DeltaNetSeq2SeqLM, zoo.TransformerSeq2SeqLM, zoo.AssociativeRetrievalModel]
    for cls in classes:
        assert cls.presets, f"{cls.__name__} ships no preset"
    assert "retrieval_setting2_s20_delta_dpfp1" in zoo.AssociativeRetrievalModel.presets
    # A family's folder holds both kinds; each task lists only its own.
    assert "delta_net_multi30k_en_de" not in zoo.DeltaNetCausalLM.presets
    sizes = {name: size_mb(preset["kaggle_handle"]) for name, preset in SHIPPED.items()}
    assert max(sizes.values()) < MAX_PRESET_MB, sizes
    assert sum(sizes.values()) < MAX_TOTAL_MB, sizes


def load(name):
    metadata = SHIPPED[name]["metadata"]
    if "FastWeightSeq2SeqLM" in metadata["tasks"] or "TransformerSeq2SeqLM" in metadata["tasks"]:
        return keras_hub.models.Seq2SeqLM.from_preset(name)
    if metadata["tasks"]:
        return keras_hub.models.CausalLM.from_preset(name)
    return zoo.AssociativeRetrievalModel.from_preset(name)


def outputs(model):
    if isinstance(model, (keras_hub.models.Seq2SeqLM, keras_hub.models.CausalLM)):
        model.compile(sampler="greedy")
    if isinstance(model, keras_hub.models.Seq2SeqLM):
        return model.generate(["A man is riding a bicycle down the street."], max_length=12)
    if isinstance(model, keras_hub.models.CausalLM):
        return np.asarray(model.generate(["To be, or not"], max_length=12))
    from fwp_keras.training.datasets import retrieval_evaluation_data

    inputs, _ = retrieval_evaluation_data(model.num_keys, 2, num_sequences=2)
    return model.predict({k: np.asarray(v) for k, v in inputs.items()}, verbose=0)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_preset_reproduces_its_recorded_check(name):
    training = SHIPPED[name]["metadata"]["training"]
    for key in ("command", "data", "steps", "train_minutes", "metrics", "check"):
        assert key in training, f"{name}: metadata.json's training record lacks {key!r}"
    check = training["check"]
    value = shipping.measure(check, name, DATA)
    np.testing.assert_allclose(value, check["value"], rtol=check["tolerance"], atol=1e-6)
    model = load(name)
    first, second = outputs(model), outputs(model)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))
