"""`make demo`: what a user does with the zoo, on shipped presets, in a few minutes on 2 cores.

Everything runs offline on the data shipped in the package (`fwp_keras.datasets`).

1. A language model (`delta_net_shakespeare`, trained on Shakespeare's works but Twelfth Night
   and Macbeth): generate from a prompt, perplexity on the second part of Macbeth, `fit` on its
   first part (Keras' progress bar), perplexity again, save the tuned preset, export a
   SavedModel and answer a request from it in a process that imports only TensorFlow (and
   tensorflow-text, for the SentencePiece tokenizer).
2. A translation model (`delta_net_multi30k_en_de`): translate three sentences, BLEU on a slice
   of Multi30k `val`, `fit` on a slice of `train`, export, serve the same way.
3. The Sec. 6.1 retrieval models: the shipped delta-rule and sum-rule memories on setting 2.

    python -m fwp_keras.training.demo --output-dir demo_output
"""

import argparse
import json
import os
import subprocess
import sys
import time

from fwp_keras.training.quiet_start import load_tensorflow_quietly

load_tensorflow_quietly()  # before anything imports TensorFlow

from fwp_keras.training.arguments import check_positive  # noqa: E402
from fwp_keras.training.arguments.evaluate import evaluate_parser  # noqa: E402
from fwp_keras.training.help_formatter import HelpFormatter  # noqa: E402

# argv: the SavedModel, its text endpoint, the request.
SERVE = """
import sys, tensorflow as tf, tensorflow_text  # tensorflow-text: the SentencePiece op
served = tf.saved_model.load(sys.argv[1])
print(getattr(served, sys.argv[2])(tf.constant([sys.argv[3]])).numpy()[0].decode())
assert not any(name.split(".")[0] in ("keras_hub", "fwp_keras") for name in sys.modules)
"""
TRANSLATE = ["A little girl is climbing a tree.", "Two men are playing football in a park.",
             "A dog runs on the beach."]
# Keras' progress bar on a terminal; one line an epoch into a file or pipe, where the bar's
# redraws would be hundreds of lines.
FIT_VERBOSE = 1 if sys.stdout.isatty() else 2

def section(title):
    print(f"\n=== {title}", flush=True)


def serve(saved_model, endpoint, request, expected):
    """Answers `request` from `saved_model` in a fresh process that imports TensorFlow (and
    tensorflow-text), neither keras-hub nor fwp_keras; `expected` is the Keras model's answer."""
    start = time.time()
    run = subprocess.run([sys.executable, "-c", SERVE, saved_model, endpoint, request],
                         capture_output=True, text=True, env={"TF_CPP_MIN_LOG_LEVEL": "2",
                                                              **os.environ})
    if run.returncode:
        raise SystemExit(f"Serving from {saved_model} failed:\n{run.stderr[-2000:]}")
    answer = run.stdout.strip()
    print(f"  served ({time.time() - start:.1f} s, a process with TensorFlow only): {answer!r}"
          f" ({'the same as' if answer == expected else 'DIFFERENT from'} the Keras model's)")


def load(task_cls, preset):
    """`task_cls.from_preset(preset)`, printing how the preset was trained."""
    from fwp_keras.zoo.presets import training_record

    model = task_cls.from_preset(preset)
    training = training_record(preset) or {"steps": "?", "metrics": {}}
    print(f"  {type(model).__name__}, {model.count_params():,} parameters, trained "
          f"{training['steps']} steps: {json.dumps(training['metrics'])}")
    return model


def language_model(args, where):
    import keras
    import keras_hub

    from fwp_keras import zoo
    from fwp_keras.datasets import shakespeare
    from fwp_keras.training import evaluate
    from fwp_keras.training.datasets import text

    section(f"1. Language model: {args.lm_preset}")
    lm = load(keras_hub.models.CausalLM, args.lm_preset)
    lm.compile(sampler=keras_hub.samplers.TopKSampler(k=10, seed=args.seed))
    prompt = "KING. My lord,"
    generated = lm.generate(prompt, max_length=args.generate_length, stop_token_ids=None)
    print(f"  generate({prompt!r}) (top-k, k = 10):\n    {generated}")

    lines = shakespeare.documents("test")[0]  # Macbeth
    cut = int(len(lines) * 0.8)
    held_out, _ = text.tokenize_documents([lines[cut:]], lm.preprocessor.tokenizer)
    held_out = held_out[:args.perplexity_tokens]
    length = lm.preprocessor.sequence_length

    def perplexity():
        return evaluate.sliding_window(lm, held_out, length, batch_size=64,
                                       progress=False)["perplexity"]

    before = perplexity()
    print(f"  perplexity on held-out text (the first {len(held_out):,} tokens of the last 20% "
          f"of Macbeth, sliding window of {length}): {before:.1f}")
    # The same stream the preset was trained on (every line ends with the end token), cut into
    # shuffled segments of token ids; the preprocessor is set aside while they feed `fit`.
    tokens, _ = text.tokenize_documents([lines[:cut]], lm.preprocessor.tokenizer)
    segments = text.shuffled_segments(tokens, length, batch_size=8, seed=args.seed)
    preprocessor, lm.preprocessor = lm.preprocessor, None
    lm.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
               weighted_metrics=["accuracy"])
    print(f"  fit on the first 80% of Macbeth ({len(tokens):,} tokens), {args.fit_steps} steps "
          "of 8 segments:")
    lm.fit(segments, steps_per_epoch=args.fit_steps, epochs=1, shuffle=False,
           verbose=FIT_VERBOSE)
    lm.preprocessor = preprocessor
    after = perplexity()
    print(f"  perplexity on the same held-out text after fit: {after:.1f} (was {before:.1f})")
    where["tuned language model (preset)"] = os.path.join(args.output_dir, "lm_tuned")
    lm.save_to_preset(where["tuned language model (preset)"])
    where["language model SavedModel"] = os.path.join(args.output_dir, "lm_saved_model")
    # Greedy search to the full width (the export's search), past the ends of lines.
    zoo.export_saved_model(lm, where["language model SavedModel"], include_text=True,
                           max_length=args.generate_length, stop_token_ids=None)
    lm.compile(sampler="greedy")
    serve(where["language model SavedModel"], "generate_text", prompt,
          lm.generate(prompt, max_length=args.generate_length, stop_token_ids=None))
    return {"perplexity_before": before, "perplexity_after": after}


