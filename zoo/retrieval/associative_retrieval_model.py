"""AssociativeRetrievalModel: the paper's Sec. 6.1 model, a keras-hub `Backbone` with presets."""

import keras
import keras_hub
from keras import ops

from fwp_keras.zoo.jax_state import KeepsJaxStateOnError
from fwp_keras.zoo.presets import NamedPresets
from fwp_keras.zoo.retrieval.associative_memory import AssociativeMemory


@keras.saving.register_keras_serializable(package="fwp_keras")
def squared_error(y_true, y_pred):
    """The paper's loss: the squared error of the predicted value vector, summed over its `S`
    components (Keras then averages over queries and the batch). Predicting zeros scores 1;
    the best constant prediction (`1/S` everywhere) scores `1 - 1/S`."""
    y_pred = ops.cast(y_pred, "float32")
    return ops.sum(ops.square(ops.cast(y_true, "float32") - y_pred), axis=-1)


@keras.saving.register_keras_serializable(package="fwp_keras")
class AssociativeRetrievalModel(KeepsJaxStateOnError, NamedPresets,
                                keras_hub.models.Backbone):
    """`{"keys": [B, L], "values": [B, L], "queries": [B, Q]}` -> predicted values `[B, Q, S]`.

    One `AssociativeMemory` (see it for the equations and arguments): a learned key embedding,
    one-hot values, keys projected from `[e(key); value]`, queries from `e(query)` read after
    all writes. Train it with `squared_error` on `fwp_keras.training.datasets` batches:

        model = AssociativeRetrievalModel(num_keys=20, update_rule="delta")
        model.compile("adam", loss=squared_error)
        model.fit(retrieval_dataset(20, setting=2), steps_per_epoch=100)
    """

    def __init__(self, num_keys, key_dim=64, num_heads=1, memory="fast_weight",
                 feature_map="elu_plus_one", update_rule="sum", normalization="default",
                 chunk_size=64, implementation="auto", dtype=None, **kwargs):
        # === Layers ===
        self.memory_layer = AssociativeMemory(
            num_keys, key_dim=key_dim, num_heads=num_heads, memory=memory,
            feature_map=feature_map, update_rule=update_rule, normalization=normalization,
            chunk_size=chunk_size, implementation=implementation, dtype=dtype, name="memory",
        )
        # === Functional model ===
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
                  for name in ("keys", "values", "queries")}
        outputs = self.memory_layer(inputs["keys"], inputs["values"], inputs["queries"])
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        # === Config ===
        self.num_keys = self.memory_layer.num_keys
        self.key_dim = self.memory_layer.key_dim
        self.num_heads = self.memory_layer.num_heads
        self.memory = memory
        self.feature_map = self.memory_layer.feature_map
        self.update_rule = update_rule
        self.normalization = normalization
        self.chunk_size = chunk_size
        self.implementation = implementation
        self.supports_jit = getattr(self.memory_layer, "supports_jit", True)

    def memory_statistics(self, inputs):
        """The memory's per-write statistics for a batch of `inputs`, as a one-layer list
        (see `FastWeightAttention.memory_statistics`)."""
        return [self.memory_layer.memory_statistics(inputs["keys"], inputs["values"],
                                                    inputs["queries"])]

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "num_keys", "key_dim", "num_heads", "memory", "feature_map", "update_rule",
            "normalization", "chunk_size", "implementation")})
        return config
