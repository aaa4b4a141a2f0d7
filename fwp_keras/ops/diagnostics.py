"""What a memory program writes and reads at every step, for the memory diagnostics.

For each step t (per batch row and head), with `S_{t-1}` the fast weights before the step:
    value_norm      ||v_t||                          the value to write
    retrieved_norm  ||vbar_t||, vbar_t = S_{t-1}^T k_t  what the memory holds at k_t
                    (divided by z_{t-1} . k_t under attention normalisation, as the delta
                    rule's one-step form reads)
    update_norm     ||beta_t (v_t - vbar_t)||        what the delta / gated rule writes
                    (the sum rule writes v_t: update_norm = value_norm)
    state_norm      ||S_t||_F                        the fast weights after the step
    normalizer      z_t . q_t                        attention normalisation's denominator
                    (absent without it); it grows with t (Sec. 4.2)
The steps run the rule's own one-step form, so the statistics follow the program exactly.
"""

from keras import ops

from fwp_keras.ops import _common as common
from fwp_keras.ops.delta_rule import delta_rule_step
from fwp_keras.ops.gated import gated_rule_step
from fwp_keras.ops.linear_attention import linear_attention_step


def _norm(x, axes=-1):
    return ops.sqrt(ops.sum(ops.square(x), axis=axes))


def memory_statistics(q, k, v, beta=None, *, update_rule="sum", normalize=False, eps=1e-6):
    """`q, k: [B, T, H, Dk]` (features), `v: [B, T, H, Dv]`, `beta: [B, T, H]` (delta and
    gated rules) -> a dict of `[B, T, H]` float32 statistics (see the module docstring).

    Padded positions are those with `k = v = 0` (the layers zero them): they leave the
    memory unchanged, and their statistics are zeros apart from `state_norm`.
    """
    q, k, v = (ops.cast(x, "float32") for x in (q, k, v))
    batch, heads, dk, dv = ops.shape(q)[0], q.shape[2], q.shape[3], v.shape[3]
    state = ops.zeros((batch, heads, dk, dv), "float32")
    if normalize:
        state = (state, ops.zeros((batch, heads, dk), "float32"))
    if beta is None:
        beta = ops.ones(ops.shape(q)[:3], "float32")
    beta = ops.cast(beta, "float32")

    def step(state, inputs):
        q_t, k_t, v_t, beta_t = inputs
        s, z = state if normalize else (state, None)
        retrieved = ops.einsum("bhk,bhkv->bhv", k_t, s)
        if normalize:
            retrieved = retrieved / (ops.sum(z * k_t, axis=-1, keepdims=True) + eps)
        if update_rule == "sum":
            update = v_t
            _, state = linear_attention_step(q_t, k_t, v_t, state, normalize=normalize, eps=eps)
        elif update_rule == "delta":
            update = beta_t[..., None] * (v_t - retrieved)
            _, state = delta_rule_step(q_t, k_t, v_t, beta_t, state, normalize=normalize,
                                       eps=eps)
        else:
            update = beta_t[..., None] * (v_t - retrieved)
            _, state = gated_rule_step(q_t, k_t, v_t, beta_t, state)
        s_new = state[0] if normalize else state
        stats = {"value_norm": _norm(v_t), "retrieved_norm": _norm(retrieved),
                 "update_norm": _norm(update), "state_norm": _norm(s_new, (-2, -1))}
        if normalize:
            stats["normalizer"] = ops.sum(state[1] * q_t, axis=-1)
        return state, stats

    _, stats = common.scan(step, state, common.time_major(q, k, v, beta))
    return {name: ops.transpose(value, (1, 0, 2)) for name, value in stats.items()}
