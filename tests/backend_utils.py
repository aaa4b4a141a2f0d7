"""Helpers shared by the tests of `fwp_keras.ops`.

- numpy <-> backend conversion of nested structures (tuples, dicts, `None` leaves kept);
- `value_and_grads`: reverse-mode gradients with the running backend's own autodiff
  (TensorFlow `tf.GradientTape`, JAX `jax.value_and_grad`, torch `torch.autograd.grad`);
- input generators (positive, sum-normalised features as in the paper, sigmoid gates);
- `Rule`: one update rule's op, one-step op and float64 NumPy reference behind one interface, so
  that the three rule test files share every check (`check_against_reference`, ...).
"""

import contextlib
import dataclasses
from typing import Callable

import keras
import numpy as np
import pytest
from keras import ops

import fwp_keras.ops as fwp
import reference

BACKEND = keras.backend.backend()

FWD_TOL = 1e-5  # float32 forward, ||ref - x|| / ||ref|| (DESIGN Section 8)
GRAD_TOL = 1e-4  # float32 gradients
F64_TOL = 1e-12  # float64 forward

# ---------------------------------------------------------------------------------------------
# Nested structures
# ---------------------------------------------------------------------------------------------


def leaves_with_paths(x, path=""):
    """[(path, leaf)] of a structure of dicts / tuples / lists; `None` is a leaf."""
    if isinstance(x, dict):
        return [p for key in sorted(x) for p in leaves_with_paths(x[key], f"{path}[{key}]")]
    if isinstance(x, (tuple, list)):
        return [p for i, item in enumerate(x) for p in leaves_with_paths(item, f"{path}[{i}]")]
    return [(path, x)]


