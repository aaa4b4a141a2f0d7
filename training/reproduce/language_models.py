"""`fwp-reproduce lm`: the paper's language-model comparison (Sec. 6.3, Tables 2 and 4), scaled
to the provided data.

Every family at one size and budget, plus the Linear Transformer and the Delta Net trained with
their state carried across segments (`--carry-state`, Table 4). Each is one `fwp-train lm` run,
then `fwp-evaluate lm` on the validation and the test text with both protocols: sliding window
(Table 2; every model) and no truncation (Table 4: the whole text with the state carried; fast
weight models only).

- `--corpus shakespeare`, `wikitext-2`, `wikitext-103`: the provided dataset
  (`fwp_keras.datasets`) with its train, validation and test splits (Shakespeare: all works but
  Twelfth Night, validation, and Macbeth, test).
- `--corpus wikitext-2-valid`: only WikiText-2's `valid` split, which ships in the package (the
  others download); its articles are split in order, the first 80% of its words to train, the
  next 10% to validate, the last 10% to test (written to
  `<output-dir>/data/wiki.{train,valid,test}.tokens`). The zoo's word-level tokenizer keeps the
  data's `<unk>`.

    fwp-reproduce lm --corpus shakespeare --tokenizer sentencepiece --output-dir runs/lm_shakespeare
    fwp-reproduce lm --corpus wikitext-2-valid --output-dir runs/lm_wikitext
"""

import os

from fwp_keras import datasets
from fwp_keras.training.arguments import check_positive
from fwp_keras.training.arguments.evaluate import evaluate_parser
from fwp_keras.training.reproduce import runs
from fwp_keras.json_files import write_json

# (name, fwp-train lm flags): every family, then Table 4's carried-state runs.
MODELS = (
    ("delta_net", ["--model", "delta_net"]),
    ("linear_transformer", ["--model", "linear_transformer"]),
    ("performer", ["--model", "performer"]),
    ("dpfp", ["--model", "dpfp"]),
    ("transformer", ["--model", "transformer"]),
    ("linear_transformer_carried", ["--model", "linear_transformer", "--carry-state"]),
    ("delta_net_carried", ["--model", "delta_net", "--carry-state"]),
)
WIKITEXT_VALID_SPLITS = (("train", 0.8), ("valid", 0.9), ("test", 1.0))
VALID_SPLIT_CORPUS = "wikitext-2-valid"
TEST_SPLIT = "test"  # of every provided text dataset


def add_arguments(parser):
    parser.add_argument("--corpus", choices=(*datasets.TEXT_DATASETS, VALID_SPLIT_CORPUS),
                        required=True)
    parser.add_argument("--models", nargs="+", choices=[name for name, _ in MODELS],
                        default=[name for name, _ in MODELS])
    group = parser.add_argument_group("training (each run)")
    group.add_argument("--tokenizer", choices=("word", "sentencepiece"), default="word",
                       help="word: the zoo's word-level one (for WikiText's tokenised text); "
                            "sentencepiece: for plain text such as Shakespeare's")
    group.add_argument("--vocabulary-size", type=int, default=4096)
    group.add_argument("--sequence-length", type=int, default=256)
    group.add_argument("--batch-size", type=int, default=16)
    group.add_argument("--max-steps", type=int, default=4000)
    group.add_argument("--eval-every", type=int, default=500)
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--max-eval-tokens", type=int,
                       help="evaluate on the first this many tokens of each split (all)")


def data_flags(args):
    """`{"train": fwp-train lm flags, "validation" / "test": fwp-evaluate lm flags}`."""
    if args.corpus != VALID_SPLIT_CORPUS:
        return {"train": ["--dataset", args.corpus],
                **{split: ["--dataset", args.corpus, "--split", name] for split, name in (
                    ("validation", datasets.validation_split(args.corpus)),
                    ("test", TEST_SPLIT))}}
    paths = wikitext_valid_splits(args)
    return {"train": ["--train", *paths["train"], "--validation", *paths["validation"]],
            **{split: ["--text", *paths[split]] for split in ("validation", "test")}}


def wikitext_valid_splits(args):
    """WikiText-2's `valid` split cut between articles at 80% and 90% of its words."""
    source = "WikiText-2 valid"
    articles = datasets.wikitext.documents("valid")
    words = [sum(len(line.split()) for line in article) for article in articles]
    folder = os.path.join(args.output_dir, "data")
    os.makedirs(folder, exist_ok=True)
    paths, first, seen = {}, 0, 0
    for split, fraction in WIKITEXT_VALID_SPLITS:
        last = first
        while last < len(articles) and (seen + words[last] <= fraction * sum(words)
                                        or last == first):
            seen += words[last]
            last += 1
        if last == first:
            raise ValueError(f"{source} has too few articles ({len(articles)}) to split in "
                             "three: train, valid, test.")
        paths[split] = os.path.join(folder, f"wiki.{split}.tokens")
        with open(paths[split], "w", encoding="utf-8") as file:
            file.write("".join(f" {line} \n" for article in articles[first:last]
                               for line in article))
        first = last
    return {"train": [paths["train"]], "validation": [paths["valid"]], "test": [paths["test"]]}


