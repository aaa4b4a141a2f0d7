"""TensorFlow custom ops (`Fwp...`) with registered gradients, under the memory programs.

    cc/ops/        REGISTER_OP and shape functions
    cc/kernels/    CPU kernels (chunked_rule.h: the chunkwise program), CUDA launchers (.cu.cc)
    gpu_harness/   the CUDA launchers checked against a CPU reference, without TensorFlow
    build.py       builds _fwp_ops.so with tf.sysconfig's flags (python -m fwp_keras.tf_ops.build)
    loader.py      TF-version check, fallback with one warning, FWP_KERAS_DISABLE_CUSTOM_OPS
    gradients.py   tf.RegisterGradient for the forward ops
    memory_ops.py  fwp_keras.ops' calling convention on top of the ops

Call `load_custom_ops()` before `tf.saved_model.load` of a SavedModel that contains the ops, or
export inside `disable_custom_ops()` to get one that stock TensorFlow loads.
"""

from fwp_keras.tf_ops.loader import (
    DISABLE_ENV,
    custom_ops,
    custom_ops_disabled,
    disable_custom_ops,
    load_custom_ops,
)

__all__ = ["DISABLE_ENV", "custom_ops", "custom_ops_disabled", "disable_custom_ops",
           "load_custom_ops"]