def map_structure(fn, x):
    """`fn` on every non-`None` leaf; tuples, lists and dicts keep their shape."""
    if isinstance(x, dict):
        return {key: map_structure(fn, item) for key, item in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(map_structure(fn, item) for item in x)
    return None if x is None else fn(x)


def pack_like(structure, leaves):
    """Inverse of `[leaf for _, leaf in leaves_with_paths(structure)]`."""
    leaves = iter(leaves)

    def pack(x):
        if isinstance(x, dict):
            return {key: pack(x[key]) for key in sorted(x)}
        if isinstance(x, (tuple, list)):
            return type(x)(pack(item) for item in x)
        return next(leaves)

    return pack(structure)


# ---------------------------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------------------------


def dtype_of(x):
    return keras.backend.standardize_dtype(x.dtype)


def to_tensor(x, dtype=None):
    return map_structure(lambda a: ops.convert_to_tensor(a, dtype=dtype), x)


def to_numpy(x):
    """Backend tensors (any nesting) -> numpy; bfloat16 comes back as float32."""

    def convert(a):
        if BACKEND == "torch":
            a = a.detach()
        if dtype_of(a) == "bfloat16":
            a = ops.cast(a, "float32")
        return np.asarray(ops.convert_to_numpy(a))

    return map_structure(convert, x)


@contextlib.contextmanager
def float64_enabled():
    """JAX silently turns float64 into float32 unless x64 is on; enable it for one test."""
    if BACKEND == "jax":
        import jax

        with jax.enable_x64(True):
            yield
    else:
        yield


# ---------------------------------------------------------------------------------------------
# Autodiff on each backend
# ---------------------------------------------------------------------------------------------


def _pairing_loss(outputs, cotangents):
    """sum over leaves of sum(cotangent * output), the cotangents cast to each output's dtype."""
    total = 0.0
    for (_, out), (_, cot) in zip(leaves_with_paths(outputs), leaves_with_paths(cotangents)):
        total = total + ops.sum(out * ops.cast(cot, dtype_of(out)))
    return total


def value_and_grads(fn, inputs, cotangents, tf_graph=False):
    """Runs `outputs = fn(**inputs)` and differentiates `sum(cotangents * outputs)`.

    JAX differentiates one `jax.jit`-compiled program (op-by-op dispatch compiles every
    primitive for every new shape: several times slower), torch runs eagerly, TensorFlow records
    a `tf.GradientTape` eagerly or, with `tf_graph=True`, inside a `tf.function` (as `model.fit`
    does; an eager `tf.while_loop` over 1000 steps is several times slower).

    Args:
        fn: keyword function of backend tensors, returning a structure of tensors.
        inputs: dict of numpy arrays (or tuples of them, e.g. `initial_state=(S, z)`).
        cotangents: numpy arrays with the structure of `fn`'s outputs.
        tf_graph: on TensorFlow, trace the forward and backward pass with `tf.function`.

    Returns:
        `(outputs, grads)`: the outputs as backend tensors (to check their dtypes) and the
        gradients as numpy arrays, with the structure of `inputs`.
    """
    flat = [leaf for _, leaf in leaves_with_paths(inputs)]
    cotangents = to_tensor(cotangents)

    if BACKEND == "tensorflow":
        import tensorflow as tf

        def outputs_and_grads(*leaves):
            with tf.GradientTape() as tape:
                tape.watch(leaves)
                outputs = fn(**pack_like(inputs, leaves))
                loss = _pairing_loss(outputs, cotangents)
            return outputs, tape.gradient(
                loss, leaves, unconnected_gradients=tf.UnconnectedGradients.ZERO
            )

        if tf_graph:
            outputs_and_grads = tf.function(outputs_and_grads)
        outputs, grads = outputs_and_grads(*[tf.convert_to_tensor(x) for x in flat])
    elif BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        def loss_fn(leaves):
            outputs = fn(**pack_like(inputs, leaves))
            return _pairing_loss(outputs, cotangents), outputs

        # Compiled as one program: op-by-op dispatch compiles every primitive for every new
        # shape, which makes the eager form many times slower here.
        (_, outputs), grads = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(
            [jnp.asarray(x) for x in flat]
        )
    elif BACKEND == "torch":
        import torch

        leaves = [torch.tensor(x, requires_grad=True) for x in flat]
        outputs = fn(**pack_like(inputs, leaves))
        loss = _pairing_loss(outputs, cotangents)
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        grads = [torch.zeros_like(x) if g is None else g for x, g in zip(leaves, grads)]
        outputs = map_structure(lambda t: t.detach(), outputs)
    else:
        raise NotImplementedError(f"No gradient helper for the {BACKEND} backend")
    return outputs, pack_like(inputs, to_numpy(list(grads)))


def tf_function_with_unknown_batch_and_time(fn, inputs):
    """`fn(**inputs)` as a `tf.function` whose signature leaves batch and time unknown (the
    shapes a Keras model traces). Returns a function of the same keyword inputs.
    """
    import tensorflow as tf

    def spec(path, x):
        unknown = 1 if path.startswith("[initial_state]") else 2  # [B, ...] or [B, T, ...]
        return tf.TensorSpec([None] * unknown + list(x.shape[unknown:]), x.dtype)

    signature = [spec(path, x) for path, x in leaves_with_paths(inputs)]
    graph_fn = tf.function(lambda *leaves: fn(**pack_like(inputs, leaves)),
                           input_signature=signature)
    return lambda **kw: graph_fn(*[leaf for _, leaf in leaves_with_paths(kw)])


# ---------------------------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------------------------


def relative_error(expected, actual):
    expected = np.asarray(expected, np.float64)
    actual = np.asarray(actual, np.float64)
    norm = np.linalg.norm(expected)
    diff = np.linalg.norm(expected - actual)
    return diff / norm if norm > 0 else diff


def assert_close(actual, expected, tol, what=""):
    """Leaf by leaf: same structure, same shapes, relative error <= tol."""
    actual, expected = leaves_with_paths(actual), leaves_with_paths(expected)
    assert [p for p, _ in actual] == [p for p, _ in expected], f"{what}: structures differ"
    problems = []
    for (path, a), (_, e) in zip(actual, expected):
        a, e = np.asarray(a), np.asarray(e)
        if a.shape != e.shape:
            problems.append(f"{what}{path}: shape {a.shape} != expected {e.shape}")
            continue
        err = relative_error(e, a)
        if not err <= tol:  # also catches NaN
            problems.append(f"{what}{path}: relative error {err:.3e} > {tol:.0e}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def features(rng, shape):
    """Positive, sum-normalised features: the softmax of normals over the last axis."""
    x = rng.standard_normal(shape)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def gates(rng, shape):
    """beta = sigmoid(normal), in (0, 1)."""
    return 1.0 / (1.0 + np.exp(-rng.standard_normal(shape)))


def make_state(rng, batch, heads, dk, dv, normalize):
    s = rng.standard_normal((batch, heads, dk, dv))
    if not normalize:
        return s
    return s, 1.0 + rng.uniform(size=(batch, heads, dk))  # a positive running key sum


# ---------------------------------------------------------------------------------------------
# The update rules behind one interface
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rule:
    name: str
    op: Callable
    step: Callable
    ref: Callable
    ref_grad: Callable
    has_beta: bool
    has_normalize: bool

    def __repr__(self):
        return self.name

    def norm_kwargs(self, normalize):
        if self.has_normalize:
            return {"normalize": normalize}
        assert not normalize, f"{self.name} has no attention normalisation"
        return {}

    def inputs(self, rng, batch, length, heads, dk, dv, *, normalize=False,
               initial_state=False, query_length=None, dtype="float32"):
        """dict of numpy inputs for the op and the reference, in `dtype`."""
        x = {
            "q": features(rng, (batch, query_length or length, heads, dk)),
            "k": features(rng, (batch, length, heads, dk)),
            "v": rng.standard_normal((batch, length, heads, dv)),
        }
        if self.has_beta:
            x["beta"] = gates(rng, (batch, length, heads))
        if initial_state:
            x["initial_state"] = make_state(rng, batch, heads, dk, dv, normalize)
        return map_structure(lambda a: a.astype(dtype), x)

    def __call__(self, inputs, normalize=False, jit=True, **kwargs):
        """The library op on `inputs` (numpy arrays, converted here, or backend tensors).

        On JAX under `jax.jit` unless `jit=False`: eager op-by-op dispatch compiles every
        primitive for every new shape, several times slower than one compiled program.
        """
        inputs = map_structure(
            lambda a: ops.convert_to_tensor(a) if isinstance(a, np.ndarray) else a, inputs
        )

        def op(x):
            return self.op(**x, **self.norm_kwargs(normalize), **kwargs)

        if BACKEND == "jax" and jit:
            import jax

            op = jax.jit(op)
        return op(inputs)

    def reference(self, inputs, normalize=False, **kwargs):
        return self.ref(**inputs, **self.norm_kwargs(normalize), **kwargs)

    def reference_grad(self, inputs, do, d_state, normalize=False, **kwargs):
        return self.ref_grad(**inputs, do=do, d_state=d_state, **self.norm_kwargs(normalize),
                             **kwargs)

    def run_steps(self, inputs, normalize=False):
        """Feeds the one-step op token by token; returns (o [B, T, H, Dv], final state)."""
        tensors = to_tensor(inputs)
        q, k, v = tensors["q"], tensors["k"], tensors["v"]
        state = tensors.get("initial_state")
        if state is None:
            batch, _, heads, dk = inputs["q"].shape
            s0 = np.zeros((batch, heads, dk, inputs["v"].shape[-1]), "float32")
            state = to_tensor((s0, np.zeros(s0.shape[:3], "float32")) if normalize else s0)
        outputs = []
        for t in range(q.shape[1]):
            per_step = [q[:, t], k[:, t], v[:, t]]
            if self.has_beta:
                per_step.append(tensors["beta"][:, t])
            o, state = self.step(*per_step, state, **self.norm_kwargs(normalize))
            outputs.append(o)
        return ops.stack(outputs, axis=1), state


LINEAR = Rule("linear_attention", fwp.linear_attention, fwp.linear_attention_step,
              reference.linear_attention, reference.linear_attention_grad,
              has_beta=False, has_normalize=True)
DELTA = Rule("delta_rule", fwp.delta_rule, fwp.delta_rule_step,
             reference.delta_rule, reference.delta_rule_grad,
             has_beta=True, has_normalize=True)
GATED = Rule("gated_rule", fwp.gated_rule, fwp.gated_rule_step,
             reference.gated_rule, reference.gated_rule_grad,
             has_beta=True, has_normalize=False)

# ---------------------------------------------------------------------------------------------
# Shared parametrisations
# ---------------------------------------------------------------------------------------------

# name: (batch, length, heads, dk, dv, with an initial state). Dk != Dv everywhere but D60.
SHAPES = {
    "T1": (2, 1, 2, 8, 6, True),
    "T63": (2, 63, 2, 8, 5, False),
    "T100": (1, 100, 3, 6, 10, True),
    "D60": (1, 63, 1, 60, 60, True),
    "T1000": (1, 1000, 2, 16, 12, True),
}
# (shape, implementation, chunk_size): the recurrent and the chunked form on every shape, "auto"
# once; chunk sizes 16, 32 and 64, always with a partial last chunk (T = 1, 63, 100, 1000) or a
# single partial chunk (D60). Kept lean: on JAX every case is one XLA compilation of a forward
# and backward program (about a second on a 2-core CPU).
REFERENCE_CASES = [
    ("T1", "recurrent", 64),
    ("T1", "chunked", 16),
    ("T63", "recurrent", 64),
    ("T63", "chunked", 32),
    ("T100", "auto", 64),
    ("T100", "chunked", 16),
    ("D60", "recurrent", 64),
    ("D60", "chunked", 64),
    ("T1000", "recurrent", 64),
    ("T1000", "chunked", 16),
]
REFERENCE_CASE_IDS = [f"{shape}-{impl}{'' if impl == 'recurrent' else chunk}"
                      for shape, impl, chunk in REFERENCE_CASES]


# ---------------------------------------------------------------------------------------------
# Shared checks
# ---------------------------------------------------------------------------------------------


def check_against_reference(rule, inputs, *, normalize=False, fwd_tol=FWD_TOL, grad_tol=GRAD_TOL,
                            seed=0, tf_graph=False, **kwargs):
    """The op's output, final state and gradients (of a random linear loss, w.r.t. every input,
    the initial state included) against the float64 reference.

    `kwargs` go to the op (implementation, chunk_size, causal); `causal` also to the reference.
    """
    ref_kwargs = {"causal": kwargs["causal"]} if "causal" in kwargs else {}
    expected = rule.reference(inputs, normalize, **ref_kwargs)
    dtype = inputs["q"].dtype
    state_dtype = "float64" if dtype == np.float64 else "float32"

    def fn(**x):
        return rule(x, normalize, return_state=True, **kwargs)

    rng = np.random.default_rng(seed + 1)
    cotangents = map_structure(lambda e: rng.standard_normal(e.shape).astype(dtype), expected)
    outputs, actual_grads = value_and_grads(fn, inputs, cotangents, tf_graph)
    do, d_state = cotangents
    expected_grads = rule.reference_grad(inputs, do, d_state, normalize, **ref_kwargs)
    assert_close(actual_grads, {name: expected_grads[name] for name in inputs}, grad_tol, "grad")

    o, state = outputs
    assert dtype_of(o) == str(dtype)
    assert all(dtype_of(s) == state_dtype for _, s in leaves_with_paths(state))
    assert_close(to_numpy(outputs), expected, fwd_tol, "forward")


def check_reference_case(rule, shape, implementation, chunk_size, normalize, seed=1):
    """One of `SHAPES` against the reference, forward and gradients."""
    *dims, initial_state = SHAPES[shape]
    inputs = rule.inputs(np.random.default_rng(seed), *dims, normalize=normalize,
                         initial_state=initial_state)
    # TensorFlow: the long sequences in graph mode (fast loops), the others eagerly.
    check_against_reference(rule, inputs, normalize=normalize, implementation=implementation,
                            chunk_size=chunk_size, seed=seed, tf_graph=dims[1] >= 1000)


def check_float64(rule, rng, normalize, implementation):
    """float64 inputs are computed in float64: forward to 1e-12, gradients to 1e-10."""
    with float64_enabled():
        inputs = rule.inputs(rng, 2, 100, 2, 6, 5, normalize=normalize, initial_state=True,
                             dtype="float64")
        check_against_reference(rule, inputs, normalize=normalize, fwd_tol=F64_TOL,
                                grad_tol=1e-10, implementation=implementation, chunk_size=16)


def check_steps(rule, rng, normalize, initial_state):
    """The one-step op fed token by token == the full sequence, output and final state."""
    inputs = rule.inputs(rng, 2, 37, 2, 6, 5, normalize=normalize, initial_state=initial_state)
    o_steps, state_steps = rule.run_steps(inputs, normalize)
    assert dtype_of(o_steps) == "float32"
    for implementation in ("recurrent", "chunked"):  # eager on JAX too
        full = rule(inputs, normalize, jit=False, return_state=True,
                    implementation=implementation, chunk_size=16)
        assert_close(to_numpy((o_steps, state_steps)), to_numpy(full), FWD_TOL, implementation)


def check_segments(rule, rng, normalize, implementation, splits=(0, 1, 40, 63, 100)):
    """Segments with the state carried (return_state -> initial_state) == one pass."""
    inputs = rule.inputs(rng, 2, splits[-1], 2, 7, 4, normalize=normalize, initial_state=True)
    kwargs = dict(return_state=True, implementation=implementation, chunk_size=16)
    o_full, state_full = rule(inputs, normalize, **kwargs)
    state, outputs = inputs["initial_state"], []
    for start, stop in zip(splits[:-1], splits[1:]):
        segment = {name: x[:, start:stop] for name, x in inputs.items() if name != "initial_state"}
        o, state = rule(dict(segment, initial_state=state), normalize, **kwargs)
        outputs.append(to_numpy(o))
    assert_close((np.concatenate(outputs, axis=1), to_numpy(state)),
                 to_numpy((o_full, state_full)), FWD_TOL, "segments")


LOW_PRECISION_TOL = {"float16": 2e-3, "bfloat16": 1e-2}

def _low_precision_inputs(rule, rng, normalize, dtype, length):
    """(inputs in `dtype` with a float32 state, the same values in float32), backend tensors."""
    inputs = rule.inputs(rng, 2, length, 2, 8, 6, normalize=normalize, initial_state=True)
    low = {name: to_tensor(x) if name == "initial_state" else to_tensor(x, dtype)
           for name, x in inputs.items()}
    same_values = {name: x if name == "initial_state" else ops.cast(x, "float32")
                   for name, x in low.items()}
    return low, same_values


def _check_low_precision_results(dtype, o, state, o32, state32):
    assert dtype_of(o) == dtype
    assert all(dtype_of(s) == "float32" for _, s in leaves_with_paths(state))
    # The computation is float32 inside: only the output's final rounding differs.
    assert_close(to_numpy(o), to_numpy(o32), LOW_PRECISION_TOL[dtype], "o")
    assert_close(to_numpy(state), to_numpy(state32), FWD_TOL, "state")


def check_low_precision(rule, rng, normalize, dtype, implementation):
    """float16 / bfloat16 inputs: output in q's dtype, state float32, values close to float32."""
    low, same_values = _low_precision_inputs(rule, rng, normalize, dtype, 50)
    kwargs = dict(return_state=True, implementation=implementation, chunk_size=16)
    _check_low_precision_results(dtype, *rule(low, normalize, **kwargs),
                                 *rule(same_values, normalize, **kwargs))


def check_step_low_precision(rule, rng, normalize, dtype):
    """The one-step form with float16 / bfloat16 q, k, v and the float32 state, likewise."""
    low, same_values = _low_precision_inputs(rule, rng, normalize, dtype, 3)
    _check_low_precision_results(dtype, *rule.run_steps(low, normalize),
                                 *rule.run_steps(same_values, normalize))


def check_tf_function(rule, rng, normalize, implementation):
    """The op traced by tf.function with unknown batch and time."""
    inputs = rule.inputs(rng, 2, 37, 2, 6, 5, normalize=normalize, initial_state=True)
    fn = tf_function_with_unknown_batch_and_time(
        lambda **x: rule(x, normalize, return_state=True, implementation=implementation,
                         chunk_size=16),
        inputs,
    )
    actual = fn(**to_tensor(inputs))
    assert_close(to_numpy(actual), rule.reference(inputs, normalize), FWD_TOL, "tf.function")


# ---------------------------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------------------------

_B, _T, _H, _DK, _DV = 2, 5, 3, 4, 6

def bad_input_cases(rule):
    """pytest params, each (normalize, input changes, op kwargs, regex naming the argument)."""
    z = np.zeros
    s_ok, z_ok = z((_B, _H, _DK, _DV)), z((_B, _H, _DK))
    cases = [
        ("q_rank", False, {"q": z((_B, _T, _DK))}, {}, "`q`.*rank"),
        ("k_rank", False, {"k": z((_B, _T, _H, _DK, 1))}, {}, "`k`.*rank"),
        ("v_rank", False, {"v": z((_B, _T * _H * _DV))}, {}, "`v`.*rank"),
        ("batch", False, {"v": z((_B + 1, _T, _H, _DV))}, {}, "`v`.*batch"),
        ("heads", False, {"k": z((_B, _T, _H + 1, _DK))}, {}, "`k`.*heads"),
        ("dk", False, {"q": z((_B, _T, _H, _DK + 1))}, {}, "`q` and `k`.*Dk"),
        ("kv_length", False, {"v": z((_B, _T + 1, _H, _DV))}, {}, "`v`.*length"),
        ("q_length", False, {"q": z((_B, _T + 1, _H, _DK))}, {}, "`q`.*length"),
        ("state_shape", False, {"initial_state": z((_B, _H, _DK, _DV + 1))}, {},
         "initial_state"),
        ("state_heads", False, {"initial_state": z((_B, _H + 1, _DK, _DV))}, {},
         "initial_state"),
        ("implementation", False, {}, {"implementation": "fast"}, "implementation"),
        ("chunk_size", False, {}, {"chunk_size": 0}, "chunk_size"),
    ]
    if rule.has_beta:
        cases += [
            ("beta_rank", False, {"beta": z((_B, _T, _H, 1))}, {}, "`beta`"),
            ("beta_length", False, {"beta": z((_B, _T - 1, _H))}, {}, "`beta`"),
            ("beta_heads", False, {"beta": z((_B, _T, _H - 1))}, {}, "`beta`"),
        ]
    if rule.has_normalize:
        cases += [
            ("single_state_normalized", True, {"initial_state": s_ok}, {}, "initial_state"),
            ("z_shape", True, {"initial_state": (s_ok, z((_B, _H, _DK + 1)))}, {},
             r"initial_state\[1\]"),
        ]
    cases.append(("tuple_state_unnormalized", False, {"initial_state": (s_ok, z_ok)}, {},
                  "initial_state"))
    return [pytest.param(case[1:], id=case[0]) for case in cases]


def check_bad_input(rule, normalize, changes, kwargs, match):
    inputs = rule.inputs(np.random.default_rng(0), _B, _T, _H, _DK, _DV)
    inputs.update(changes)
    with pytest.raises(ValueError, match=match):
        rule(to_tensor(inputs), normalize, jit=False, **kwargs)
