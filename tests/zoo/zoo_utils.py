"""Shared helpers of the zoo tests: one small model per family, a locally trained tokenizer,
numbers out of Keras."""

import functools
import os
import sys

import keras
import numpy as np

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TESTS not in sys.path:  # conftest.py does this too
    sys.path.insert(0, _TESTS)

import corpus_files  # noqa: E402
from fwp_keras import zoo  # noqa: E402
from fwp_keras.datasets import shakespeare  # noqa: E402

BACKEND = keras.backend.backend()
WIKITEXT = corpus_files.wikitext_2_valid()
VOCABULARY = 61  # not a multiple of anything: catches vocabularies mixed up with widths
TOL = 1e-5

SMALL = dict(vocabulary_size=VOCABULARY, num_layers=2, num_heads=2, hidden_dim=16,
             intermediate_dim=24, chunk_size=4)
# Every family with its own knob set off its default; chunk_size 4 < the prompts: several chunks.
FAMILIES = {
    "linear_transformer": (zoo.LinearTransformerCausalLM, {}),
    "performer": (zoo.PerformerCausalLM, dict(num_random_features=6)),
    "dpfp": (zoo.DPFPCausalLM, dict(nu=2)),
    "delta_net": (zoo.DeltaNetCausalLM, dict(feature_map="elu_plus_one")),
    "transformer": (zoo.TransformerCausalLM, {}),
}
FAST_WEIGHT_FAMILIES = [name for name in FAMILIES if name != "transformer"]


def make_backbone(family, **kwargs):
    cls, family_kwargs = FAMILIES[family]
    config = {**SMALL, **family_kwargs, **kwargs}
    if family == "transformer":
        config.pop("chunk_size")
    keras.utils.set_random_seed(0)
    return cls.backbone_cls(**config)


def make_lm(family, preprocessor=None, **kwargs):
    """`preprocessor` may be a callable making one: it runs after the seeding, which clears
    TensorFlow's kernel caches and with them a SentencePiece tokenizer's resource."""
    cls, _ = FAMILIES[family]
    backbone = make_backbone(family, **kwargs)
    if callable(preprocessor) and not isinstance(preprocessor, keras.layers.Layer):
        preprocessor = preprocessor()
    lm = cls(backbone, preprocessor=preprocessor)
    lm.compile(sampler="greedy")
    return lm


SUPPRESSED = [0, 1]  # what generate never samples: <pad> and <unk> of the zoo's tokenizers


def next_token(logits):
    """The no-cache references' greedy choice: the argmax over all but the suppressed ids."""
    logits = np.array(logits, np.float64)
    logits[..., SUPPRESSED] = -np.inf
    return int(logits.argmax())


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def rel_err(ref, x):
    ref, x = np.asarray(ref, np.float64), np.asarray(x, np.float64)
    return np.linalg.norm(ref - x) / max(np.linalg.norm(ref), 1e-30)


def prompts(lengths, width, seed=0):
    """Right-padded prompts in keras-hub's layout: ids in [4, V) (no special token), mask."""
    rng = np.random.default_rng(seed)
    mask = np.arange(width)[None, :] < np.asarray(lengths)[:, None]
    ids = np.where(mask, rng.integers(4, VOCABULARY, (len(lengths), width)), 0)
    return {"token_ids": ids.astype("int32"), "padding_mask": mask}


def sentence_piece_tokenizer(vocabulary_size=400, cls=zoo.FastWeightTokenizer):
    """A SentencePiece vocabulary trained here on the first lines of one play (a new tokenizer
    on every call, from one trained proto)."""
    return cls(proto=_sentence_piece_proto(vocabulary_size))


@functools.lru_cache(maxsize=None)
def _sentence_piece_proto(vocabulary_size):
    path = os.path.join(_cache_dir(), f"macbeth_{vocabulary_size}.txt")
    if not os.path.exists(path):
        lines = shakespeare.documents("test")[0][:1500]  # Macbeth
        partial = f"{path}.{os.getpid()}"  # then renamed: parallel test workers share the file
        with open(partial, "w", encoding="utf-8") as target:
            target.write("\n".join(lines))
        os.replace(partial, path)
    return zoo.train_sentence_piece_tokenizer([path], vocabulary_size).proto


def _cache_dir():
    path = os.path.join(os.environ.get("PYTEST_TMPDIR", "/tmp"), f"fwp_zoo_tests_{os.getuid()}")
    os.makedirs(path, exist_ok=True)
    return path


SEQ2SEQ_FAMILIES = {
    "linear_transformer": (zoo.LinearTransformerSeq2SeqLM, {}),
    "performer": (zoo.PerformerSeq2SeqLM, dict(num_random_features=6)),
    "dpfp": (zoo.DPFPSeq2SeqLM, dict(nu=2)),
    "delta_net": (zoo.DeltaNetSeq2SeqLM, dict(feature_map="elu_plus_one")),
    "transformer": (zoo.TransformerSeq2SeqLM, {}),
}


def make_seq2seq_lm(family, preprocessor=None, **kwargs):
    """One small translation model per family (one block each side unless told)."""
    cls, family_kwargs = SEQ2SEQ_FAMILIES[family]
    config = {**SMALL, "num_layers": 1, **family_kwargs, **kwargs}
    if family == "transformer":
        config.pop("chunk_size")
    keras.utils.set_random_seed(0)
    backbone = cls.backbone_cls(**config)
    if callable(preprocessor) and not isinstance(preprocessor, keras.layers.Layer):
        preprocessor = preprocessor()
    lm = cls(backbone, preprocessor=preprocessor)
    lm.compile(sampler="greedy")
    return lm


def seq2seq_batch(source_lengths, source_width, target_width, seed=0, target_lengths=None):
    """Right-padded sources, and decoder rows that are `<s>` (id 2) then random target ids up
    to `target_lengths` (default: the whole width)."""
    rng = np.random.default_rng(seed)
    batch = len(source_lengths)
    encoder_mask = np.arange(source_width)[None] < np.asarray(source_lengths)[:, None]
    target_lengths = [target_width] * batch if target_lengths is None else target_lengths
    decoder_mask = np.arange(target_width)[None] < np.asarray(target_lengths)[:, None]
    decoder_ids = np.where(decoder_mask, rng.integers(4, VOCABULARY, (batch, target_width)), 0)
    decoder_ids[:, 0] = 2
    return {
        "encoder_token_ids": np.where(encoder_mask, rng.integers(
            4, VOCABULARY, (batch, source_width)), 0).astype("int32"),
        "encoder_padding_mask": encoder_mask,
        "decoder_token_ids": decoder_ids.astype("int32"),
        "decoder_padding_mask": decoder_mask,
    }
