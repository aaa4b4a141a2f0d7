"""The shipped presets on JAX and PyTorch: a language model and a retrieval model measure, on
this backend, the value their check recorded on TensorFlow (which
`tests/training/shipped_presets_test.py` holds every shipped preset to)."""

import numpy as np
import pytest

import zoo_utils as zu
from fwp_keras.training.reproduce import shipping
from fwp_keras.zoo import presets



@pytest.mark.skipif(zu.BACKEND == "tensorflow", reason="tests/training checks TensorFlow")
@pytest.mark.parametrize("name", ["delta_net_shakespeare", "retrieval_setting2_s20_delta_dpfp1"])
def test_shipped_preset_reproduces_its_recorded_check_on_this_backend(name):
    check = presets.preset_utils.BUILTIN_PRESETS[name]["metadata"]["training"]["check"]
    np.testing.assert_allclose(shipping.measure(check, name), check["value"],
                               rtol=check["tolerance"], atol=1e-6)
