"""export_saved_model: the generate / logits / generate_text signatures served by a process
that imports only TensorFlow, against the Keras model."""

import os
import subprocess
import sys

import numpy as np
import pytest

import zoo_utils as zu
from fwp_keras import zoo
from zoo_utils import to_np

pytestmark = pytest.mark.skipif(zu.BACKEND != "tensorflow",
                                reason="a SavedModel is TensorFlow's format")

SERVE = """
import sys, numpy as np
import tensorflow as tf
if sys.argv[3] == "with_ops":
    import fwp_keras.tf_ops
    fwp_keras.tf_ops.load_custom_ops()
served = tf.saved_model.load(sys.argv[1])
data = np.load(sys.argv[2])
ids, mask = tf.constant(data["token_ids"]), tf.constant(data["padding_mask"])
out = served.generate(token_ids=ids, padding_mask=mask)
logits = served.logits(token_ids=ids, padding_mask=mask)
result = dict(token_ids=out["token_ids"].numpy(), padding_mask=out["padding_mask"].numpy(),
              logits=logits.numpy())
if hasattr(served, "generate_text"):
    texts = served.generate_text(tf.constant(["the game", "the"])).numpy()
    result["text"] = np.array([t.decode() for t in texts])
np.savez(sys.argv[2] + ".out.npz", **result)
# (tensorflow itself imports keras for tf.keras; the zoo, keras-hub and tf-text stay out)
print("imported:", sorted(m for m in sys.modules if m.split(".")[0] in ("fwp_keras",
      "keras_hub", "tensorflow_text")))
"""


def serve(path, batch, tmp_path, with_ops=False):
    np.savez(tmp_path / "batch.npz", **batch)
    run = subprocess.run(
        [sys.executable, "-c", SERVE, str(path), str(tmp_path / "batch.npz"),
         "with_ops" if with_ops else "plain"],
        capture_output=True, text=True, timeout=300,
    )
    return run, (np.load(str(tmp_path / "batch.npz") + ".out.npz") if run.returncode == 0
                 else None)


def word_level_lm():
    return zu.make_lm("delta_net", preprocessor=lambda: zoo.DeltaNetCausalLMPreprocessor(
        zoo.train_word_level_tokenizer([zu.WIKITEXT], max_vocabulary_size=zu.VOCABULARY),
        sequence_length=10))


