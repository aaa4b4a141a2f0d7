"""export_saved_model: a zoo language or translation model as a SavedModel for TensorFlow Serving.

    fwp_keras.zoo.export_saved_model(causal_lm, "exported/")
    # elsewhere, with nothing but TensorFlow:
    served = tf.saved_model.load("exported/")
    out = served.generate(token_ids=ids, padding_mask=mask)     # greedy, {"token_ids", "padding_mask"}
    logits = served.logits(token_ids=ids, padding_mask=mask)

    fwp_keras.zoo.export_saved_model(seq2seq_lm, "exported/", num_beams=4)
    out = served.translate(encoder_token_ids=ids, encoder_padding_mask=mask)   # {"token_ids", ...}

The generate loop itself is in the graph (keras-hub's `generate_step`: one prefill pass, then the
one-step forms in a `tf.while_loop`), traced with `keras.export.ExportArchive`; keras-hub has no
SavedModel export of its own, and wrapping `generate()` in a `tf.function` fails (keras-hub#1090).
"""

import contextlib
import sys
import time

import keras
import keras_hub
from keras_hub.src.utils.tensor_utils import strip_to_ragged


def export_saved_model(model, path, *, with_custom_ops=False, include_text=False,
                       stop_token_ids="auto", num_beams=1, max_length=None, verbose=True):
    """Writes a zoo `CausalLM` or `Seq2SeqLM` to `path` as a SavedModel with named signatures.

    Signatures of a `CausalLM` (inputs named as keras-hub names them):
        `generate(token_ids: int32 [B, W], padding_mask: bool [B, W])` -> `{"token_ids",
            "padding_mask"}`: generation filling the width W, prompts at the start of their
            rows (as `causal_lm.generate` takes them without a preprocessor);
        `logits(token_ids, padding_mask)` -> `[B, W, vocabulary_size]` float32: the forward pass;
        `generate_text(prompts: string [B])` -> `string [B]` with `include_text=True` (needs the
            model's preprocessor; the width is `max_length`, by default its `sequence_length`).

    Signatures of a `Seq2SeqLM`:
        `translate(encoder_token_ids: int32 [B, S], encoder_padding_mask: bool [B, S])` ->
            `{"token_ids", "padding_mask"}` `[B, max_length]`: each row `<s>` and its
            translation (source rows packed as the preprocessor packs them, `<s> ... </s>`);
        `logits(encoder_token_ids, encoder_padding_mask, decoder_token_ids,
            decoder_padding_mask)` -> `[B, T, vocabulary_size]` float32;
        `translate_text(sources: string [B])` -> `string [B]` with `include_text=True`.

    The token-id signatures hold no tokenizer: plain TensorFlow loads a default export.
    Loading a SavedModel with a text endpoint needs `import tensorflow_text` first when the
    tokenizer is a SentencePiece one.

    Args:
        with_custom_ops: keep the TensorFlow custom ops in the graph (faster prefill); loading
            then needs `fwp_keras.tf_ops.load_custom_ops()` first. By default the graph holds
            the keras.ops chunked and one-step forms only, so stock TensorFlow loads it.
        stop_token_ids: token ids that end a row; `"auto"` is the tokenizer's end token when
            the model has a preprocessor, else none (generate until the width is full).
        num_beams: 1 for greedy search, more for keras-hub's beam search with that many beams.
        max_length: a `CausalLM`'s `generate_text` width (prompt and generated tokens; default:
            its preprocessor's `sequence_length`), or a `Seq2SeqLM`'s target width (default:
            its preprocessor's `decoder_sequence_length`; the start token is the tokenizer's).
        verbose: say what is being done (tracing the generation loop takes 10-30 s).
    """
    if keras.config.backend() != "tensorflow":
        raise ValueError(
            "export_saved_model writes a TensorFlow SavedModel and needs the TensorFlow "
            f"backend (KERAS_BACKEND=tensorflow). Current backend: {keras.config.backend()!r}"
        )
    from fwp_keras.tf_ops import disable_custom_ops

    if not isinstance(model, keras_hub.models.CausalLM):  # Seq2SeqLM is a CausalLM
        raise ValueError(
            "`model` must be a keras-hub CausalLM or Seq2SeqLM of the zoo (e.g. "
            f"DeltaNetCausalLM, DeltaNetSeq2SeqLM). Received: {type(model).__name__}"
        )
    num_beams = int(num_beams)
    if num_beams < 1:
        raise ValueError(f"`num_beams` must be an integer >= 1. Received: {num_beams}")
    preprocessor = model.preprocessor
    if include_text and preprocessor is None:
        raise ValueError(
            "`include_text=True` needs the model's preprocessor (its tokenizer): attach one "
            "or export without the text endpoint."
        )
    if stop_token_ids == "auto":
        stop_token_ids = None if preprocessor is None else (preprocessor.tokenizer.end_token_id,)
    elif stop_token_ids is not None:
        stop_token_ids = tuple(int(i) for i in stop_token_ids)

    def say(message):
        if verbose:
            print(message, file=sys.stderr, flush=True)

    start = time.time()
    exported = model if include_text else _without_preprocessor(model)
    sampler = exported.sampler
    exported.sampler = (keras_hub.samplers.GreedySampler() if num_beams == 1
                        else keras_hub.samplers.BeamSampler(num_beams=num_beams))
    archive = keras.export.ExportArchive()
    archive.track(exported)
    if include_text:
        if not preprocessor.built:
            preprocessor.build(None)
        archive.track(preprocessor)
    add_endpoints = (_add_seq2seq_endpoints if isinstance(model, keras_hub.models.Seq2SeqLM)
                     else _add_causal_lm_endpoints)
    search = "greedy search" if num_beams == 1 else f"beam search ({num_beams} beams)"
    say(f"Exporting {type(model).__name__} to {path}: tracing the generation loop ({search}, "
        f"{'custom ops kept' if with_custom_ops else 'keras.ops forms'}) and the forward "
        f"pass{', with the text endpoint' if include_text else ''}...")
    try:
        with contextlib.nullcontext() if with_custom_ops else disable_custom_ops():
            add_endpoints(archive, exported, preprocessor, stop_token_ids, include_text,
                          max_length)
            say("Writing the SavedModel...")
            archive.write_out(path, verbose=False)
    finally:
        exported.sampler = sampler
    say(f"Exported {path} in {time.time() - start:.0f} s.")
    return path


