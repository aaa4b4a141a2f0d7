"""`fwp-train mt`: translation (the paper's Sec. 6.2) on `model.fit`.

    fwp-train mt --dataset multi30k --model delta_net --output-dir runs/mt
    fwp-train mt --source train.en --target train.de --validation-source val.en \\
        --validation-target val.de --model delta_net --output-dir runs/my_mt

A provided dataset (`--dataset`: its train and validation splits) or aligned files become
token-count batches bucketed by length (`datasets/parallel_text.py`) on a
joint SentencePiece vocabulary of both sides, trained with keras-hub's trainer on the training
files (or `--tokenizer DIR`). The Transformer recipe, scaled to the machine: Adam (0.9, 0.98,
1e-9), linear warm-up then inverse-square-root decay, label smoothing 0.1, dropout 0.1. The
weights of the best validation loss are kept; at the end the validation set is translated with
beam search (`--num-beams`) and scored with sacrebleu (BLEU and chrF on detokenised text).
"""

from fwp_keras import datasets
from fwp_keras.training.arguments.data import add_origin_argument
from fwp_keras.training.arguments.model import add_model_arguments


def add_arguments(parser):
    data = parser.add_argument_group("data (a provided --dataset, or aligned files)")
    data.add_argument("--dataset", choices=datasets.TRANSLATION_DATASETS,
                      help="a provided corpus (fwp_keras.datasets): train on its train split, "
                           "validate on its validation split")
    add_origin_argument(data)
    data.add_argument("--source", help="training sources, one a line")
    data.add_argument("--target", help="training targets, aligned by line")
    data.add_argument("--validation-source")
    data.add_argument("--validation-target")
    data.add_argument("--max-pairs", type=int, help="use only the first this many training pairs")
    data.add_argument("--tokenizer", default="sentencepiece",
                      help="'sentencepiece' (trained on --source and --target) or a tokenizer "
                           "preset directory; a --model preset brings its own")
    data.add_argument("--vocabulary-size", type=int, default=8000)
    data.add_argument("--encoder-sequence-length", type=int, default=64,
                      help="source tokens with <s> and </s>; longer sources are truncated")
    data.add_argument("--decoder-sequence-length", type=int, default=64)
    add_model_arguments(parser, "Seq2SeqLM", num_layers=3, hidden_dim=256,
                        intermediate_dim=1024)
    training = parser.add_argument_group("training")
    training.add_argument("--max-tokens", type=int, default=4096,
                          help="tokens a batch (source or target side, with padding)")
    training.add_argument("--learning-rate", type=float, default=1e-3, help="the peak")
    training.add_argument("--warmup-steps", type=int, default=500)
    training.add_argument("--label-smoothing", type=float, default=0.1)
    training.add_argument("--clip-norm", type=float, default=1.0)
    training.add_argument("--max-steps", type=int, default=3000)
    training.add_argument("--eval-every", type=int, default=250)
    training.add_argument("--patience-steps", type=int,
                          help="stop when the validation loss has not improved for this long")
    evaluation = parser.add_argument_group("final evaluation")
    evaluation.add_argument("--num-beams", type=int, default=4, help="1: greedy search")
    evaluation.add_argument("--bleu-sentences", type=int,
                            help="translate only the first this many validation sentences")
    evaluation.add_argument("--translate-batch-size", type=int, default=64)


