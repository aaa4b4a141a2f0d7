"""fwp-train mt end to end (a tiny model learns 20 Multi30k pairs to BLEU > 90), then
fwp-evaluate mt and fwp-translate on its preset; BLEU against sacrebleu's own command line;
the loss and the learning rate against their formulas; bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fwp_keras.datasets import multi30k
from fwp_keras.training import cli, translate
from fwp_keras.training.label_smoothing import SparseLabelSmoothingCrossentropy
from fwp_keras.training.schedules import InverseSquareRootDecay

SACREBLEU = os.path.join(os.path.dirname(sys.executable), "sacrebleu")


def twenty_pairs(tmp_path):
    paths = []
    for language, sentences in zip(multi30k.LANGUAGES, multi30k.load_data("train")):
        lines = sentences[:20]
        path = tmp_path / f"pairs.{language}"
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        paths.append(str(path))
    return paths


def train_tiny(tmp_path, source, target, *extra):
    argv = ["mt", "--source", source, "--target", target, "--validation-source", source,
            "--validation-target", target, "--vocabulary-size", "400", "--num-layers", "1",
            "--hidden-dim", "64", "--num-heads", "2", "--intermediate-dim", "128",
            "--dropout", "0", "--label-smoothing", "0", "--learning-rate", "5e-3",
            "--warmup-steps", "50", "--max-steps", "500", "--eval-every", "250",
            "--max-tokens", "512", "--num-beams", "2", "--diagnostics-every", "250",
            "--verbose", "0", "--output-dir", str(tmp_path / "run"), *extra]
    return cli.train(argv)


def test_a_tiny_model_learns_twenty_pairs_then_evaluates_and_translates(tmp_path, capsys):
    source, target = twenty_pairs(tmp_path)
    assert train_tiny(tmp_path, source, target) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["task"] == "mt" and results["steps"] == 500
    assert results["validation_bleu"] > 90, results
    with open(results["hypotheses"], encoding="utf-8") as file:
        hypotheses = file.read().splitlines()
    with open(target, encoding="utf-8") as file:
        references = file.read().splitlines()
    assert translate.corpus_scores(hypotheses, references)["bleu"] == results["validation_bleu"]
    with open(os.path.join(results["preset"], "metadata.json")) as file:
        recorded = json.load(file)["training"]
    assert recorded["metrics"]["validation_bleu"] == results["validation_bleu"]
    assert recorded["command"].startswith("fwp-train mt --source")
    assert os.path.exists(results["memory_diagnostics"])  # the decoder's memories diagnosed

    # fwp-evaluate mt on the preset: the same translations, the same BLEU.
    out = tmp_path / "hypotheses.txt"
    assert cli.evaluate_main(["mt", "--preset", results["preset"], "--source", source,
                              "--target", target, "--num-beams", "2", "--verbose", "0",
                              "--hypotheses", str(out)]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["bleu"] == pytest.approx(results["validation_bleu"], abs=1e-9)
    assert out.read_text(encoding="utf-8").splitlines() == hypotheses

    # fwp-translate: a file in, the translations out, one a line.
    translated = tmp_path / "translated.txt"
    assert cli.translate_main(["--preset", results["preset"], "--input", source,
                               "--output", str(translated), "--num-beams", "2"]) == 0
    assert translated.read_text(encoding="utf-8").splitlines() == hypotheses
    # Blank lines pass through as blank lines, the others translate as before.
    with open(source, encoding="utf-8") as file:
        sentences = file.read().splitlines()
    gappy = tmp_path / "gappy.en"
    gappy.write_text("\n".join([sentences[0], "", "  ", sentences[1]]) + "\n",
                     encoding="utf-8")
    assert cli.translate_main(["--preset", results["preset"], "--input", str(gappy),
                               "--output", str(translated), "--num-beams", "2"]) == 0
    assert translated.read_text(encoding="utf-8").splitlines() == [
        hypotheses[0], "", "", hypotheses[1]]

    # The finished run started again: restored, not retrained; the same results.
    assert train_tiny(tmp_path, source, target) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["validation_bleu"] == results["validation_bleu"]


def sacrebleu_cli(metric, reference, hypotheses):
    run = subprocess.run([SACREBLEU, str(reference), "-i", str(hypotheses), "-m", metric, "-b",
                          "-w", "6"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return float(run.stdout.strip())


def test_bleu_is_sacrebleus_and_100_for_the_reference_itself(tmp_path):
    references = multi30k.load_data("val")[1][:30]
    rng = np.random.default_rng(0)
    hypotheses = []
    for line in references:  # drop and swap words: a partly right translation
        words = line.split()
        keep = [w for w in words if rng.random() > 0.25] or words[:1]
        if len(keep) > 3:
            keep[1], keep[2] = keep[2], keep[1]
        hypotheses.append(" ".join(keep))
    (tmp_path / "ref.de").write_text("\n".join(references) + "\n", encoding="utf-8")
    (tmp_path / "hyp.de").write_text("\n".join(hypotheses) + "\n", encoding="utf-8")
    scores = translate.corpus_scores(hypotheses, references)
    assert 5 < scores["bleu"] < 95
    assert scores["bleu"] == pytest.approx(sacrebleu_cli("bleu", tmp_path / "ref.de",
                                                         tmp_path / "hyp.de"), abs=1e-5)
    assert scores["chrf"] == pytest.approx(sacrebleu_cli("chrf", tmp_path / "ref.de",
                                                         tmp_path / "hyp.de"), abs=1e-5)
    itself = translate.corpus_scores(references, references)
    assert itself["bleu"] == pytest.approx(100) and itself["chrf"] == pytest.approx(100)
    with pytest.raises(ValueError, match="2 hypotheses for 3 references"):
        translate.corpus_scores(["a", "b"], ["a", "b", "c"])


def test_label_smoothing_loss_is_the_smoothed_cross_entropy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 5, 7))
    labels = rng.integers(0, 7, (2, 5))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    eps = 0.1
    smoothed = np.full((2, 5, 7), eps / 7) + (1 - eps) * np.eye(7)[labels]
    expected = -(smoothed * log_probs).sum(-1).mean()
    loss = SparseLabelSmoothingCrossentropy(eps)(labels, logits.astype("float32"))
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match=r"label_smoothing` must be in \[0, 1\)"):
        SparseLabelSmoothingCrossentropy(1.0)


def test_inverse_square_root_schedule():
    schedule = InverseSquareRootDecay(1e-3, warmup_steps=100)
    rates = [float(schedule(step)) for step in (0, 49, 99, 399, 9999)]
    assert rates == pytest.approx([1e-5, 5e-4, 1e-3, 5e-4, 1e-4], rel=1e-5)
    assert InverseSquareRootDecay(**schedule.get_config()).get_config() == schedule.get_config()


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    source, target = twenty_pairs(tmp_path)
    assert train_tiny(tmp_path, source, target, "--model", "transformer_xl") == 2
    assert "`--model` must be one of ['delta_net', 'dpfp'" in capsys.readouterr().err
    short = tmp_path / "short.de"
    short.write_text("eins\nzwei\n", encoding="utf-8")
    assert train_tiny(tmp_path, source, str(short)) == 2
    assert "not aligned" in capsys.readouterr().err
    assert cli.translate_main(["--preset", str(tmp_path / "nothing")]) == 2
    assert "is not a Seq2SeqLM preset" in capsys.readouterr().err
    assert train_tiny(tmp_path, source, target, "--dataset", "multi30k") == 2
    assert "either as `--dataset` or as files, not both" in capsys.readouterr().err
    assert cli.train(["mt", "--source", source, "--output-dir", str(tmp_path / "r")]) == 2
    assert "missing: --target, --validation-source, --validation-target" in \
        capsys.readouterr().err
    assert cli.evaluate_main(["mt", "--preset", "delta_net_multi30k_en_de", "--dataset",
                              "multi30k", "--split", "test"]) == 2
    assert "`--split` must be one of ['train', 'val', 'test2016'" in capsys.readouterr().err


def test_evaluate_mt_reads_a_provided_split(capsys):
    assert cli.evaluate_main(["mt", "--preset", "delta_net_multi30k_en_de", "--dataset",
                              "multi30k", "--max-sentences", "3", "--num-beams", "1",
                              "--verbose", "0"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["dataset"] == "multi30k" and scores["split"] == "val"
    assert scores["sentences"] == 3 and 0 <= scores["bleu"] <= 100


def held_out_nll(scale_embeddings, tokenizer, train_pairs, val_pairs, steps=200):
    """A 1 + 1-layer softmax model of width 64 trained `steps` steps of 1,024 tokens on the
    first 3,000 Multi30k pairs with `fwp-train mt`'s recipe; its per-token NLL on 300 val
    pairs."""
    import argparse

    import keras

    from fwp_keras import zoo
    from fwp_keras.training.datasets import parallel_text
    from fwp_keras.training.translation import compile_for_translation

    keras.utils.set_random_seed(0)
    backbone = zoo.TransformerSeq2SeqBackbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=1, num_heads=4, hidden_dim=64,
        intermediate_dim=128, dropout=0.1, scale_embeddings=scale_embeddings)
    model = compile_for_translation(zoo.TransformerSeq2SeqLM(backbone), argparse.Namespace(
        learning_rate=2e-3, warmup_steps=50, label_smoothing=0.1, clip_norm=1.0))
    model.fit(parallel_text.token_batches(train_pairs, max_tokens=1024), epochs=1,
              steps_per_epoch=steps, verbose=0)
    validation = parallel_text.token_batches(val_pairs, max_tokens=1024, shuffle=False,
                                             num_steps=parallel_text.steps_per_pass(
                                                 val_pairs, max_tokens=1024))
    return model.evaluate(validation, verbose=0, return_dict=True)["nll"]


def test_a_tiny_model_learns_real_pairs_only_with_scaled_token_embeddings():
    """The regression test of the zoo's first translation presets: with token vectors drawn
    with stddev 0.02 and unscaled (`scale_embeddings=False`), sinusoidal positions 35 times
    larger drown them and the same model at the same budget is far behind."""
    from fwp_keras import zoo
    from fwp_keras.training.datasets import parallel_text
    from fwp_keras.zoo.fast_weight.tokenizer_training import lines_dataset

    sources, targets = (side[:3000] for side in multi30k.load_data("train"))
    val_sources, val_targets = (side[:300] for side in multi30k.load_data("val"))
    tokenizer = zoo.train_sentence_piece_tokenizer(lines_dataset([sources, targets]), 500)
    lengths = dict(encoder_sequence_length=64, decoder_sequence_length=64)
    train_pairs = parallel_text.encode_pairs(tokenizer, sources, targets, **lengths)
    val_pairs = parallel_text.encode_pairs(tokenizer, val_sources, val_targets, **lengths)
    fixed = held_out_nll(True, tokenizer, train_pairs, val_pairs)
    broken = held_out_nll(False, tokenizer, train_pairs, val_pairs)
    assert fixed < 4.0 < broken, (fixed, broken)  # measured: 3.65, 4.40
