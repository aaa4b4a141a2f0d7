"""Named presets shipped inside the package, loaded offline.

Each family keeps its presets as keras-hub preset directories in `zoo/<family>/presets/<name>/`
(`config.json`, `model.weights.h5`, `metadata.json`, ...). At import they are registered with
keras-hub under their name, so `DeltaNetCausalLM.from_preset("<name>")` (and keras-hub's own
`keras_hub.models.CausalLM.from_preset("<name>")`) load them from disk, and
`DeltaNetCausalLM.presets` lists them. `metadata.json` holds, under `"training"`, how the
weights were made (command, data, steps, metrics): `record_training`.
"""

import json
import os

import keras
import keras_hub
from keras_hub.src.utils import preset_utils

from fwp_keras.json_files import write_json

TRAINING_KEY = "training"


def find_presets(directory):
    """`{name: {"metadata": ..., "kaggle_handle": path}}` for the preset directories in
    `directory` (keras-hub's registry format; the "handle" is the local directory)."""
    presets = {}
    if not os.path.isdir(directory):
        return presets
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        hidden = name.startswith(".")  # e.g. a preset being shipped
        if hidden or not os.path.isfile(os.path.join(path, preset_utils.CONFIG_FILE)):
            continue
        metadata = read_json(path, preset_utils.METADATA_FILE) if os.path.isfile(
            os.path.join(path, preset_utils.METADATA_FILE)) else {}
        presets[name] = {"metadata": metadata, "kaggle_handle": os.path.abspath(path)}
    return presets


def read_json(preset_dir, filename):
    with open(os.path.join(preset_dir, filename), encoding="utf-8") as file:
        return json.load(file)


def register_presets(directory, *backbone_classes):
    """Registers every preset directory in `directory` for the one of `backbone_classes` its
    `config.json` names (a family ships causal LMs and seq2seq models side by side), so
    each task class lists only the presets it loads."""
    presets = find_presets(directory)
    by_name = {keras.saving.get_registered_name(cls): cls for cls in backbone_classes}
    for name, preset in presets.items():
        registered = read_json(preset["kaggle_handle"], preset_utils.CONFIG_FILE)[
            "registered_name"]
        if registered not in by_name:
            raise ValueError(f"The preset {name!r} in {directory} is a {registered}; this "
                             f"folder holds presets of {sorted(by_name)} only.")
        preset_utils.register_presets({name: preset}, by_name[registered])
    return presets


def unregister_presets(names, *backbone_classes):
    for name in names:
        preset_utils.BUILTIN_PRESETS.pop(name, None)
        for cls in backbone_classes:
            preset_utils.BUILTIN_PRESETS_FOR_BACKBONE[cls].pop(name, None)


def training_record(preset):
    """How a preset (a shipped name or a directory) was made: its metadata's "training"
    record, or None if it has none."""
    shipped = preset_utils.BUILTIN_PRESETS.get(preset)
    directory = shipped["kaggle_handle"] if shipped else preset
    try:
        return read_json(directory, preset_utils.METADATA_FILE).get(TRAINING_KEY)
    except OSError:
        return None


def record_training(preset_dir, *, command, data, steps, metrics, **details):
    """Adds how a preset was trained to its `metadata.json` (under "training")."""
    metadata = read_json(preset_dir, preset_utils.METADATA_FILE)
    metadata[TRAINING_KEY] = {"command": command, "data": data, "steps": steps,
                              "metrics": metrics, **details}
    write_metadata(preset_dir, metadata)


def write_metadata(preset_dir, metadata):
    """Atomic, as every import of the zoo reads it."""
    write_json(os.path.join(preset_dir, preset_utils.METADATA_FILE), metadata, sort_keys=False)


def check_preset_name(cls, preset):
    """A clear error for a preset that is neither a shipped name, a directory, nor a handle."""
    if not isinstance(preset, str):
        raise ValueError(f"`preset` must be a string. Received: preset={preset!r}")
    if preset in cls.presets or "://" in preset or os.path.exists(preset):
        return
    names = sorted(cls.presets)
    raise ValueError(
        f"Unknown preset {preset!r} for {cls.__name__}: not a preset directory, and not one of "
        f"its shipped presets: {names if names else 'none shipped yet'}."
    )


def check_preset_files(cls, preset, load_weights=True):
    """A preset directory missing a file `cls.from_preset` reads is a ValueError naming it
    (keras-hub names `model.weights.json` for missing weights, and builds a task without
    `task.json` from its backbone, silently)."""
    directory = preset_utils.BUILTIN_PRESETS.get(preset, {}).get("kaggle_handle", preset)
    models = (keras_hub.models.Backbone, keras_hub.models.Task)
    if not issubclass(cls, models) or not os.path.isdir(directory):
        return  # a tokenizer or preprocessor reads its own files
    needed = [preset_utils.CONFIG_FILE]
    if load_weights:
        needed.append(preset_utils.MODEL_WEIGHTS_FILE)
    if issubclass(cls, keras_hub.models.Task):
        needed.append(preset_utils.TASK_CONFIG_FILE)
    missing = [name for name in needed if not os.path.isfile(os.path.join(directory, name))]
    if missing:
        raise ValueError(f"The preset directory {directory!r} has no {' or '.join(missing)}: "
                         f"{cls.__name__}.from_preset needs it. Save the model again with "
                         "`save_to_preset`.")


def name_task_in_metadata(preset_dir):
    """`metadata.json`'s "tasks" as `task.json` names the task (keras-hub lists the base
    class of each task it knows for the backbone: `FastWeightCausalLM` for a Delta Net)."""
    task_file = os.path.join(preset_dir, preset_utils.TASK_CONFIG_FILE)
    if not os.path.isfile(task_file):
        return
    metadata = read_json(preset_dir, preset_utils.METADATA_FILE)
    metadata["tasks"] = [read_json(preset_dir, preset_utils.TASK_CONFIG_FILE)["class_name"]]
    write_metadata(preset_dir, metadata)


class NamedPresets:
    """`from_preset` that names the available presets when it is given an unknown one, and
    the missing file of an incomplete preset directory; `save_to_preset` whose metadata names
    the task as its `task.json` does."""

    @classmethod
    def from_preset(cls, preset, *args, **kwargs):
        check_preset_name(cls, preset)
        check_preset_files(cls, preset, kwargs.get("load_weights", True))
        return super().from_preset(preset, *args, **kwargs)

    def save_to_preset(self, preset_dir, *args, **kwargs):
        super().save_to_preset(preset_dir, *args, **kwargs)
        name_task_in_metadata(preset_dir)
