"""Generation on a fast weight memory, shared by the zoo's causal and seq2seq LMs.

Prompts (decoder prompts of a seq2seq model) of different lengths stay where keras-hub puts
them, each at the start of its row, and every row is filled up to the width, as keras-hub's
own models fill it. One masked pass of the chunked form (the custom op on TensorFlow) writes
each row's prompt but its last token into the memories; keras-hub's sampler then runs from the
shortest prompt's end with the one-step forms. While a row's prompt is still running the
sampler keeps its prompt token, and that row makes no memory update for a token the prefill
wrote already (its write mask is off: keys, values and beta zeroed, an identity update), so
each row's tokens are exactly those its prompt gives alone.
"""

from keras import ops

from fwp_keras.zoo.fast_weight.zoo_causal_lm import through_first_stop


def generate_ragged(model, token_ids, padding_mask, prefill, call_with_cache,
                    stop_token_ids=None):
    """Runs `model.sampler` over prompts in keras-hub's layout.

    Args:
        token_ids: `[B, W]`, each prompt at the start of its row.
        padding_mask: `[B, W]`, each prompt at the start of its row.
        prefill: `(token_ids, write_mask) -> (hidden, cache)`, one pass over the block with
            `write_mask` true on the tokens to write (each prompt but its last token).
        call_with_cache: `(token [B, 1], cache, write_mask [B, 1]) -> (logits, hidden,
            cache)`, one step; rows whose mask is off leave their memories unchanged.
        stop_token_ids: ids that end a row (keras-hub's rule: a row keeps its tokens up to and
            including its first generated stop token).

    Returns:
        `(token_ids, padding_mask)` in keras-hub's layout, every row filled up to the width W
        (up to its first stop token).
    """
    token_ids = ops.cast(token_ids, "int32")
    padding_mask = ops.cast(padding_mask, "bool")
    lengths = ops.sum(ops.cast(padding_mask, "int32"), axis=1)
    columns = ops.arange(ops.shape(token_ids)[1], dtype="int32")[None, :]
    hidden, cache = prefill(token_ids, columns < (lengths - 1)[:, None])

    def next(prompt, state, index):
        cache, prompt_lengths = state  # the lengths ride in the cache: beam search expands it
        token = ops.slice(prompt, [0, index - 1], [ops.shape(prompt)[0], 1])
        write = (index - 1 >= prompt_lengths - 1)[:, None]  # the prefill wrote the rest
        logits, hidden, cache = call_with_cache(token, cache, write)
        logits = model.sampling_logits(ops.squeeze(logits, axis=1), prompt, index,
                                       padding_mask, stop_token_ids)
        return logits, ops.squeeze(hidden, axis=1), (cache, prompt_lengths)

    token_ids = model.sampler(
        next=next, prompt=token_ids, cache=(cache, lengths),
        index=ops.maximum(ops.min(lengths), 1),
        mask=padding_mask, stop_token_ids=stop_token_ids, hidden_states=hidden, model=model,
    )
    if stop_token_ids is None:
        return token_ids, ops.ones_like(padding_mask)
    generated = ops.logical_not(padding_mask)
    return token_ids, padding_mask | through_first_stop(token_ids, stop_token_ids, generated)
