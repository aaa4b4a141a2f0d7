"""`fwp-train lm`: language modelling (the paper's Sec. 6.3) on `model.fit`.

    fwp-train lm --dataset shakespeare --tokenizer sentencepiece --model delta_net \\
        --output-dir runs/lm
    fwp-train lm --train my_corpus.txt --model delta_net --output-dir runs/my_lm

A provided dataset (`--dataset`: its train split, validated on its validation split) or text
files (`--train`: plain text, or WikiText's `wiki.*.tokens`) become one token stream, cut into
segments of `--sequence-length` tokens: shuffled independent segments by default (Table 2),
or `--carry-state`: `--batch-size` contiguous streams with each row's fast weights carried to
its next segment (Table 4; `carried_state.py`). Text files without `--validation` hold out the
last `--validation-fraction` of the stream. `fwp-evaluate lm` then measures the paper's two
perplexity protocols on any text.
"""

from fwp_keras import datasets
from fwp_keras.training.arguments.data import TEXT_FORMATS, add_origin_argument
from fwp_keras.training.arguments.model import add_model_arguments


def add_arguments(parser):
    data = parser.add_argument_group("data (a provided --dataset, or --train files)")
    data.add_argument("--dataset", choices=datasets.TEXT_DATASETS,
                      help="a provided corpus (fwp_keras.datasets): train on its train split, "
                           "validate on its validation split")
    add_origin_argument(data)
    data.add_argument("--train", nargs="+", help="training text files")
    data.add_argument("--validation", nargs="+", help="validation text files")
    data.add_argument("--validation-fraction", type=float, default=0.1,
                      help="with --train and no --validation: the tail of the stream held out")
    data.add_argument("--format", choices=TEXT_FORMATS, default="auto",
                      help="of --train files: 'wikitext' for wiki.*.tokens (auto: by the "
                           "file name)")
    data.add_argument("--tokenizer", default="word",
                      help="'word' or 'sentencepiece' (trained on --train), or a tokenizer "
                           "preset directory; a --model preset brings its own")
    data.add_argument("--vocabulary-size", type=int, default=8192,
                      help="of a trained tokenizer (word: the most frequent words)")
    add_model_arguments(parser, "language-model", num_layers=2, hidden_dim=128,
                        intermediate_dim=512)
    training = parser.add_argument_group("training")
    training.add_argument("--sequence-length", type=int, default=256, help="L, tokens a segment")
    training.add_argument("--batch-size", type=int, default=16)
    training.add_argument("--carry-state", action="store_true",
                          help="carry each stream's fast weights to its next segment")
    training.add_argument("--learning-rate", type=float, default=1e-3)
    training.add_argument("--warmup-steps", type=int, default=200)
    training.add_argument("--clip-norm", type=float, default=1.0)
    training.add_argument("--max-steps", type=int, default=2000)
    training.add_argument("--eval-every", type=int, default=200)
    training.add_argument("--eval-batches", type=int, default=20,
                          help="validation batches per evaluation")
    training.add_argument("--patience-steps", type=int,
                          help="stop when the validation loss has not improved for this long")