# The fast weight families share one generate_step; the softmax baseline has its own.
@pytest.mark.parametrize("family", ["delta_net", "transformer"])
def test_plain_tensorflow_serves_generate_and_logits(family, tmp_path):
    lm = zu.make_lm(family)
    batch = zu.prompts([3, 6, 1], 12, seed=21)
    zoo.export_saved_model(lm, str(tmp_path / "model"))
    with open(tmp_path / "model" / "saved_model.pb", "rb") as file:
        assert b"FwpDeltaRule" not in file.read() and b"FwpLinearAttention" not in file.read()
    run, served = serve(tmp_path / "model", batch, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "imported: []" in run.stdout  # nothing of the zoo, keras-hub or tf-text
    expected = lm.generate(batch, stop_token_ids=None)
    np.testing.assert_array_equal(served["token_ids"], to_np(expected["token_ids"]))
    np.testing.assert_array_equal(served["padding_mask"], to_np(expected["padding_mask"]))
    assert zu.rel_err(to_np(lm(batch)), served["logits"]) <= zu.TOL


def test_text_endpoint_and_stop_tokens(tmp_path):
    lm = word_level_lm()  # sequence_length 10; generate_text exported 7 tokens wide
    zoo.export_saved_model(lm, str(tmp_path / "model"), include_text=True, max_length=7)
    batch = lm.preprocessor.generate_preprocess(["the game", "the"])
    batch = {k: to_np(v) for k, v in batch.items()}
    run, served = serve(tmp_path / "model", batch, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = lm.generate(["the game", "the"], max_length=7)
    assert served["text"].tolist() == expected
    stopped = lm.generate_step(batch, stop_token_ids=[lm.preprocessor.tokenizer.end_token_id])
    np.testing.assert_array_equal(served["padding_mask"], to_np(stopped["padding_mask"]))


def test_with_custom_ops_keeps_the_ops(tmp_path):
    from fwp_keras.ops import _common

    if not _common.custom_ops_usable():
        pytest.skip("the op library does not load here")
    lm = zu.make_lm("delta_net")
    batch = zu.prompts([4, 2], 9, seed=22)
    zoo.export_saved_model(lm, str(tmp_path / "model"), with_custom_ops=True)
    with open(tmp_path / "model" / "saved_model.pb", "rb") as file:
        assert b"FwpDeltaRule" in file.read()
    run, _ = serve(tmp_path / "model", batch, tmp_path)
    assert run.returncode != 0 and "FwpDeltaRule" in run.stderr
    run, served = serve(tmp_path / "model", batch, tmp_path, with_ops=True)
    assert run.returncode == 0, run.stderr[-3000:]
    np.testing.assert_array_equal(served["token_ids"],
                                  to_np(lm.generate(batch, stop_token_ids=None)["token_ids"]))


def test_saved_model_cli_lists_the_named_inputs(tmp_path):
    zoo.export_saved_model(zu.make_lm("delta_net"), str(tmp_path / "model"))
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    run = subprocess.run([cli, "show", "--dir", str(tmp_path / "model"), "--all"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    for name in ("signature_def['generate']", "signature_def['logits']",
                 "inputs['token_ids']", "inputs['padding_mask']"):
        assert name in run.stdout


def test_export_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="include_text"):
        zoo.export_saved_model(zu.make_lm("delta_net"), str(tmp_path / "m"), include_text=True)
    with pytest.raises(ValueError, match="`model` must be a keras-hub CausalLM or Seq2SeqLM"):
        zoo.export_saved_model(object(), str(tmp_path / "m"))


SERVE_TRANSLATE = """
import sys, numpy as np
import tensorflow as tf
import tensorflow_text  # the SentencePiece op of translate_text
served = tf.saved_model.load(sys.argv[1])
data = np.load(sys.argv[2])
out = served.translate(encoder_token_ids=tf.constant(data["encoder_token_ids"]),
                       encoder_padding_mask=tf.constant(data["encoder_padding_mask"]))
logits = served.logits(**{k: tf.constant(data[k]) for k in data.files})
texts = served.translate_text(tf.constant(["Is this a dagger", "Out, damned spot!"])).numpy()
np.savez(sys.argv[2] + ".out.npz", token_ids=out["token_ids"].numpy(),
         padding_mask=out["padding_mask"].numpy(), logits=logits.numpy(),
         text=np.array([t.decode() for t in texts]))
print("imported:", sorted(m for m in sys.modules if m.split(".")[0] in ("fwp_keras",
      "keras_hub")))
"""


# Beam search on the fast weight decoder, greedy on the softmax one (the LM exports above hold
# the fast weight greedy loop).
@pytest.mark.parametrize("family, num_beams", [("delta_net", 3), ("transformer", 1)])
def test_plain_tensorflow_serves_translate(family, num_beams, tmp_path):
    import keras_hub
    from seq2seq_lm_test import string_lm

    lm = string_lm(family)
    zoo.export_saved_model(lm, str(tmp_path / "model"), include_text=True, num_beams=num_beams)
    sources = ["Is this a dagger", "Out, damned spot!"]
    batch = {k: to_np(v) for k, v in lm.preprocessor.generate_preprocess(sources).items()}
    np.savez(tmp_path / "batch.npz", **batch)
    run = subprocess.run([sys.executable, "-c", SERVE_TRANSLATE, str(tmp_path / "model"),
                          str(tmp_path / "batch.npz")], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "imported: []" in run.stdout
    served = np.load(str(tmp_path / "batch.npz") + ".out.npz")
    if num_beams > 1:
        lm.compile(sampler=keras_hub.samplers.BeamSampler(num_beams=num_beams))
    expected = lm.generate_step(batch, stop_token_ids=[lm.preprocessor.tokenizer.end_token_id])
    np.testing.assert_array_equal(served["token_ids"], to_np(expected["decoder_token_ids"]))
    np.testing.assert_array_equal(served["padding_mask"], to_np(expected["decoder_padding_mask"]))
    assert served["text"].tolist() == lm.generate(sources)
    assert zu.rel_err(to_np(lm(batch)), served["logits"]) <= zu.TOL


SERVE_WITHOUT_LIBRARIES = """
import sys
class Refuse:  # as if tensorflow-text, keras-hub and the zoo were not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow_text", "keras_hub", "fwp_keras"):
            raise ImportError(f"{name} is not installed here")
sys.meta_path.insert(0, Refuse())
import numpy as np, tensorflow as tf
served = tf.saved_model.load(sys.argv[1])
data = np.load(sys.argv[2])
endpoint = served.translate if sys.argv[3] == "translate" else served.generate
out = endpoint(**{key: tf.constant(data[key]) for key in data.files})
np.save(sys.argv[2] + ".out.npy", out["token_ids"].numpy())
"""


@pytest.mark.parametrize("preset", ["delta_net_shakespeare", "transformer_multi30k_en_de"])
def test_a_shipped_preset_exported_by_default_loads_with_tensorflow_alone(preset, tmp_path):
    """The SentencePiece tokenizer of a preset stays out of the token-id signatures."""
    import keras_hub

    model = keras_hub.models.CausalLM.from_preset(preset)  # Seq2SeqLM is a CausalLM
    zoo.export_saved_model(model, str(tmp_path / "model"), verbose=False)
    model.compile(sampler="greedy")  # the export's search
    if isinstance(model, keras_hub.models.Seq2SeqLM):
        endpoint = "translate"
        batch = {key: to_np(value) for key, value in model.preprocessor.generate_preprocess(
            ["A man is riding a bicycle."]).items() if key.startswith("encoder")}
        expected = model.generate_step({
            **batch, "decoder_token_ids": np.array([[2] + [0] * 63], "int32"),
            "decoder_padding_mask": np.array([[True] + [False] * 63])},
            stop_token_ids=[3])["decoder_token_ids"]
    else:
        endpoint = "generate"
        batch = zu.prompts([3, 5], 12, seed=22)
        expected = model.generate_step(batch, stop_token_ids=[3])["token_ids"]
    np.savez(tmp_path / "batch.npz", **batch)
    run = subprocess.run([sys.executable, "-c", SERVE_WITHOUT_LIBRARIES, str(tmp_path / "model"),
                          str(tmp_path / "batch.npz"), endpoint], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    np.testing.assert_array_equal(np.load(str(tmp_path / "batch.npz") + ".out.npy"),
                                  to_np(expected))


def test_export_says_what_it_is_doing(tmp_path, capsys):
    zoo.export_saved_model(zu.make_lm("delta_net"), str(tmp_path / "model"))
    err = capsys.readouterr().err
    assert "tracing the generation loop (greedy search" in err and "Exported" in err
