"""The command lines' flags, apart from the code that runs them: building a parser loads no
TensorFlow, so `--help` and a mistyped flag answer at once.

`train.py` (`fwp-train`, with a module per task: `synthetic.py`, `language_modeling.py`,
`translation.py`, and the model and data flags they share in `model.py` and `data.py`),
`evaluate.py` (`fwp-evaluate`), `translate.py` (`fwp-translate`); `fwp-reproduce`'s
experiments define theirs beside their code in `training/reproduce/`.
"""


def check_positive(args, names):
    """Each flag of `names` that is given must be an integer >= 1."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"`--{name.replace('_', '-')}` must be an integer >= 1. "
                             f"Received: {value}")