def translation(args, where):
    import keras
    import keras_hub

    from fwp_keras import zoo
    from fwp_keras.datasets import multi30k
    from fwp_keras.training import translate

    section(f"2. Translation: {args.mt_preset}")
    mt = load(keras_hub.models.Seq2SeqLM, args.mt_preset)
    for source, target in zip(TRANSLATE, translate.translate(mt, TRANSLATE, num_beams=4)):
        print(f"  {source}\n    -> {target}")
    sources, references = (side[:args.bleu_sentences] for side in multi30k.load_data("val"))
    scores = translate.corpus_scores(translate.translate(mt, sources, num_beams=4), references)
    print(f"  BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f} on the first "
          f"{len(sources)} pairs of val (beam 4; {scores['bleu_signature']})")
    train = multi30k.as_dataset("train").take(2000)
    # The loss per target token (padding not counted), as `fwp-train mt` reports it.
    mt.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
               loss=keras.losses.SparseCategoricalCrossentropy(
                   from_logits=True, reduction="mean_with_sample_weight"),
               weighted_metrics=["accuracy"])
    steps = max(args.fit_steps // 4, 1)
    print(f"  fit on 2,000 pairs of train, {steps} steps:")
    mt.fit(train.shuffle(2000, seed=args.seed).repeat().batch(32), steps_per_epoch=steps,
           epochs=1, shuffle=False, verbose=FIT_VERBOSE)
    where["translation SavedModel"] = os.path.join(args.output_dir, "mt_saved_model")
    zoo.export_saved_model(mt, where["translation SavedModel"], include_text=True)
    serve(where["translation SavedModel"], "translate_text", TRANSLATE[0],
          translate.translate(mt, TRANSLATE[:1], num_beams=1)[0])
    return scores


def retrieval(args):
    from fwp_keras.training import evaluate

    section("3. Associative retrieval (Sec. 6.1, setting 2: S = 20 keys, re-assigned)")
    results = {}
    for rule, name in (("delta", "retrieval_setting2_s20_delta_dpfp1"),
                       ("sum", "retrieval_setting2_s20_sum_dpfp1")):
        results[rule] = evaluate.run(evaluate_parser().parse_args(
            ["synthetic", "--preset", name, "--setting", "2", "--seed", str(args.seed)]))
        print(f"  {name}: {rule} rule, evaluation loss {results[rule]['eval_loss']:.4f}, "
              f"accuracy {results[rule]['eval_accuracy']:.3f}")
    print("  The delta rule replaces what a key holds; the sum rule can only add to it "
          "(the paper's Fig. 3; fwp-reproduce update-rules trains them).")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--output-dir", default="demo_output")
    parser.add_argument("--lm-preset", default="delta_net_shakespeare")
    parser.add_argument("--mt-preset", default="delta_net_multi30k_en_de")
    parser.add_argument("--fit-steps", type=int, default=200)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--perplexity-tokens", type=int, default=1024)
    parser.add_argument("--generate-length", type=int, default=40)
    parser.add_argument("--bleu-sentences", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        check_positive(args, ("fit_steps", "generate_length", "bleu_sentences",
                              "perplexity_tokens"))
    except ValueError as error:
        parser.error(str(error))
    os.makedirs(args.output_dir, exist_ok=True)
    import keras

    keras.utils.set_random_seed(args.seed)
    start, where = time.time(), {}
    report = {"language_model": language_model(args, where),
              "translation": translation(args, where), "retrieval": retrieval(args)}
    where["this report"] = os.path.join(args.output_dir, "demo.json")
    with open(where["this report"], "w", encoding="utf-8") as file:
        json.dump(report, file, indent=2)
    section(f"Done in {time.time() - start:.0f} s. Written:")
    for what, path in where.items():
        print(f"  {what:<32}{path}")


if __name__ == "__main__":
    main()
