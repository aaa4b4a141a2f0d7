"""Presets: `save_to_preset` -> `from_preset` bit for bit (also in a fresh process, and through
keras-hub's base classes), named presets shipped inside a package, and unknown names."""

import json
import os
import subprocess
import sys

import keras_hub
import numpy as np
import pytest

import zoo_utils as zu
from fwp_keras import zoo
from fwp_keras.zoo import presets
from zoo_utils import FAMILIES, to_np

IDS = zu.prompts([9, 5], 9, seed=11)


def logits(lm):
    return to_np(lm(IDS))


def assert_same_weights(a, b):
    assert len(a.weights) == len(b.weights)
    for x, y in zip(a.weights, b.weights):
        assert x.path == y.path
        np.testing.assert_array_equal(to_np(x), to_np(y))


@pytest.mark.skipif(zu.BACKEND != "tensorflow", reason="file checks: backend-independent")
@pytest.mark.parametrize("missing", ["model.weights.h5", "task.json", "config.json"])
def test_a_preset_missing_a_file_names_it(tmp_path, missing):
    lm = zu.make_lm("delta_net")
    lm.save_to_preset(str(tmp_path))
    with open(tmp_path / "metadata.json") as file:  # as task.json names the task
        assert json.load(file)["tasks"] == ["DeltaNetCausalLM"]
    os.remove(tmp_path / missing)
    with pytest.raises(ValueError, match=f"has no {missing}: DeltaNetCausalLM.from_preset"):
        zoo.DeltaNetCausalLM.from_preset(str(tmp_path))


@pytest.mark.parametrize("family", list(FAMILIES) if zu.BACKEND == "tensorflow"
                         else ["delta_net"])
def test_preset_round_trip_is_bit_identical(family, tmp_path):
    cls, _ = FAMILIES[family]
    tokenizer_cls = cls.preprocessor_cls.tokenizer_cls  # the family's own, e.g. DeltaNetTokenizer
    lm = zu.make_lm(family, vocabulary_size=zu.sentence_piece_tokenizer().vocabulary_size(),
                    preprocessor=lambda: cls.preprocessor_cls(
                        zu.sentence_piece_tokenizer(cls=tokenizer_cls), sequence_length=12))
    lm.save_to_preset(str(tmp_path))
    text = ["Fair is foul, and foul is fair"]
    for loader in (tokenizer_cls, keras_hub.models.Tokenizer):
        tokenizer = loader.from_preset(str(tmp_path))
        assert type(tokenizer) is tokenizer_cls
        np.testing.assert_array_equal(to_np(tokenizer(text)),
                                      to_np(lm.preprocessor.tokenizer(text)))
    for loader in (cls, keras_hub.models.CausalLM):  # the base class finds the family's class
        loaded = loader.from_preset(str(tmp_path))
        assert type(loaded) is cls and type(loaded.backbone) is cls.backbone_cls
        assert loaded.backbone.get_config() == lm.backbone.get_config()
        assert_same_weights(lm, loaded)
        np.testing.assert_array_equal(logits(loaded), logits(lm))
        assert loaded.preprocessor.tokenizer.vocabulary_size() == 400
    backbone = cls.backbone_cls.from_preset(str(tmp_path))
    assert_same_weights(lm.backbone, backbone)


LOAD_IN_FRESH_PROCESS = """
import sys, numpy as np, keras, keras_hub
import fwp_keras.zoo  # registers the classes
lm = keras_hub.models.CausalLM.from_preset(sys.argv[1])
ids = np.load(sys.argv[2])
np.save(sys.argv[3], keras.ops.convert_to_numpy(lm({"token_ids": ids, "padding_mask": ids > 0})))
print(type(lm).__name__)
"""


@pytest.mark.parametrize("family", ["performer", "delta_net"] if zu.BACKEND == "tensorflow"
                         else ["delta_net"])