def _without_preprocessor(model):
    """The same task on the same backbone (the same variables) with no preprocessor: a task
    that once held a SentencePiece tokenizer keeps its op in any graph traced from it, and
    loading that graph would need tensorflow-text."""
    suppressed = getattr(model, "_suppressed_token_ids", None)
    if suppressed is None:
        suppressed = model.set_suppressed_token_ids()
    task = type(model)(model.backbone, preprocessor=None)
    task.sampler = model.sampler
    task.set_suppressed_token_ids(list(suppressed))
    return task


def _detokenize(tokenizer, token_ids, padding_mask):
    # keras-hub's generate_postprocess goes through NumPy; its TF helper is traceable.
    ids = strip_to_ragged(token_ids, padding_mask, tokenizer.special_token_ids)
    return tokenizer.detokenize(ids)


def _add_causal_lm_endpoints(archive, causal_lm, preprocessor, stop_token_ids, include_text,
                             max_length):
    import tensorflow as tf

    if max_length is not None:
        if not include_text:
            raise ValueError("`max_length` sets the width of a CausalLM's `generate_text`: pass "
                             "it with include_text=True (`generate` fills the width it is given).")
        max_length = int(max_length)
        if max_length < 2:
            raise ValueError(f"`max_length` must be >= 2 (<s> and one token). Received: "
                             f"{max_length}")

    def generate(token_ids, padding_mask):
        return causal_lm.generate_step(
            {"token_ids": token_ids, "padding_mask": padding_mask}, stop_token_ids=stop_token_ids
        )

    def logits(token_ids, padding_mask):
        return tf.cast(causal_lm({"token_ids": token_ids, "padding_mask": padding_mask}),
                       "float32")

    def generate_text(prompts):
        inputs = preprocessor.generate_preprocess(prompts, sequence_length=max_length)
        out = generate(inputs["token_ids"], tf.cast(inputs["padding_mask"], "bool"))
        return _detokenize(preprocessor.tokenizer, out["token_ids"], out["padding_mask"])

    ids_spec = tf.TensorSpec((None, None), "int32", name="token_ids")
    mask_spec = tf.TensorSpec((None, None), "bool", name="padding_mask")
    archive.add_endpoint("generate", generate, input_signature=[ids_spec, mask_spec])
    archive.add_endpoint("logits", logits, input_signature=[ids_spec, mask_spec])
    if include_text:
        archive.add_endpoint("generate_text", generate_text,
                             input_signature=[tf.TensorSpec((None,), "string", name="prompts")])


