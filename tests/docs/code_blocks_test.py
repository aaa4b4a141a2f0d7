"""Every Python code block of the README and the Getting started page runs as written (each in a
fresh process, in an empty folder, offline on the shipped presets and data)."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAGES = ("README.md", os.path.join("docs", "index.md"))


def python_blocks(page):
    with open(os.path.join(ROOT, page), encoding="utf-8") as file:
        text = file.read()
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


ALL_BLOCKS = [(page, i, code) for page in PAGES for i, code in enumerate(python_blocks(page))]
BLOCKS = []  # a block shown on both pages runs once
for block in ALL_BLOCKS:
    if all(block[2] != code for _, _, code in BLOCKS):
        BLOCKS.append(block)


def test_the_pages_have_code_to_run():
    assert {page for page, _, _ in ALL_BLOCKS} == set(PAGES)


@pytest.mark.parametrize("page, index, code", BLOCKS,
                         ids=[f"{page}[{index}]" for page, index, _ in BLOCKS])
def test_code_block_runs_as_written(page, index, code, tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, f"{page}, block {index}:\n{code}\n{run.stderr[-3000:]}"
