"""Provided datasets (`tf.data`, seeded): the Sec. 6.1 retrieval settings and text streams."""

from fwp_keras.training.datasets.retrieval import (
    retrieval_dataset,
    retrieval_evaluation_data,
)