def _add_seq2seq_endpoints(archive, seq2seq_lm, preprocessor, stop_token_ids, include_text,
                           max_length):
    import tensorflow as tf

    if max_length is None:
        if preprocessor is None:
            raise ValueError("Exporting a Seq2SeqLM without a preprocessor needs `max_length`, "
                             "the target width, and a start token: attach the preprocessor.")
        max_length = preprocessor.decoder_sequence_length
    max_length = int(max_length)
    if max_length < 2:
        raise ValueError(f"`max_length` must be >= 2 (<s> and one token). Received: {max_length}")
    if preprocessor is None:
        raise ValueError("Exporting a Seq2SeqLM needs its preprocessor (the tokenizer's start "
                         "token begins every translation).")
    start = preprocessor.tokenizer.start_token_id
    pad = preprocessor.tokenizer.pad_token_id

    def translate(encoder_token_ids, encoder_padding_mask):
        batch = tf.shape(encoder_token_ids)[0]
        first = tf.range(max_length)[None, :] < 1
        decoder_ids = tf.where(first, start, pad) * tf.ones((batch, 1), "int32")
        out = seq2seq_lm.generate_step({
            "encoder_token_ids": encoder_token_ids,
            "encoder_padding_mask": encoder_padding_mask,
            "decoder_token_ids": decoder_ids,
            "decoder_padding_mask": tf.repeat(first, batch, axis=0),
        }, stop_token_ids=stop_token_ids)
        return {"token_ids": out["decoder_token_ids"],
                "padding_mask": out["decoder_padding_mask"]}

    def logits(encoder_token_ids, encoder_padding_mask, decoder_token_ids, decoder_padding_mask):
        return tf.cast(seq2seq_lm({
            "encoder_token_ids": encoder_token_ids, "encoder_padding_mask": encoder_padding_mask,
            "decoder_token_ids": decoder_token_ids, "decoder_padding_mask": decoder_padding_mask,
        }), "float32")

    def translate_text(sources):
        inputs = preprocessor.generate_preprocess(sources)
        out = translate(inputs["encoder_token_ids"],
                        tf.cast(inputs["encoder_padding_mask"], "bool"))
        return _detokenize(preprocessor.tokenizer, out["token_ids"], out["padding_mask"])

    def specs(side):
        return [tf.TensorSpec((None, None), "int32", name=f"{side}_token_ids"),
                tf.TensorSpec((None, None), "bool", name=f"{side}_padding_mask")]

    archive.add_endpoint("translate", translate, input_signature=specs("encoder"))
    archive.add_endpoint("logits", logits, input_signature=specs("encoder") + specs("decoder"))
    if include_text:
        archive.add_endpoint("translate_text", translate_text,
                             input_signature=[tf.TensorSpec((None,), "string", name="sources")])
