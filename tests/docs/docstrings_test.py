"""Every public name of the API reference has a docstring, and so has every public method a
public class defines (the reference renders them; a name without one is a blank entry)."""

import importlib
import inspect

import pytest

# Keras' and keras-hub's protocol methods: what they do is the framework's (the class docstring
# says what its `call` takes); the API reference leaves them out (mkdocs.yml's filters).
PROTOCOL_METHODS = {"build", "call", "compute_output_shape", "compute_output_spec",
                    "compute_mask", "get_config", "from_config", "save_assets", "load_assets"}
MODULES = ("fwp_keras.ops", "fwp_keras.layers", "fwp_keras.zoo", "fwp_keras.datasets",
           "fwp_keras.datasets.multi30k", "fwp_keras.datasets.shakespeare",
           "fwp_keras.datasets.wikitext", "fwp_keras.datasets.retrieval", "fwp_keras.tf_ops")


def public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_") and (
            inspect.isfunction(v) or inspect.isclass(v)) and v.__module__ == module.__name__]
    return names


def undocumented(module_name):
    module = importlib.import_module(module_name)
    missing = [] if inspect.getdoc(module) else [module_name]
    for name in public_names(module):
        value = getattr(module, name)
        if not (inspect.isfunction(value) or inspect.isclass(value)):
            continue  # constants and submodules
        if not (value.__doc__ or "").strip():
            missing.append(f"{module_name}.{name}")
        if inspect.isclass(value):
            for attribute, member in vars(value).items():
                if (attribute.startswith("_") or attribute in PROTOCOL_METHODS
                        or not inspect.isfunction(member)):
                    continue
                if not (member.__doc__ or "").strip() and not overrides_documented(
                        value, attribute):
                    missing.append(f"{module_name}.{name}.{attribute}")
    return missing


def overrides_documented(cls, attribute):
    """An override of a documented method (Keras' `call`, `get_config`, ...) keeps the
    base's documentation."""
    return any((getattr(base, attribute, None).__doc__ or "").strip()
               for base in cls.__mro__[1:] if hasattr(base, attribute))


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_has_a_docstring(module_name):
    assert undocumented(module_name) == []
