"""TensorFlow custom ops (`Fwp...`) with registered gradients, under the memory programs.

Issue 3 builds them here (cc/ops, cc/kernels, gpu_harness, loader, gradients); until then every
backend runs the keras.ops forms of `fwp_keras.ops`.
"""
