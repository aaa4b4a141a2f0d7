"""Generation on a fast weight memory, shared by the zoo's causal and seq2seq LMs.

keras-hub's samplers decode every row from one index. Prompts (decoder prompts of a seq2seq
model) of different lengths are therefore left-aligned so that they all end at the same column;
the pads before a prompt are identity updates of the memory, so each row's tokens are those its
prompt would give alone. This is RWKV7's scheme in keras-hub (its preprocessor left-pads); here
the model does it internally, and users pass and get back keras-hub's layout (each prompt at the
start of its row).
"""

from keras import ops

from fwp_keras.zoo.fast_weight.zoo_causal_lm import through_first_stop


def generate_left_aligned(model, token_ids, padding_mask, prefill, call_with_cache,
                          stop_token_ids=None):
    """Runs `model.sampler` over prompts in keras-hub's layout.

    Args:
        token_ids, padding_mask: `[B, W]`, each prompt at the start of its row.
        prefill: `(left_ids, mask) -> (hidden, cache)`, one pass over the left-aligned block of
            prompts with `mask` true on the prompt tokens to write (all but each one's last,
            which the sampler's first step feeds).
        call_with_cache: `(token [B, 1], cache) -> (logits, hidden, cache)`, one step.
        stop_token_ids: ids that end a row (keras-hub's rule: a row keeps its tokens up to and
            including its first stop token).

    Returns:
        `(token_ids, padding_mask)` in keras-hub's layout, filled up to the width W.
    """
    token_ids = ops.cast(token_ids, "int32")
    padding_mask = ops.cast(padding_mask, "bool")
    width = ops.shape(token_ids)[1]
    lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=1)
    prompt_width = ops.maximum(ops.max(lengths), 1)
    shift = (prompt_width - lengths)[:, None]
    columns = ops.arange(width, dtype="int32")[None, :]
    # Internal layout: row b moved right by shift_b, so every prompt ends at prompt_width - 1.
    left_ids = ops.take_along_axis(token_ids, ops.mod(columns - shift, width), axis=1)
    prompt_area = (columns >= shift) & (columns < prompt_width)
    hidden, cache = prefill(left_ids, prompt_area & (columns < prompt_width - 1))

    def next(prompt, cache, index):
        token = ops.slice(prompt, [0, index - 1], [ops.shape(prompt)[0], 1])
        logits, hidden, cache = call_with_cache(token, cache)
        return model.suppress(ops.squeeze(logits, axis=1)), ops.squeeze(hidden, axis=1), cache

    left_ids = model.sampler(
        next=next, prompt=left_ids, cache=cache, index=prompt_width, mask=prompt_area,
        stop_token_ids=stop_token_ids, hidden_states=hidden, model=model,
    )
    generated = columns >= prompt_width
    if stop_token_ids is None:
        kept = generated
    else:
        kept = generated & through_first_stop(left_ids, stop_token_ids, generated)
    left_mask = prompt_area | kept
    # Back to keras-hub's layout; columns that wrap around keep the caller's padding.
    back = ops.mod(columns + shift, width)
    out_mask = ops.take_along_axis(left_mask, back, axis=1) & (columns < width - shift)
    out_ids = ops.where(out_mask, ops.take_along_axis(left_ids, back, axis=1), token_ids)
    return out_ids, out_mask
