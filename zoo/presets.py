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

from keras_hub.src.utils import preset_utils

TRAINING_KEY = "training"


def find_presets(directory):
    """`{name: {"metadata": ..., "kaggle_handle": path}}` for the preset directories in
    `directory` (keras-hub's registry format; the "handle" is the local directory)."""
    presets = {}
    if not os.path.isdir(directory):
        return presets
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        config = os.path.join(path, preset_utils.CONFIG_FILE)
        if not os.path.isfile(config):
            continue
        metadata_file = os.path.join(path, preset_utils.METADATA_FILE)
        metadata = {}
        if os.path.isfile(metadata_file):
            with open(metadata_file, encoding="utf-8") as file:
                metadata = json.load(file)
        presets[name] = {"metadata": metadata, "kaggle_handle": os.path.abspath(path)}
    return presets


def register_presets(directory, backbone_cls):
    """Registers every preset directory in `directory` for `backbone_cls` and its tasks."""
    presets = find_presets(directory)
    preset_utils.register_presets(presets, backbone_cls)
    return presets


def unregister_presets(names, backbone_cls):
    for name in names:
        preset_utils.BUILTIN_PRESETS.pop(name, None)
        preset_utils.BUILTIN_PRESETS_FOR_BACKBONE[backbone_cls].pop(name, None)


def record_training(preset_dir, *, command, data, steps, metrics, **details):
    """Adds how a preset was trained to its `metadata.json` (under "training")."""
    path = os.path.join(preset_dir, preset_utils.METADATA_FILE)
    with open(path, encoding="utf-8") as file:
        metadata = json.load(file)
    metadata[TRAINING_KEY] = {"command": command, "data": data, "steps": steps,
                              "metrics": metrics, **details}
    with open(path, "w", encoding="utf-8") as file:
        json.dump(metadata, file, indent=2)


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


class NamedPresets:
    """`from_preset` that names the available presets when it is given an unknown one."""

    @classmethod
    def from_preset(cls, preset, *args, **kwargs):
        check_preset_name(cls, preset)
        return super().from_preset(preset, *args, **kwargs)
