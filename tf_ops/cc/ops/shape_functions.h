// Shape functions of the Fwp ops: they check ranks and matching dimensions when a graph is built
// (the kernels check again at run time, when shapes may have been unknown).
#ifndef FWP_KERAS_TF_OPS_CC_OPS_SHAPE_FUNCTIONS_H_
#define FWP_KERAS_TF_OPS_CC_OPS_SHAPE_FUNCTIONS_H_

#include "tensorflow/core/framework/shape_inference.h"

namespace fwp {

// Forward: inputs q, k, v, [beta], initial_state, initial_normalizer;
// outputs output [B, T, H, Dv], final_state [B, H, Dk, Dv], final_normalizer [B, H, Dk].
tensorflow::Status ForwardShape(tensorflow::shape_inference::InferenceContext* c, bool has_beta);

// Gradient: the forward inputs, then d_output, d_final_state, d_final_normalizer; outputs the
// gradients of the forward inputs, shaped like them.
tensorflow::Status GradientShape(tensorflow::shape_inference::InferenceContext* c, bool has_beta);

}  // namespace fwp

#endif  // FWP_KERAS_TF_OPS_CC_OPS_SHAPE_FUNCTIONS_H_
