"""MkDocs hooks: the parts of the docs made from the code, so that they cannot drift from it.

- `<!-- shipped-presets -->`: the table of the presets shipped in the package, from their
  `metadata.json` (`shipping.shipped_table`, as `shipping --list` prints it);
- `<!-- help: fwp-train lm -->` (any command and sub-command): its `--help`, from the parsers
  of `training/arguments/`;
- the plots the results pages show, copied from `benchmarks/results/` into `images/`;
- `build/api_layout/fwp_keras/`: the package as it installs (zoo/, training/, tf_ops/ inside
  fwp_keras/), in links, where the API reference (mkdocstrings, `paths` in mkdocs.yml) reads
  the code without importing it.
"""

import contextlib
import io
import os

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLOTS = os.path.join(ROOT, "benchmarks", "results", "reproduce")
HELP_MARKER = "<!-- help: "
API_LAYOUT = os.path.join(ROOT, "build", "api_layout", "fwp_keras")
INSTALLED_AS = ("zoo", "training", "tf_ops")  # top-level folders, subpackages when installed


def on_startup(command, dirty):
    # At start-up: mkdocstrings looks for `paths` when its handler starts, before on_config.
    os.makedirs(API_LAYOUT, exist_ok=True)
    targets = {name: os.path.join(ROOT, "fwp_keras", name)
               for name in os.listdir(os.path.join(ROOT, "fwp_keras")) if name != "__pycache__"}
    targets.update({name: os.path.join(ROOT, name) for name in INSTALLED_AS})
    for name, target in targets.items():
        link = os.path.join(API_LAYOUT, name)
        if os.path.islink(link) and os.readlink(link) == target:
            continue
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(target, link)


def on_files(files, config):
    for name in sorted(os.listdir(PLOTS)):
        if name.endswith(".png"):
            files.append(File.generated(config, f"images/{name}",
                                        abs_src_path=os.path.join(PLOTS, name)))
    return files


def command_help(command):
    """The `--help` text of `command`, e.g. "fwp-train lm" or "fwp-translate"."""
    from fwp_keras.training import cli

    mains = {"fwp-train": cli.train, "fwp-evaluate": cli.evaluate_main,
             "fwp-translate": cli.translate_main, "fwp-reproduce": cli.reproduce_main}
    program, *sub = command.split()
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal's width
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        mains[program]([*sub, "--help"])
    return out.getvalue().rstrip()


def on_page_markdown(markdown, page, config, files):
    if "<!-- shipped-presets -->" in markdown:
        from fwp_keras.training.reproduce import shipping

        markdown = markdown.replace("<!-- shipped-presets -->", shipping.shipped_table())
    while HELP_MARKER in markdown:
        start = markdown.index(HELP_MARKER)
        end = markdown.index("-->", start)
        command = markdown[start + len(HELP_MARKER):end].strip()
        markdown = (markdown[:start] + f"```text\n$ {command} --help\n{command_help(command)}\n```"
                    + markdown[end + 3:])
    return markdown
