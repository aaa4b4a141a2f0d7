"""`fwp-reproduce`: the paper's experiments, one resumable command each.

    fwp-reproduce capacity --output-dir runs/capacity         # Sec. 6.1, Figure 2
    fwp-reproduce update-rules --output-dir runs/update_rules # Sec. 6.1, Figure 3
    fwp-reproduce lm --corpus shakespeare --output-dir runs/lm # Sec. 6.3, Tables 2 and 4

Each experiment is a grid of `fwp-train` runs, one output directory per run in
`<output-dir>/runs/` (itself resumable), read back once finished (a run of other flags there
is an error); the command writes its report (`capacity`, `update_rules`, `lm_<corpus>`:
`.json`, `.md`, `.png`) after every run, so stopping and starting it again loses at most the
current run's unfinished epoch (and, for `lm`, an unfinished evaluation).
"""

from fwp_keras.training.reproduce import capacity, language_models, update_rules

EXPERIMENTS = {"capacity": capacity, "update-rules": update_rules, "lm": language_models}
