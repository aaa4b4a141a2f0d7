"""What users pass to the memory programs beyond well-formed float tensors, on every backend:
integers, variables, Python lists, empty axes, non-finite values, bad scalar arguments, one-step
forms without a state. Each result is held against the float64 reference."""

import keras
import numpy as np
import pytest
from keras import ops

import backend_utils as bu
import fwp_keras.ops as fwp

RULES = [bu.LINEAR, bu.DELTA, bu.GATED]
IMPLEMENTATIONS = ["recurrent", "chunked", "auto"]


def _inputs(rule, seed=0, batch=2, length=11, heads=2, dk=4, dv=3, **kwargs):
    rng = np.random.default_rng(seed)
    if dk == 0:  # no features to normalise
        inputs = rule.inputs(rng, batch, length, heads, 1, dv, **kwargs)
        inputs["q"], inputs["k"] = inputs["q"][..., :0], inputs["k"][..., :0]
        state = inputs.get("initial_state")
        if isinstance(state, tuple):
            inputs["initial_state"] = (state[0][:, :, :0], state[1][..., :0])
        elif state is not None:
            inputs["initial_state"] = state[:, :, :0]
        return inputs
    return rule.inputs(rng, batch, length, heads, dk, dv, **kwargs)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("rule", RULES, ids=str)
def test_integer_inputs_are_promoted_to_float(rule, implementation):
    """Integers compute as floats (as keras.ops promotes them); the output is floatx."""
    rng = np.random.default_rng(1)
    inputs = {"q": rng.integers(0, 3, (2, 9, 2, 4)), "k": rng.integers(0, 3, (2, 9, 2, 4)),
              "v": rng.integers(-2, 3, (2, 9, 2, 3))}
    if rule.has_beta:
        inputs["beta"] = rng.integers(0, 2, (2, 9, 2))
    as_int = {name: ops.convert_to_tensor(x.astype("int32")) for name, x in inputs.items()}
    o = rule.op(**as_int, implementation=implementation, chunk_size=4)
    assert bu.dtype_of(o) == keras.backend.floatx()
    bu.assert_close(bu.to_numpy(o), rule.reference(inputs)[0], bu.FWD_TOL, "int32")


@pytest.mark.parametrize("dtype", ["str", "complex64"])
@pytest.mark.parametrize("where", ["q", "v", "beta"])
@pytest.mark.parametrize("rule", RULES, ids=str)
def test_strings_and_complex_numbers_are_clear_errors(rule, where, dtype):
    inputs = _inputs(rule)
    if where not in inputs:
        pytest.skip(f"{rule} takes no {where}")
    inputs[where] = inputs[where].astype(dtype)
    with pytest.raises(ValueError, match=f"`{where}` must hold real numbers"):
        rule.op(**inputs)


@pytest.mark.parametrize("rule", RULES, ids=str)
def test_python_lists_and_keras_variables(rule):
    inputs = _inputs(rule, initial_state=True)
    expected = rule.reference(inputs)
    as_lists = {name: x.tolist() for name, x in inputs.items()}
    bu.assert_close(bu.to_numpy(rule.op(**as_lists, return_state=True, chunk_size=4)),
                    expected, bu.FWD_TOL, "lists")
    as_variables = {name: keras.Variable(x) for name, x in inputs.items()}
    for implementation in IMPLEMENTATIONS:
        out = rule.op(**as_variables, return_state=True, implementation=implementation,
                      chunk_size=4)
        bu.assert_close(bu.to_numpy(out), expected, bu.FWD_TOL, implementation)


@pytest.mark.skipif(bu.BACKEND != "tensorflow", reason="tf.Variable is TensorFlow's")
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("rule", RULES, ids=str)
def test_tf_variables(rule, implementation):
    import tensorflow as tf

    normalize = rule.has_normalize
    inputs = _inputs(rule, initial_state=True, normalize=normalize)
    variables = {name: tf.nest.map_structure(tf.Variable, x) for name, x in inputs.items()}
    out = rule(variables, normalize, return_state=True, implementation=implementation,
               chunk_size=4)
    bu.assert_close(bu.to_numpy(out), rule.reference(inputs, normalize), bu.FWD_TOL)


EMPTY_SHAPES = {  # (batch, length, heads, dk, dv)
    "B0": (0, 7, 2, 4, 3),
    "T0": (2, 0, 2, 4, 3),
    "H0": (2, 7, 0, 4, 3),
    "Dk0": (2, 7, 2, 0, 3),
    "Dv0": (2, 7, 2, 4, 0),
}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("shape", EMPTY_SHAPES)
@pytest.mark.parametrize("rule", RULES, ids=str)
def test_empty_axes(rule, shape, implementation):
    """Zero-sized batch, time, head or feature axes give the reference's (empty) results."""
    batch, length, heads, dk, dv = EMPTY_SHAPES[shape]
    for normalize in ([False, True] if rule.has_normalize else [False]):
        inputs = _inputs(rule, batch=batch, length=length, heads=heads, dk=dk, dv=dv,
                         initial_state=True, normalize=normalize)
        o, state = rule(inputs, normalize, return_state=True, implementation=implementation,
                        chunk_size=4)
        expected_o, expected_state = rule.reference(inputs, normalize)
        assert tuple(o.shape) == expected_o.shape
        bu.assert_close(bu.to_numpy(state), expected_state, bu.FWD_TOL, shape)
        np.testing.assert_allclose(bu.to_numpy(o), expected_o, atol=1e-6)


