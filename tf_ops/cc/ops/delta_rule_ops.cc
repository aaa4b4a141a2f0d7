// FwpDeltaRule: the delta rule (paper Eq. 20-28) with state in and out; and its gradient.
#include "shape_functions.h"
#include "tensorflow/core/framework/op.h"

REGISTER_OP("FwpDeltaRule")
    .Input("q: T")
    .Input("k: T")
    .Input("v: T")
    .Input("beta: T")
    .Input("initial_state: S")
    .Input("initial_normalizer: S")
    .Output("output: T")
    .Output("final_state: S")
    .Output("final_normalizer: S")
    FWP_OP_ATTRS
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      return fwp::ForwardShape(c, /*has_beta=*/true);
    })
    .Doc(R"doc(
Delta-rule fast weight memory, computed chunkwise (WY / UT form).

a_t = beta_t, or beta_t / (z_{t-1} . k_t + eps) when `normalize`;
S_t = S_{t-1} - a_t k_t^T (k_t S_{t-1}) + beta_t k_t^T v_t, z_t = z_{t-1} + k_t,
output_t = q_t S_t, divided by q_t . z_t + eps when `normalize`. beta: [B, T, H].
)doc");

REGISTER_OP("FwpDeltaRuleGrad")
    .Input("q: T")
    .Input("k: T")
    .Input("v: T")
    .Input("beta: T")
    .Input("initial_state: S")
    .Input("initial_normalizer: S")
    .Input("d_output: T")
    .Input("d_final_state: S")
    .Input("d_final_normalizer: S")
    .Output("dq: T")
    .Output("dk: T")
    .Output("dv: T")
    .Output("dbeta: T")
    .Output("d_initial_state: S")
    .Output("d_initial_normalizer: S")
    FWP_OP_ATTRS
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      return fwp::GradientShape(c, /*has_beta=*/true);
    })
    .Doc("Gradient of FwpDeltaRule, recomputing chunk states (no per-step state kept).");
