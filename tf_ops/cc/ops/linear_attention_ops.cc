// FwpLinearAttention: the causal sum rule (paper Eq. 17-19) with state in and out; and its gradient.
#include "shape_functions.h"
#include "tensorflow/core/framework/op.h"

REGISTER_OP("FwpLinearAttention")
    .Input("q: T")
    .Input("k: T")
    .Input("v: T")
    .Input("initial_state: S")
    .Input("initial_normalizer: S")
    .Output("output: T")
    .Output("final_state: S")
    .Output("final_normalizer: S")
    FWP_OP_ATTRS
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      return fwp::ForwardShape(c, /*has_beta=*/false);
    })
    .Doc(R"doc(
Causal sum-rule fast weight memory (linear attention), computed chunkwise.

S_t = S_{t-1} + k_t^T v_t, z_t = z_{t-1} + k_t, output_t = q_t S_t, divided by q_t . z_t + eps
when `normalize`. q, k: [B, T, H, Dk]; v: [B, T, H, Dv]; state [B, H, Dk, Dv] and normaliser
[B, H, Dk] in S (the accumulation type).
)doc");

REGISTER_OP("FwpLinearAttentionGrad")
    .Input("q: T")
    .Input("k: T")
    .Input("v: T")
    .Input("initial_state: S")
    .Input("initial_normalizer: S")
    .Input("d_output: T")
    .Input("d_final_state: S")
    .Input("d_final_normalizer: S")
    .Output("dq: T")
    .Output("dk: T")
    .Output("dv: T")
    .Output("d_initial_state: S")
    .Output("d_initial_normalizer: S")
    FWP_OP_ATTRS
    .SetShapeFn([](tensorflow::shape_inference::InferenceContext* c) {
      return fwp::GradientShape(c, /*has_beta=*/false);
    })
    .Doc("Gradient of FwpLinearAttention, recomputing chunk states (no per-step state kept).");
