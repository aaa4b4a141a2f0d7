"""`fwp-evaluate lm`: perplexity with both of the paper's protocols (Sec. 6.3); `fwp-evaluate mt`:
BLEU and chrF of a translation model (Sec. 6.2); `fwp-evaluate synthetic`: the retrieval loss of
a Sec. 6.1 model on the paper's evaluation set.

    fwp-evaluate lm --preset delta_net_shakespeare --dataset shakespeare --split test
    fwp-evaluate lm --preset runs/lm/preset --text my_text.txt
    fwp-evaluate mt --preset runs/mt/preset --dataset multi30k --split test2016 --num-beams 4
    fwp-evaluate mt --preset runs/mt/preset --source test.en --target test.de
    fwp-evaluate synthetic --preset runs/delta/preset --setting 2

`--dataset NAME --split SPLIT` reads a provided dataset (`fwp_keras.datasets`: shipped, or
downloaded once); `--text`, `--source` / `--target` read files.

- Sliding window (Table 2): windows of `L` tokens moved one token at a time, every window a
  fresh model (no state from before it); in the first window every position counts, in each
  later one only the last (its prediction then has the full `L - 1` tokens of context).
  Windows are independent, so they run `--batch-size` at a time: the same numbers as one by
  one, the paper's batch of 1.
- No truncation (Table 4): the whole text fed segment by segment of `L` tokens with the fast
  weights carried from each segment to the next (batch 1): every prediction sees all the text
  before it. For a fast weight model this is one pass over the whole text; the softmax
  Transformer has no finite state to carry, so it has no such number.

Both report perplexity `exp(mean NLL)` and bits per token `mean NLL / ln 2`.

Translation: the sources translated (`translate.translate`, greedy or beam search) and scored
against the references with sacrebleu on detokenised text (`translate.corpus_scores`).
"""

import argparse

from fwp_keras import datasets
from fwp_keras.training.arguments.data import TEXT_FORMATS, add_dataset_arguments
from fwp_keras.training.help_formatter import HelpFormatter

PROTOCOLS = ("sliding-window", "no-truncation")
# `fwp_keras.datasets.retrieval`'s (arguments_test keeps them equal; that module loads
# TensorFlow).
RETRIEVAL_SETTINGS = (1, 2)
RETRIEVAL_EVALUATION_SEQUENCES = 20


def evaluate_parser():
    """`fwp-evaluate`'s flags."""
    parser = argparse.ArgumentParser(prog="fwp-evaluate", description=__doc__,
                                     formatter_class=HelpFormatter)
    tasks = parser.add_subparsers(dest="task", required=True)
    lm = tasks.add_parser("lm", help="perplexity of a language-model preset on a text",
                          formatter_class=HelpFormatter)
    lm.add_argument("--preset", required=True, help="a preset name or directory")
    add_dataset_arguments(lm, datasets.TEXT_DATASETS, "--text")
    lm.add_argument("--text", nargs="+", help="text files (instead of --dataset)")
    lm.add_argument("--format", choices=TEXT_FORMATS, default="auto",
                    help="of --text files: 'wikitext' for wiki.*.tokens (auto: by the name)")
    lm.add_argument("--sequence-length", type=int,
                    help="L (default: the preset preprocessor's sequence_length)")
    lm.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    lm.add_argument("--batch-size", type=int, default=16, help="windows a forward pass")
    lm.add_argument("--max-tokens", type=int, help="evaluate only the first this many tokens")
    lm.add_argument("--verbose", type=int, choices=(0, 1), default=1)
    mt = tasks.add_parser("mt", help="BLEU and chrF of a translation preset on parallel text",
                          formatter_class=HelpFormatter)
    mt.add_argument("--preset", required=True, help="a Seq2SeqLM preset name or directory")
    add_dataset_arguments(mt, datasets.TRANSLATION_DATASETS, "--source / --target")
    mt.add_argument("--source", help="sources, one a line (instead of --dataset)")
    mt.add_argument("--target", help="references, aligned by line")
    mt.add_argument("--num-beams", type=int, default=4, help="1: greedy search")
    mt.add_argument("--batch-size", type=int, default=32, help="sentences a generate call")
    mt.add_argument("--max-sentences", type=int, help="only the first this many pairs")
    mt.add_argument("--hypotheses", help="write the translations to this file")
    mt.add_argument("--verbose", type=int, choices=(0, 1), default=1)
    synthetic = tasks.add_parser(
        "synthetic", help="the Sec. 6.1 loss of a retrieval preset (20 sequences x S queries)",
        formatter_class=HelpFormatter)
    synthetic.add_argument("--preset", required=True, help="a retrieval preset name or directory")
    synthetic.add_argument("--setting", type=int, choices=RETRIEVAL_SETTINGS, required=True)
    synthetic.add_argument("--seed", type=int, default=0, help="of the evaluation sequences")
    synthetic.add_argument("--num-sequences", type=int, default=RETRIEVAL_EVALUATION_SEQUENCES)
    return parser
