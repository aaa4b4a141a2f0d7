"""`fwp-translate`: translate sentences, one a line, with a zoo `Seq2SeqLM` preset (greedy or
beam search; a blank line gives a blank line).

    fwp-translate --preset runs/mt/preset --input sources.en --output hypotheses.de
    echo "A man is riding a bike." | fwp-translate --preset transformer_multi30k_en_de
"""

import argparse

from fwp_keras.training.help_formatter import HelpFormatter


def translate_parser():
    """`fwp-translate`'s flags."""
    parser = argparse.ArgumentParser(prog="fwp-translate", description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--preset", required=True, help="a Seq2SeqLM preset name or directory")
    parser.add_argument("--input", help="one sentence a line (default: standard input)")
    parser.add_argument("--output", help="translations, one a line (default: standard output)")
    parser.add_argument("--num-beams", type=int, default=4, help="1: greedy search")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int,
                        help="target tokens (default: the preprocessor's decoder length)")
    return parser