@pytest.mark.parametrize("where", ["k", "v", "beta", "q"])
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("rule", RULES, ids=str)
def test_non_finite_input_stays_causal(rule, implementation, where):
    """A NaN / inf at step t leaves the outputs before t as the sequence cut at t gives them;
    a bad write makes every output from t on non-finite (as the recurrence does), a bad query
    only its own output."""
    if where == "beta" and not rule.has_beta:
        pytest.skip("the sum rule has no beta")
    normalize = rule.has_normalize
    t, length = 21, 40  # t inside a chunk of 16 (and of the op's tiles of 32)
    inputs = _inputs(rule, length=length, normalize=normalize, initial_state=True)
    bad = {name: (x.copy() if name != "initial_state" else x) for name, x in inputs.items()}
    bad[where][0, t] = np.nan
    bad[where][1, t] = np.inf
    o, state = rule(bad, normalize, return_state=True, implementation=implementation,
                    chunk_size=16)
    o = bu.to_numpy(o)
    prefix = {name: x[:, :t] if name != "initial_state" else x for name, x in inputs.items()}
    bu.assert_close(o[:, :t], rule.reference(prefix, normalize)[0], bu.FWD_TOL, "before t")
    assert not np.isfinite(o[:, t]).any()
    if where == "q":
        suffix_ok = rule.reference(inputs, normalize)[0][:, t + 1:]
        bu.assert_close(o[:, t + 1:], suffix_ok, bu.FWD_TOL, "after a bad read")
        assert all(np.isfinite(s).all() for _, s in bu.leaves_with_paths(bu.to_numpy(state)))
    else:
        assert not np.isfinite(o[:, t:]).any()
        s, z = state if isinstance(state, tuple) else (state, None)
        assert not np.isfinite(bu.to_numpy(s)).any()
        if z is not None:  # the key sum z sees only the keys, as in the recurrence
            with np.errstate(invalid="ignore", over="ignore"):  # NumPy on NaN and inf
                expected_z = rule.reference(bad, normalize)[1][1]
            finite = np.isfinite(expected_z)
            assert finite.all() == (where != "k")
            np.testing.assert_array_equal(np.isfinite(bu.to_numpy(z)), finite)
            bu.assert_close(bu.to_numpy(z)[finite], expected_z[finite], bu.FWD_TOL, "z")


@pytest.mark.parametrize("eps", [-1e-6, float("nan"), float("inf"), None, "1e-6", True])
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_bad_eps_is_rejected_by_every_form(eps, implementation):
    inputs = _inputs(bu.DELTA)
    for rule in (bu.LINEAR, bu.DELTA):
        x = {name: v for name, v in inputs.items() if rule.has_beta or name != "beta"}
        with pytest.raises(ValueError, match="`eps` must be a finite number >= 0"):
            rule(x, jit=False, implementation=implementation, eps=eps)
        step = [ops.convert_to_tensor(x[name][:, 0]) for name in ("q", "k", "v", "beta")
                if name in x]
        with pytest.raises(ValueError, match="`eps`"):
            rule.step(*step, ops.zeros((2, 2, 4, 3)), eps=eps)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_numpy_integer_sizes_and_flags(implementation):
    """NumPy scalars as sizes and flags, also where they become the custom op's attributes."""
    for normalize in (np.False_, np.True_):
        inputs = _inputs(bu.DELTA, normalize=bool(normalize))
        expected = bu.DELTA.reference(inputs, bool(normalize))
        out = fwp.delta_rule(**inputs, implementation=implementation, chunk_size=np.int64(5),
                             normalize=normalize, return_state=np.True_)
        bu.assert_close(bu.to_numpy(out), expected, bu.FWD_TOL)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(causal="yes"), "`causal` must be True or False"),
        (dict(normalize=1), "`normalize` must be True or False"),
        (dict(chunk_size=2.0), "`chunk_size` must be an integer >= 1"),
        (dict(implementation=None), "`implementation` must be one of"),
        (dict(return_state="yes"), "`return_state` must be True or False"),
    ],
)
def test_bad_flags(kwargs, match):
    inputs = _inputs(bu.LINEAR)
    with pytest.raises(ValueError, match=match):
        fwp.linear_attention(**inputs, **kwargs)


@pytest.mark.parametrize("rule", RULES, ids=str)
def test_step_needs_a_state_of_the_right_structure(rule):
    rng = np.random.default_rng(2)
    b, h, dk, dv = 2, 2, 2, 2  # square shapes: S: [2, 2, 2, 2] has the rank of nothing else
    step = [bu.to_tensor(rng.standard_normal(shape).astype("float32"))
            for shape in ((b, h, dk), (b, h, dk), (b, h, dv))]
    if rule.has_beta:
        step.append(bu.to_tensor(np.full((b, h), 0.5, "float32")))
    s = bu.to_tensor(np.zeros((b, h, dk, dv), "float32"))
    with pytest.raises(ValueError, match="`state` is required"):
        rule.step(*step, None)
    if rule.has_normalize:
        with pytest.raises(ValueError, match=r"`state` is the tuple \(S, z\)"):
            rule.step(*step, s, normalize=True)
        with pytest.raises(ValueError, match="`state` is one tensor"):
            rule.step(*step, (s, s[..., 0]), normalize=False)
    with pytest.raises(ValueError, match="`q` of a one-step form must have rank 3"):
        rule.step(step[0][:, None], *step[1:], s)
    with pytest.raises(ValueError, match=r"`state` must have shape"):
        rule.step(*step, s[:, :1])
