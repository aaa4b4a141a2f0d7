"""Functional fast weight memory programs, one module per update rule.

Each module keeps its recurrent reference, its chunked form and its one-step form side by side.
Inputs follow DESIGN Section 2: q, k `[B, T, H, Dk]` (after the feature map), v `[B, T, H, Dv]`,
beta `[B, T, H]`, state `S: [B, H, Dk, Dv]` (and `z: [B, H, Dk]` with attention normalisation).
"""

from fwp_keras.ops.delta_rule import delta_rule, delta_rule_step
from fwp_keras.ops.gated import gated_rule, gated_rule_step
from fwp_keras.ops.linear_attention import linear_attention, linear_attention_step

__all__ = [
    "delta_rule",
    "delta_rule_step",
    "gated_rule",
    "gated_rule_step",
    "linear_attention",
    "linear_attention_step",
]