def run(args):
    check_positive(args, ("vocabulary_size", "sequence_length", "batch_size", "max_steps",
                          "eval_every", "max_eval_tokens"))
    splits = data_flags(args)
    rows = runs.reported_runs(args.output_dir, f"lm_{args.corpus}", key=lambda row: row["name"],
                              tokenizer=args.tokenizer)
    for name, flags in MODELS:
        if name not in args.models:
            continue
        argv = ["lm", *splits["train"], *flags, "--tokenizer", args.tokenizer,
                "--vocabulary-size", str(args.vocabulary_size),
                "--sequence-length", str(args.sequence_length),
                "--batch-size", str(args.batch_size), "--max-steps", str(args.max_steps),
                "--eval-every", str(args.eval_every), "--eval-batches", "20",
                "--seed", str(args.seed), "--diagnostics-every", "0", "--verbose", "2"]
        runs.fill_row(rows, name, argv, os.path.join(args.output_dir, "runs", name),
                      lambda results: {**summary(name, results,
                                                 evaluations(args, results, splits)),
                                       "command": runs.command(argv, results["output_dir"]),
                                       "curve": runs.curve(results, args.eval_every)})
        write(args, list(rows.values()))
    return write(args, list(rows.values()))


def evaluations(args, results, splits):
    """`fwp-evaluate lm` of the run's preset on the validation and the test text, both
    protocols where the model has them; kept in the run's `evaluation.json`."""
    from fwp_keras.training import evaluate

    path = os.path.join(results["output_dir"], "evaluation.json")
    found = runs.read_json_file(path) or {}
    protocols = ["sliding-window"] + (["no-truncation"] if results["model"] != "transformer"
                                      else [])
    for split in ("validation", "test"):
        argv = ["lm", "--preset", results["preset"], *splits[split],
                "--protocols", *protocols, "--batch-size", "64", "--verbose", "0"]
        if args.max_eval_tokens:
            argv += ["--max-tokens", str(args.max_eval_tokens)]
        if found.get(split, {}).get("argv") == argv:
            continue
        print(f"$ fwp-evaluate {' '.join(argv)}", flush=True)
        found[split] = {**evaluate.run(evaluate_parser().parse_args(argv)), "argv": argv}
        write_json(path, found)
    return found


def summary(name, results, evaluation):
    row = {"name": name, "model": results["model"], "carry_state": results["carry_state"],
           "steps": results["steps"], "train_minutes": runs.training_minutes(results),
           "train_tokens": results["train_tokens"],
           "tokens_per_second": results["train_tokens_per_second"],
           "preset": results["preset"], "output_dir": results["output_dir"]}
    for split in ("validation", "test"):
        for protocol in ("sliding_window", "no_truncation"):
            found = evaluation[split].get(protocol)
            row[f"{split}_{protocol}"] = found["perplexity"] if found else None
        row[f"{split}_tokens"] = evaluation[split]["tokens"]
    return row


def write(args, rows):
    def perplexity(value):
        return f"{value:.1f}" if value is not None else "-"

    table = runs.markdown_table(
        ["model", "trained", "steps", "train min", "valid (sliding)", "test (sliding)",
         "valid (no trunc.)", "test (no trunc.)"],
        [[row["model"], "carried state" if row["carry_state"] else "segments", row["steps"],
          f"{row['train_minutes']:.1f}", perplexity(row["validation_sliding_window"]),
          perplexity(row["test_sliding_window"]), perplexity(row["validation_no_truncation"]),
          perplexity(row["test_no_truncation"])] for row in rows])
    first = rows[0] if rows else {"validation_tokens": 0, "test_tokens": 0}
    unit = "word" if args.tokenizer == "word" else "SentencePiece piece"
    markdown = (f"Perplexity per {unit}, {args.corpus}; L = {args.sequence_length}, "
                f"{first['validation_tokens']:,} validation and {first['test_tokens']:,} test "
                f"tokens.\n\n{table}")
    report = {"experiment": "lm", "corpus": args.corpus, "tokenizer": args.tokenizer,
              "runs": rows,
              "plot": plot(args, rows)}
    return runs.write_report(args.output_dir, f"lm_{args.corpus}", report, markdown)


def plot(args, rows):
    """The validation loss of every run against the training step (of those whose row holds
    its curve: the rows of reports from before rows held curves do not)."""
    figure, axis = runs.new_plot()
    for row in rows:
        if not row.get("curve"):
            continue
        steps, losses = zip(*row["curve"])
        axis.plot(steps, losses,
                  label=row["name"].replace("_carried", " (carried state)"))
    return runs.save_plot(figure, axis, os.path.join(args.output_dir, f"lm_{args.corpus}.png"),
                          xlabel="training step", ylabel="validation loss (nats / token)",
                          title=f"Language models, {args.corpus}", log_y=False)
