// Shared attributes and shape functions of the Fwp ops. The shape functions check ranks and
// matching dimensions when a graph is built (the kernels check again at run time, when shapes may
// have been unknown).
#ifndef FWP_KERAS_TF_OPS_CC_OPS_SHAPE_FUNCTIONS_H_
#define FWP_KERAS_TF_OPS_CC_OPS_SHAPE_FUNCTIONS_H_

#include "tensorflow/core/framework/shape_inference.h"

// The attributes every Fwp op and its gradient share: input type T, state/accumulation type S
// (float32, float64 for float64 inputs), attention normalisation, eps, and the kernels' tile.
#define FWP_OP_ATTRS                          \
  .Attr("T: {half, bfloat16, float, double}") \
      .Attr("S: {float, double}")             \
      .Attr("normalize: bool = false")        \
      .Attr("eps: float = 1e-6")              \
      .Attr("chunk_size: int >= 1 = 32")

namespace fwp {

// Forward: inputs q, k, v, [beta], initial_state, initial_normalizer;
// outputs output [B, T, H, Dv], final_state [B, H, Dk, Dv], final_normalizer [B, H, Dk].
tensorflow::Status ForwardShape(tensorflow::shape_inference::InferenceContext* c, bool has_beta);

// Gradient: the forward inputs, then d_output, d_final_state, d_final_normalizer; outputs the
// gradients of the forward inputs, shaped like them.
tensorflow::Status GradientShape(tensorflow::shape_inference::InferenceContext* c, bool has_beta);

}  // namespace fwp

#endif  // FWP_KERAS_TF_OPS_CC_OPS_SHAPE_FUNCTIONS_H_
