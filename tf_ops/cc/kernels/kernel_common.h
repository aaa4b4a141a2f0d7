// Shared by the CPU and GPU kernels: input and attribute checks, output allocation.
#ifndef FWP_KERAS_TF_OPS_CC_KERNELS_KERNEL_COMMON_H_
#define FWP_KERAS_TF_OPS_CC_KERNELS_KERNEL_COMMON_H_

#include <cmath>
#include <cstdint>
#include <utility>

#include "chunked_rule.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"

namespace fwp {

using tensorflow::OpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;
using tensorflow::TensorShape;

// B, T, H, Dk, Dv of a call, after its inputs were checked.
struct CallDims {
  int64_t batch, time, heads, key_dim, value_dim;
  TensorShape Output() const { return TensorShape({batch, time, heads, value_dim}); }
  TensorShape Keys() const { return TensorShape({batch, time, heads, key_dim}); }
  TensorShape Beta() const { return TensorShape({batch, time, heads}); }
  TensorShape State() const { return TensorShape({batch, heads, key_dim, value_dim}); }
  TensorShape Normalizer() const { return TensorShape({batch, heads, key_dim}); }
};

inline tensorflow::Status ExpectShape(const char* name, const Tensor& t, const TensorShape& want,
                                      const char* layout) {
  if (t.shape() == want) return tensorflow::Status();
  return tensorflow::errors::InvalidArgument("`", name, "` must have shape ", want.DebugString(),
                                             " (", layout, "), got ", t.shape().DebugString());
}

// Checks q, k, v, [beta], initial_state, initial_normalizer (inputs 0.. of the op).
inline tensorflow::Status CheckForwardInputs(OpKernelContext* ctx, bool has_beta, CallDims* dims) {
  const Tensor &q = ctx->input(0), &k = ctx->input(1), &v = ctx->input(2);
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"q", &q}, {"k", &k},
                                {"v", &v}}) {
    if (t->dims() != 4) {
      return tensorflow::errors::InvalidArgument(
          "`", name, "` must have rank 4, [batch, time, heads, dim], got shape ",
          t->shape().DebugString());
    }
  }
  *dims = {q.dim_size(0), q.dim_size(1), q.dim_size(2), q.dim_size(3), v.dim_size(3)};
  TF_RETURN_IF_ERROR(ExpectShape("k", k, dims->Keys(), "the shape of q, [B, T, H, Dk]"));
  TF_RETURN_IF_ERROR(ExpectShape(
      "v", v, dims->Output(), "[B, T, H, Dv] with B, T, H of q"));
  int next = 3;
  if (has_beta) {
    TF_RETURN_IF_ERROR(ExpectShape("beta", ctx->input(next++), dims->Beta(), "[B, T, H]"));
  }
  TF_RETURN_IF_ERROR(
      ExpectShape("initial_state", ctx->input(next), dims->State(), "[B, H, Dk, Dv]"));
  TF_RETURN_IF_ERROR(
      ExpectShape("initial_normalizer", ctx->input(next + 1), dims->Normalizer(), "[B, H, Dk]"));
  return tensorflow::Status();
}

// Reads the shared attributes; eps must be finite and non-negative.
inline void ReadOptions(OpKernelConstruction* ctx, bool delta, RuleOptions* opt) {
  float eps;
  tensorflow::int64 chunk_size;
  OP_REQUIRES_OK(ctx, ctx->GetAttr("normalize", &opt->normalize));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("eps", &eps));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("chunk_size", &chunk_size));
  OP_REQUIRES(ctx, std::isfinite(eps) && eps >= 0,
              tensorflow::errors::InvalidArgument(
                  "`eps` must be a finite number >= 0, got ", eps));
  opt->delta = delta;
  opt->eps = eps;
  opt->chunk_size = chunk_size;
}

// Checks d_output, d_final_state, d_final_normalizer (inputs first_grad..) of a gradient op.
inline tensorflow::Status CheckCotangents(OpKernelContext* ctx, int first_grad,
                                          const CallDims& dims) {
  TF_RETURN_IF_ERROR(ExpectShape("d_output", ctx->input(first_grad), dims.Output(),
                                 "the output's shape [B, T, H, Dv]"));
  TF_RETURN_IF_ERROR(ExpectShape("d_final_state", ctx->input(first_grad + 1), dims.State(),
                                 "[B, H, Dk, Dv]"));
  return ExpectShape("d_final_normalizer", ctx->input(first_grad + 2), dims.Normalizer(),
                     "[B, H, Dk]");
}

// Input positions: q, k, v, [beta], initial_state, initial_normalizer, then a gradient op's
// d_output, d_final_state, d_final_normalizer.
inline int StateInput(bool has_beta) { return has_beta ? 4 : 3; }
inline int FirstCotangent(bool has_beta) { return StateInput(has_beta) + 2; }

// A gradient op's inputs: the forward inputs, then the cotangents of the forward outputs.
inline tensorflow::Status CheckGradientInputs(OpKernelContext* ctx, bool has_beta,
                                              CallDims* dims) {
  TF_RETURN_IF_ERROR(CheckForwardInputs(ctx, has_beta, dims));
  return CheckCotangents(ctx, FirstCotangent(has_beta), *dims);
}

struct ForwardOutputs {
  Tensor *output, *final_state, *final_normalizer;
};

inline tensorflow::Status AllocateForwardOutputs(OpKernelContext* ctx, const CallDims& dims,
                                                 ForwardOutputs* out) {
  TF_RETURN_IF_ERROR(ctx->allocate_output(0, dims.Output(), &out->output));
  TF_RETURN_IF_ERROR(ctx->allocate_output(1, dims.State(), &out->final_state));
  return ctx->allocate_output(2, dims.Normalizer(), &out->final_normalizer);
}

struct GradientOutputs {
  Tensor *dq, *dk, *dv, *dbeta = nullptr, *d_state, *d_normalizer;
};

inline tensorflow::Status AllocateGradientOutputs(OpKernelContext* ctx, const CallDims& dims,
                                                  bool has_beta, GradientOutputs* out) {
  int next = 0;
  TF_RETURN_IF_ERROR(ctx->allocate_output(next++, dims.Keys(), &out->dq));
  TF_RETURN_IF_ERROR(ctx->allocate_output(next++, dims.Keys(), &out->dk));
  TF_RETURN_IF_ERROR(ctx->allocate_output(next++, dims.Output(), &out->dv));
  if (has_beta) TF_RETURN_IF_ERROR(ctx->allocate_output(next++, dims.Beta(), &out->dbeta));
  TF_RETURN_IF_ERROR(ctx->allocate_output(next++, dims.State(), &out->d_state));
  return ctx->allocate_output(next++, dims.Normalizer(), &out->d_normalizer);
}

}  // namespace fwp

#endif  // FWP_KERAS_TF_OPS_CC_KERNELS_KERNEL_COMMON_H_
