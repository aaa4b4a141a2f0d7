"""Why the zoo's first translation models trained six times worse than a plain keras-hub
Transformer, one change at a time (docs/results.md, "Translation quality"): the zoo's softmax
`TransformerSeq2SeqLM` as first shipped (sinusoidal positions added to token vectors drawn
with stddev 0.02, unscaled: the positions are 35 times larger), with learned positions
instead, with the token vectors scaled as Vaswani et al. scale them (the fix, now the
default), and the keras-hub reference; all at the size, recipe, batches, vocabulary and budget
of `benchmarks/translation.py`.

    KERAS_BACKEND=tensorflow python -m benchmarks.embedding_ablation --runs-dir runs/ablation
"""

import argparse

from benchmarks import translation

ROWS = [
    ("unscaled_sinusoidal", "transformer", ["--no-scale-embeddings"], "as first shipped"),
    ("unscaled_learned", "transformer",
     ["--no-scale-embeddings", "--position-encoding", "learned"], "learned positions"),
    ("scaled_sinusoidal", "transformer", [], "scaled tokens (the fix)"),
    ("reference", "reference", [], "keras-hub reference"),
    # What remains between the fix and the reference (2.5 M parameters to 1.4 M): its own
    # output layer, and its learned positions.
    ("scaled_untied", "transformer", ["--no-tie-word-embeddings"],
     "the fix, untied output layer"),
    ("scaled_learned", "transformer", ["--position-encoding", "learned"],
     "the fix, learned positions"),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", default="runs/ablation")
    parser.add_argument("--max-steps", type=int, default=400)
    args = parser.parse_args(argv)
    rows = translation.run_rows([(name, model, [*extra, "--eval-every", "200"], label)
                                 for name, model, extra, label in ROWS],
                                args.runs_dir, args.max_steps, "embedding_ablation",
                                label="change")
    print(translation.table(rows, "change"))


if __name__ == "__main__":
    main()
