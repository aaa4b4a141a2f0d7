"""The README stays short, and its preset numbers are the ones the presets record."""

import json
import os
import re

from fwp_keras.zoo import presets  # noqa: F401  registers the shipped presets
from fwp_keras.training.reproduce import shipping

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as file:
        return file.read()


def test_readme_fits_on_two_screens():
    assert len(readme().splitlines()) < 200


def test_readme_preset_numbers_are_the_recorded_checks():
    quoted = {name: value for name, value in re.findall(r"`(\w+)` ([\d.]+) \|", readme())}
    assert len(quoted) >= 10, quoted
    shipped = shipping.shipped_presets()
    for name, value in quoted.items():
        check = shipped[name][1]["training"]["check"]
        assert value == f"{check['value']:.2f}", (name, value, json.dumps(check))
