"""Every shipped preset: loads offline by name, measures its recorded check again (an
`fwp-evaluate` command on a fixed slice of a provided dataset) within its tolerance, gives the
same outputs twice, and keeps to the size budget (a few MB each, 100 MB in all)."""

import os

import keras_hub
import numpy as np
import pytest

from fwp_keras import zoo
from fwp_keras.training.reproduce import runs, shipping

SHIPPED = shipping.shipped_presets()  # {name: (directory, metadata)}
MAX_PRESET_MB, MAX_TOTAL_MB = 8, 100


def test_the_shipped_presets_cover_every_family_and_task_within_the_budget():
    classes = [zoo.LinearTransformerCausalLM, zoo.PerformerCausalLM, zoo.DPFPCausalLM,
               zoo.DeltaNetCausalLM, zoo.TransformerCausalLM,
               zoo.LinearTransformerSeq2SeqLM, zoo.PerformerSeq2SeqLM, zoo.DPFPSeq2SeqLM,
               zoo.DeltaNetSeq2SeqLM, zoo.TransformerSeq2SeqLM, zoo.AssociativeRetrievalModel]
    for cls in classes:
        assert cls.presets, f"{cls.__name__} ships no preset"
    assert "retrieval_setting2_s20_delta_dpfp1" in zoo.AssociativeRetrievalModel.presets
    # A family's folder holds both kinds; each task lists only its own.
    assert "delta_net_multi30k_en_de" not in zoo.DeltaNetCausalLM.presets
    assert "delta_net_shakespeare" not in zoo.DeltaNetSeq2SeqLM.presets
    sizes = {name: shipping.size_mb(directory) for name, (directory, _) in SHIPPED.items()}
    assert max(sizes.values()) < MAX_PRESET_MB, sizes
    assert sum(sizes.values()) < MAX_TOTAL_MB, sizes


def load(name):
    """A language or translation model (a task: keras-hub finds its class) or a retrieval one."""
    if os.path.isfile(os.path.join(SHIPPED[name][0], "task.json")):
        return keras_hub.models.CausalLM.from_preset(name)  # Seq2SeqLM is a CausalLM
    return zoo.AssociativeRetrievalModel.from_preset(name)


def outputs(model):
    if isinstance(model, (keras_hub.models.Seq2SeqLM, keras_hub.models.CausalLM)):
        model.compile(sampler="greedy")
    if isinstance(model, keras_hub.models.Seq2SeqLM):
        return model.generate(["A man is riding a bicycle down the street."], max_length=12)
    if isinstance(model, keras_hub.models.CausalLM):
        return np.asarray(model.generate(["To be, or not"], max_length=12))
    from fwp_keras.datasets.retrieval import retrieval_evaluation_data

    inputs, _ = retrieval_evaluation_data(model.num_keys, 2, num_sequences=2)
    return model.predict({k: np.asarray(v) for k, v in inputs.items()}, verbose=0)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_preset_reproduces_its_recorded_check(name):
    training = SHIPPED[name][1]["training"]
    for key in ("command", "data", "steps", "train_minutes", "metrics", "check"):
        assert key in training, f"{name}: metadata.json's training record lacks {key!r}"
    check = training["check"]
    value = shipping.measure(check, name)
    np.testing.assert_allclose(value, check["value"], rtol=check["tolerance"], atol=1e-6)
    model = load(name)
    if isinstance(model, keras_hub.models.Task):  # the task's class, as task.json names it
        assert SHIPPED[name][1]["tasks"] == [type(model).__name__]
    first, second = outputs(model), outputs(model)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))


def test_a_retrieval_preset_on_another_setting_is_a_clear_error(capsys):
    from fwp_keras.training import cli

    assert cli.evaluate_main(["synthetic", "--preset", "retrieval_setting2_s20_delta_dpfp1",
                              "--setting", "1"]) == 2
    assert "was trained on setting 2" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["delta_net_multi30k_en_de", "transformer_multi30k_en_de",
                                  "delta_net_shakespeare"])
def test_beam_search_gives_each_row_what_it_gives_alone(name):
    """Rows stop at different steps; a batch used to change rows' beam search results (3 of
    these 12 Multi30k translations) as keras-hub's sampler kept scoring finished beams."""
    from fwp_keras.datasets import multi30k

    model = load(name)
    model.compile(sampler=keras_hub.samplers.BeamSampler(num_beams=4))
    if isinstance(model, keras_hub.models.Seq2SeqLM):
        prompts = ["A little girl is climbing a tree.",
                   "Two men are playing football in a park."] + multi30k.load_data("val")[0][:10]
        generate = model.generate
    else:
        prompts = ["KING.", "To be, or not to be, that is", "My lord, I", "Good"]

        def generate(texts):
            return model.generate(texts, max_length=24)
    batch = generate(prompts)
    assert batch == [generate([prompt])[0] for prompt in prompts]
