"""KeepsJaxStateOnError: a model's variables survive a `fit`, `evaluate` or `predict` that
raises on the JAX backend.

Keras's JAX trainer detaches the variables' values while it loops (`_purge_model_variables`:
the jitted steps carry the state instead) and reattaches them from `self._jax_state`. It sets
`_jax_state` only once a step has returned, and `evaluate` / `predict` do not reattach at all
when they raise, so an error in a loop's first step (a batch of the wrong shape, a loss that
does not fit the outputs) left every variable empty: each later call failed with "'NoneType'
object is not callable" (Keras 3.15). Recording the state the moment it is detached, and
reattaching it on an error, closes that window. Other backends never detach anything.
"""

import contextlib

_STATE_PARTS = ("trainable_variables", "non_trainable_variables", "optimizer_variables",
                "metrics_variables")


class KeepsJaxStateOnError:
    """Mixin for a `keras.Model` subclass (before the Keras base in the bases)."""

    def _get_jax_state(self, trainable_variables=False, non_trainable_variables=False,
                       optimizer_variables=False, metrics_variables=False,
                       purge_model_variables=False):
        wanted = (trainable_variables, non_trainable_variables, optimizer_variables,
                  metrics_variables)
        state = super()._get_jax_state(*wanted, purge_model_variables=purge_model_variables)
        if purge_model_variables:  # the values now live only in `state`
            self._jax_state = dict(zip([p for p, w in zip(_STATE_PARTS, wanted) if w], state))
            self._jax_state_synced = False
        return state

    def fit(self, *args, **kwargs):
        with _reattached_on_error(self):
            return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        with _reattached_on_error(self):
            return super().evaluate(*args, **kwargs)

    def predict(self, *args, **kwargs):
        with _reattached_on_error(self):
            return super().predict(*args, **kwargs)


@contextlib.contextmanager
def _reattached_on_error(model):
    try:
        yield
    except BaseException:
        if getattr(model, "_jax_state", None):
            model.jax_state_sync()
            model._jax_state = None
        raise