def test_preset_loads_in_a_fresh_process(family, tmp_path):
    lm = zu.make_lm(family)
    lm.save_to_preset(str(tmp_path / "preset"))
    ids = np.where(IDS["padding_mask"], IDS["token_ids"], 0)
    np.save(tmp_path / "ids.npy", ids)
    run = subprocess.run(
        [sys.executable, "-c", LOAD_IN_FRESH_PROCESS, str(tmp_path / "preset"),
         str(tmp_path / "ids.npy"), str(tmp_path / "logits.npy")],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[-1] == type(lm).__name__
    expected = to_np(lm({"token_ids": ids, "padding_mask": ids > 0}))
    np.testing.assert_array_equal(np.load(tmp_path / "logits.npy"), expected)


def test_named_preset_ships_inside_a_package_and_records_its_training(tmp_path):
    """A preset directory the way a family ships it (`zoo/<family>/presets/<name>/`), with its
    training record, registered by the same function the families call at import."""
    shipped = tmp_path / "presets"
    lm = zu.make_lm("delta_net")
    lm.save_to_preset(str(shipped / "delta_net_test_tiny"))
    presets.record_training(str(shipped / "delta_net_test_tiny"),
                            command="pytest tests/zoo/presets_test.py", data="random init",
                            steps=0, metrics={"note": "untrained"})
    registered = presets.register_presets(str(shipped), zoo.DeltaNetBackbone)
    try:
        assert list(registered) == ["delta_net_test_tiny"]
        assert "delta_net_test_tiny" in zoo.DeltaNetCausalLM.presets
        assert "delta_net_test_tiny" in zoo.DeltaNetBackbone.presets
        assert "delta_net_test_tiny" not in zoo.PerformerCausalLM.presets
        loaded = zoo.DeltaNetCausalLM.from_preset("delta_net_test_tiny")
        np.testing.assert_array_equal(logits(loaded), logits(lm))
        loaded = keras_hub.models.CausalLM.from_preset("delta_net_test_tiny")
        assert isinstance(loaded, zoo.DeltaNetCausalLM)
        with open(shipped / "delta_net_test_tiny" / "metadata.json") as file:
            training = json.load(file)["training"]
        assert training["steps"] == 0 and training["command"].startswith("pytest")
        assert zoo.DeltaNetCausalLM.presets["delta_net_test_tiny"]["metadata"]["training"] == \
            training
    finally:
        presets.unregister_presets(registered, zoo.DeltaNetBackbone)
    assert "delta_net_test_tiny" not in zoo.DeltaNetCausalLM.presets


def test_every_family_has_a_presets_directory_in_the_package():
    import fwp_keras.zoo.delta_net.delta_net_presets as delta_net_presets

    for family in ("delta_net", "dpfp", "linear_transformer", "performer", "transformer"):
        module = __import__(f"fwp_keras.zoo.{family}.{family}_presets", fromlist=["x"])
        assert os.path.dirname(module.PRESETS_DIRECTORY).endswith(os.path.join("zoo", family))
        assert isinstance(module.backbone_presets, dict)
    assert delta_net_presets.backbone_presets == presets.find_presets(
        delta_net_presets.PRESETS_DIRECTORY)


@pytest.mark.parametrize("cls", [zoo.DeltaNetCausalLM, zoo.DeltaNetBackbone,
                                 zoo.TransformerCausalLM, zoo.DeltaNetCausalLMPreprocessor,
                                 zoo.DeltaNetTokenizer])
def test_unknown_preset_name_lists_the_available_ones(cls, tmp_path):
    (tmp_path / "presets" / "delta_net_listed").mkdir(parents=True)
    zu.make_lm("delta_net").save_to_preset(str(tmp_path / "presets" / "delta_net_listed"))
    registered = presets.register_presets(str(tmp_path / "presets"), zoo.DeltaNetBackbone)
    try:
        with pytest.raises(ValueError, match="Unknown preset 'delta_net_huge'") as error:
            cls.from_preset("delta_net_huge")
        listed = "delta_net_listed" in str(error.value)
        assert listed == (cls is not zoo.TransformerCausalLM)
    finally:
        presets.unregister_presets(registered, zoo.DeltaNetBackbone)
    with pytest.raises(ValueError, match="preset"):
        cls.from_preset(None)
