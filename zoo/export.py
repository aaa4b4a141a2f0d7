"""export_saved_model: a zoo language model as a SavedModel for TensorFlow Serving.

    fwp_keras.zoo.export_saved_model(causal_lm, "exported/")
    # elsewhere, with nothing but TensorFlow:
    served = tf.saved_model.load("exported/")
    out = served.generate(token_ids=ids, padding_mask=mask)     # greedy, {"token_ids", "padding_mask"}
    logits = served.logits(token_ids=ids, padding_mask=mask)

The generate loop itself is in the graph (keras-hub's `generate_step`: one prefill pass, then the
one-step forms in a `tf.while_loop`), traced with `keras.export.ExportArchive`; keras-hub has no
SavedModel export of its own, and wrapping `generate()` in a `tf.function` fails (keras-hub#1090).
"""

import contextlib

import keras
import keras_hub
from keras_hub.src.utils.tensor_utils import strip_to_ragged


def export_saved_model(causal_lm, path, *, with_custom_ops=False, include_text=False,
                       stop_token_ids="auto", verbose=False):
    """Writes `causal_lm` to `path` as a SavedModel with named signatures.

    Signatures (inputs named as keras-hub names them):
        `generate(token_ids: int32 [B, W], padding_mask: bool [B, W])` -> `{"token_ids",
            "padding_mask"}`: greedy generation filling the width W, prompts at the start of
            their rows (as `causal_lm.generate` takes them without a preprocessor);
        `logits(token_ids, padding_mask)` -> `[B, W, vocabulary_size]` float32: the forward pass;
        `generate_text(prompts: string [B])` -> `string [B]` with `include_text=True` (needs the
            model's preprocessor; the width is its `sequence_length`). Loading a SavedModel with
            it needs `import tensorflow_text` first when the tokenizer is a SentencePiece one.

    Args:
        with_custom_ops: keep the TensorFlow custom ops in the graph (faster prefill); loading
            then needs `fwp_keras.tf_ops.load_custom_ops()` first. By default the graph holds
            the keras.ops chunked and one-step forms only, so stock TensorFlow loads it.
        stop_token_ids: token ids that end a row; `"auto"` is the tokenizer's end token when
            the model has a preprocessor, else none (generate until the width is full).
    """
    if keras.config.backend() != "tensorflow":
        raise ValueError(
            "export_saved_model writes a TensorFlow SavedModel and needs the TensorFlow "
            f"backend (KERAS_BACKEND=tensorflow). Current backend: {keras.config.backend()!r}"
        )
    import tensorflow as tf

    from fwp_keras.tf_ops import disable_custom_ops

    if not isinstance(causal_lm, keras_hub.models.CausalLM):
        raise ValueError(
            "`causal_lm` must be a keras-hub CausalLM of the zoo (e.g. DeltaNetCausalLM). "
            f"Received: {type(causal_lm).__name__}"
        )
    preprocessor = causal_lm.preprocessor
    if include_text and preprocessor is None:
        raise ValueError(
            "`include_text=True` needs the model's preprocessor (its tokenizer): attach one "
            "or export without the text endpoint."
        )
    if stop_token_ids == "auto":
        stop_token_ids = None if preprocessor is None else (preprocessor.tokenizer.end_token_id,)
    elif stop_token_ids is not None:
        stop_token_ids = tuple(int(i) for i in stop_token_ids)

    def generate(token_ids, padding_mask):
        return causal_lm.generate_step(
            {"token_ids": token_ids, "padding_mask": padding_mask}, stop_token_ids=stop_token_ids
        )

    def logits(token_ids, padding_mask):
        return tf.cast(causal_lm({"token_ids": token_ids, "padding_mask": padding_mask}),
                       "float32")

    def generate_text(prompts):
        inputs = preprocessor.generate_preprocess(prompts)
        out = generate(inputs["token_ids"], tf.cast(inputs["padding_mask"], "bool"))
        # keras-hub's generate_postprocess goes through NumPy; its TF helper is traceable.
        tokenizer = preprocessor.tokenizer
        ids = strip_to_ragged(out["token_ids"], out["padding_mask"], tokenizer.special_token_ids)
        return tokenizer.detokenize(ids)

    ids_spec = tf.TensorSpec((None, None), "int32", name="token_ids")
    mask_spec = tf.TensorSpec((None, None), "bool", name="padding_mask")
    sampler = causal_lm.sampler
    causal_lm.sampler = keras_hub.samplers.GreedySampler()
    archive = keras.export.ExportArchive()
    archive.track(causal_lm)
    try:
        with contextlib.nullcontext() if with_custom_ops else disable_custom_ops():
            archive.add_endpoint("generate", generate, input_signature=[ids_spec, mask_spec])
            archive.add_endpoint("logits", logits, input_signature=[ids_spec, mask_spec])
            if include_text:
                if not preprocessor.built:
                    preprocessor.build(None)
                archive.track(preprocessor)
                archive.add_endpoint(
                    "generate_text", generate_text,
                    input_signature=[tf.TensorSpec((None,), "string", name="prompts")],
                )
            archive.write_out(path, verbose=verbose)
    finally:
        causal_lm.sampler = sampler
    return path
