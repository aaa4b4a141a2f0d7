"""ResumableBackup: Keras' `BackupAndRestore`, with saves that a kill cannot tear."""

import json
import os
import re
import shutil

import keras
import numpy as np

_SAVE = re.compile(r"^epoch-(\d+)$")


def _seed_generator_states(model):
    """The random streams of dropout and the like, in the model's order: Keras' weight files
    leave them out, and a resumed run needs them to draw what the uninterrupted one draws."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class ResumableBackup(keras.callbacks.Callback):
    """Saves the whole training state (what `model.save_weights` holds: weights, optimizer,
    carried states; and the seed generators' states, which it does not) at the end of every
    epoch, and restores the newest save when a later `fit` begins (setting its initial
    epoch, as `BackupAndRestore` does).

    Why not `BackupAndRestore` itself: it overwrites `latest.weights.h5` and then
    `training_metadata.json` in place, so a kill between the two writes leaves epoch `e`'s
    weights labelled epoch `e - 1` (the resumed run then silently differs), and a kill inside
    the JSON write leaves a file that cannot be read. Here each save is written into a new
    `epoch-<n>.tmp/` folder and renamed to `epoch-<n>/` when complete (a rename is atomic),
    so a save is either all there or not at all; the `keep` newest are kept. A full disk or
    an unwritable folder raises from `fit`, and the saves before stay as they were.
    """

    def __init__(self, backup_dir, keep=2):
        super().__init__()
        self.backup_dir = backup_dir
        self.keep = keep

    @classmethod
    def saved_epochs(cls, backup_dir):
        """The epochs of the complete saves in `backup_dir`, newest first."""
        if not os.path.isdir(backup_dir):
            return []
        epochs = (_SAVE.match(name) for name in os.listdir(backup_dir))
        return sorted((int(match.group(1)) for match in epochs if match), reverse=True)

    @classmethod
    def latest_epoch(cls, backup_dir):
        """The number of epochs the newest save has done (0 without one)."""
        epochs = cls.saved_epochs(backup_dir)
        return epochs[0] if epochs else 0

    def _folder(self, epoch):
        return os.path.join(self.backup_dir, f"epoch-{epoch}")

    def restore(self, model):
        """Loads the newest save into `model` (built, compiled); returns its epoch (0, and
        nothing loaded, without a save)."""
        epochs = self.saved_epochs(self.backup_dir)
        if not epochs:
            return 0
        if not model.built:
            raise ValueError("ResumableBackup restores into a built model: call the model on "
                             "a batch before `fit`.")
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        folder = self._folder(epochs[0])
        model.load_weights(os.path.join(folder, "model.weights.h5"))
        seeds = os.path.join(folder, "seed_generators.npz")
        if os.path.exists(seeds):
            with np.load(seeds) as saved:
                states = _seed_generator_states(model)
                if len(saved.files) != len(states):
                    raise ValueError(f"The backup in {folder} has {len(saved.files)} seed "
                                     f"generator states; the model has {len(states)}.")
                for i, state in enumerate(states):
                    state.assign(saved[f"state_{i}"])
        return epochs[0]

    def on_train_begin(self, logs=None):
        epoch = self.restore(self.model)
        if epoch:
            self.model._initial_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        final, partial = self._folder(done), self._folder(done) + ".tmp"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        self.model.save_weights(os.path.join(partial, "model.weights.h5"))
        np.savez(os.path.join(partial, "seed_generators.npz"), **{
            f"state_{i}": keras.ops.convert_to_numpy(state)
            for i, state in enumerate(_seed_generator_states(self.model))})
        with open(os.path.join(partial, "training_metadata.json"), "w") as file:
            json.dump({"epoch": done}, file)
        shutil.rmtree(final, ignore_errors=True)  # a redone epoch after a restart
        os.replace(partial, final)
        for old in self.saved_epochs(self.backup_dir)[self.keep:]:
            shutil.rmtree(self._folder(old), ignore_errors=True)
