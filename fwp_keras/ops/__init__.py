"""Functional fast weight memory programs, one module per update rule.

Each module keeps its recurrent reference, its chunked form and its one-step form side by side.
Inputs follow DESIGN Section 2: q, k `[B, T, H, Dk]` (after the feature map), v `[B, T, H, Dv]`,
beta `[B, T, H]`, state `S: [B, H, Dk, Dv]` (and `z: [B, H, Dk]` with attention normalisation).

Common to all of them:
- inputs are anything `keras.ops` accepts (tensors, arrays, nested lists, variables); integer
  inputs compute as floats and give a `floatx` output; empty axes (B, T, H, Dk or Dv = 0) give
  empty results; arguments are checked before anything runs, each error naming its argument;
- a NaN or inf at step t never reaches the outputs before t (causality holds in every form), and
  a non-finite query only its own output; from a non-finite write (k, v or beta) on, the chunked
  and op forms mark every output and the final state NaN, the recurrent form carries what the
  arithmetic gives;
- under XLA (`jit_compile=True`) `implementation="auto"` is the chunked form on TensorFlow too
  (the custom ops have no XLA kernels; `"op"` there is an error saying so); every form trains
  under XLA on TensorFlow and JAX.
"""

from fwp_keras.ops.delta_rule import delta_rule, delta_rule_step
from fwp_keras.ops.gated import gated_rule, gated_rule_step
from fwp_keras.ops.linear_attention import (
    linear_attention,
    linear_attention_memory,
    linear_attention_read,
    linear_attention_step,
)

__all__ = [
    "delta_rule",
    "delta_rule_step",
    "gated_rule",
    "gated_rule_step",
    "linear_attention",
    "linear_attention_memory",
    "linear_attention_read",
    "linear_attention_step",
]
