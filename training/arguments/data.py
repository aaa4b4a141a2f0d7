"""The data flags: a provided dataset by name, or files."""

from fwp_keras import datasets

# `--format` of text files: `training/datasets/text.py`'s FORMATS (arguments_test keeps them
# equal; that module loads TensorFlow).
TEXT_FORMATS = ("auto", "text", "wikitext")


def add_origin_argument(group):
    """`--dataset-origin`: where a provided dataset's published files are, for a mirror or a
    machine without network access (`fwp_keras.datasets`' `origin=`)."""
    group.add_argument("--dataset-origin",
                       help="a URL or local folder holding the dataset's published files "
                            "(default: the copy shipped in the package, else the corpus's "
                            "public source; downloads are cached under $KERAS_HOME)")


def add_dataset_arguments(parser, names, files):
    """`--dataset` (one of `names`) and `--split`, instead of the file flags `files`."""
    parser.add_argument("--dataset", choices=names,
                        help=f"a provided dataset (fwp_keras.datasets), instead of {files}")
    parser.add_argument("--split", help="of --dataset (default: its validation split)")
    add_origin_argument(parser)
