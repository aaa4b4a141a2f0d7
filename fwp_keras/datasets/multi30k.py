"""Multi30k, task 1: English-German descriptions of Flickr30k images (Elliott et al. 2016).

    from fwp_keras.datasets import multi30k

    english, german = multi30k.load_data("train")     # 29,000 aligned sentences
    pairs = multi30k.as_dataset("val")                 # {"encoder_text", "decoder_text"}

Splits: `train` (29,000 pairs) and `val` (1,014) ship inside the package; the public test sets
`test2016` (1,000, Flickr), `test2017` (1,000, Flickr), `test2017_mscoco` (461) and `test2018`
(1,071, Flickr) download on first use. The files are the raw, untokenised ones of the
Multi30k repository (`data/task1/raw/*.gz`, at a pinned commit); the shipped ones are
byte-for-byte those files. Research use, under the Flickr30k terms (`data/multi30k/LICENSE.md`).
"""

from fwp_keras import _validation as validation
from fwp_keras.datasets.corpus_files import CorpusFile, fetch, read_text

CORPUS = "multi30k"
ORIGIN = ("https://raw.githubusercontent.com/multi30k/dataset/"
          "a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw")
LANGUAGES = ("en", "de")
# split: (file stem at the origin, {language: sha256 of the .gz file})
_FILES = {
    "train": ("train", {
        "en": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
        "de": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6"}),
    "val": ("val", {
        "en": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
        "de": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a"}),
    "test2016": ("test_2016_flickr", {
        "en": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
        "de": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8"}),
    "test2017": ("test_2017_flickr", {
        "en": "76a444ee25172e72695cddb13ae4a3bda59430617be88e0bb46b60504f054074",
        "de": "a2c89666db00c495cd8513b9d708d5a3acc205d7de312ef2bf5fb7ebc1540aee"}),
    "test2017_mscoco": ("test_2017_mscoco", {
        "en": "aab300bfb4427697987e02cd0aacd44bfe8aa50456231b6474c08038bbed2b58",
        "de": "799e4854c25d601cb6cb6be29eabe5667734c61ace2f495e03e429031a0bc338"}),
    "test2018": ("test_2018_flickr", {
        "en": "ef4f4844037d4c5dea75c9a8ed5fd78905967a26f67c255e230cc9780032654d",
        "de": "ddd0130c7d97482dc5197a02141dae8dd79f20f03586c480d675c09a32daf608"}),
}
SPLITS = tuple(_FILES)
SHIPPED_SPLITS = ("train", "val")
VALIDATION_SPLIT = "val"


def files(split):
    """`{language: CorpusFile}` of `split`."""
    validation.one_of("split", split, SPLITS)
    stem, checksums = _FILES[split]
    return {language: CorpusFile(CORPUS, f"{stem}.{language}.gz", checksum,
                                 shipped=split in SHIPPED_SPLITS)
            for language, checksum in checksums.items()}


def load_data(split="train", *, origin=None, cache_dir=None):
    """`(english, german)`: the sentences of `split`, two lists of strings aligned by index.

    Args:
        split: one of `SPLITS`.
        origin: where the published files are (a base URL or a local folder holding
            `<stem>.<language>.gz`); None: the shipped copy, or the Multi30k repository.
        cache_dir: the cache for downloads (None: `$KERAS_HOME`, else `~/.keras`).
    """
    english, german = (read_text(fetch(file, origin=origin, default_origin=ORIGIN,
                                       cache_dir=cache_dir)).splitlines()
                       for file in files(split).values())
    if len(english) != len(german):
        raise ValueError(f"Multi30k {split}: {len(english)} English and {len(german)} German "
                         "lines; the files are not aligned.")
    return english, german


def as_dataset(split="train", *, origin=None, cache_dir=None):
    """`split` as a `tf.data.Dataset` of `{"encoder_text": English, "decoder_text": German}`
    strings: the input of the zoo's (and keras-hub's) `Seq2SeqLMPreprocessor`, so
    `seq2seq_lm.fit(multi30k.as_dataset("train").shuffle(29000).batch(64))` trains on it."""
    import tensorflow as tf

    english, german = load_data(split, origin=origin, cache_dir=cache_dir)
    return tf.data.Dataset.from_tensor_slices({"encoder_text": english, "decoder_text": german})
