"""JSON files the runs and presets write: read back, or written whole."""

import json
import os


def read_json_file(path):
    """The JSON in `path`, or None when there is no such file."""
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def write_json(path, data, sort_keys=True):
    """Written to a temporary file and renamed: a crash never leaves half a file."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=2, sort_keys=sort_keys)
        file.write("\n")
    os.replace(temporary, path)
