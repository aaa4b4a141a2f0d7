// The CPU kernels of the four Fwp ops: input checks, then the chunked program of chunked_rule.h
// for every (batch, head) pair, in parallel on TensorFlow's intra-op thread pool.
#ifndef FWP_KERAS_TF_OPS_CC_KERNELS_FWP_CPU_KERNEL_H_
#define FWP_KERAS_TF_OPS_CC_KERNELS_FWP_CPU_KERNEL_H_


#include "chunked_rule.h"
#include "kernel_common.h"
#include "tensor_head_io.h"
#include "tensorflow/core/util/work_sharder.h"

namespace fwp {

// Runs fn(layout) for every (batch, head) pair on the intra-op thread pool.
template <typename Fn>
void ForEachHead(OpKernelContext* ctx, const CallDims& dims, const Fn& fn) {
  const auto* workers = ctx->device()->tensorflow_cpu_worker_threads();
  // Work per head, in flops of the chunk matmuls: it tells Shard that every head is worth a thread.
  const int64_t cost = 8 * std::max<int64_t>(dims.time, 1) * (dims.key_dim + 64) *
                       (dims.value_dim + 64);
  tensorflow::Shard(workers->num_threads, workers->workers, dims.batch * dims.heads, cost,
                    [&](int64_t first, int64_t last) {
                      for (int64_t bh = first; bh < last; ++bh) {
                        fn(HeadLayout{dims.time, dims.heads, dims.key_dim, dims.value_dim,
                                      bh / dims.heads, bh % dims.heads});
                      }
                    });
}

template <typename T>
CallTensors<T> InputTensors(OpKernelContext* ctx, bool has_beta) {
  CallTensors<T> tensors{};
  tensors.q = ctx->input(0).flat<T>().data();
  tensors.k = ctx->input(1).flat<T>().data();
  tensors.v = ctx->input(2).flat<T>().data();
  if (has_beta) tensors.beta = ctx->input(3).flat<T>().data();
  return tensors;
}

inline int64_t StateOffset(const HeadLayout& at) {
  return (at.batch_index * at.heads + at.head_index) * at.key_dim * at.value_dim;
}
inline int64_t NormalizerOffset(const HeadLayout& at) {
  return (at.batch_index * at.heads + at.head_index) * at.key_dim;
}

// FwpLinearAttention (delta = false) and FwpDeltaRule (delta = true).
template <typename T, typename Acc, bool kDelta>
class FwpForwardOp : public OpKernel {
 public:
  explicit FwpForwardOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    ReadOptions(ctx, kDelta, &opt_);
  }

  void Compute(OpKernelContext* ctx) override {
    CallDims dims;
    ForwardOutputs outputs;
    OP_REQUIRES_OK(ctx, CheckForwardInputs(ctx, kDelta, &dims));
    OP_REQUIRES_OK(ctx, AllocateForwardOutputs(ctx, dims, &outputs));
    CallTensors<T> tensors = InputTensors<T>(ctx, kDelta);
    tensors.output = outputs.output->flat<T>().data();
    const Acc* s0 = ctx->input(StateInput(kDelta)).flat<Acc>().data();
    const Acc* z0 = ctx->input(StateInput(kDelta) + 1).flat<Acc>().data();
    Acc* s_out = outputs.final_state->flat<Acc>().data();
    Acc* z_out = outputs.final_normalizer->flat<Acc>().data();
    ForEachHead(ctx, dims, [&](const HeadLayout& at) {
      const int64_t so = StateOffset(at), zo = NormalizerOffset(at);
      Matrix<Acc> s = MatrixMap<Acc>(const_cast<Acc*>(s0) + so, at.key_dim, at.value_dim);
      Vector<Acc> z = VectorMap<Acc>(const_cast<Acc*>(z0) + zo, at.key_dim);
      ForwardHead<Acc>(TensorHeadIO<T, Acc>(tensors, at), opt_, &s, &z);
      MatrixMap<Acc>(s_out + so, at.key_dim, at.value_dim) = s;
      VectorMap<Acc>(z_out + zo, at.key_dim) = z;
    });
  }

 private:
  RuleOptions opt_;
};

// FwpLinearAttentionGrad (delta = false) and FwpDeltaRuleGrad (delta = true).
template <typename T, typename Acc, bool kDelta>
class FwpGradientOp : public OpKernel {
 public:
  explicit FwpGradientOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    ReadOptions(ctx, kDelta, &opt_);
  }

  void Compute(OpKernelContext* ctx) override {
    CallDims dims;
    GradientOutputs grads;
    OP_REQUIRES_OK(ctx, CheckGradientInputs(ctx, kDelta, &dims));
    OP_REQUIRES_OK(ctx, AllocateGradientOutputs(ctx, dims, kDelta, &grads));
    const int state_input = StateInput(kDelta), first_grad = FirstCotangent(kDelta);
    CallTensors<T> tensors = InputTensors<T>(ctx, kDelta);
    tensors.d_output = ctx->input(first_grad).flat<T>().data();
    tensors.dq = grads.dq->flat<T>().data();
    tensors.dk = grads.dk->flat<T>().data();
    tensors.dv = grads.dv->flat<T>().data();
    if (kDelta) tensors.dbeta = grads.dbeta->flat<T>().data();
    const Acc* s0 = ctx->input(state_input).flat<Acc>().data();
    const Acc* z0 = ctx->input(state_input + 1).flat<Acc>().data();
    const Acc* ds_final = ctx->input(first_grad + 1).flat<Acc>().data();
    const Acc* dz_final = ctx->input(first_grad + 2).flat<Acc>().data();
    Acc* ds_out = grads.d_state->flat<Acc>().data();
    Acc* dz_out = grads.d_normalizer->flat<Acc>().data();
    ForEachHead(ctx, dims, [&](const HeadLayout& at) {
      const int64_t so = StateOffset(at), zo = NormalizerOffset(at);
      auto load_matrix = [&](const Acc* base) {
        return Matrix<Acc>(MatrixMap<Acc>(const_cast<Acc*>(base) + so, at.key_dim, at.value_dim));
      };
      auto load_vector = [&](const Acc* base) {
        return Vector<Acc>(VectorMap<Acc>(const_cast<Acc*>(base) + zo, at.key_dim));
      };
      Matrix<Acc> ds = load_matrix(ds_final);
      Vector<Acc> dz = load_vector(dz_final);
      BackwardHead<Acc>(TensorHeadIO<T, Acc>(tensors, at), opt_, load_matrix(s0), load_vector(z0),
                        &ds, &dz);
      MatrixMap<Acc>(ds_out + so, at.key_dim, at.value_dim) = ds;
      VectorMap<Acc>(dz_out + zo, at.key_dim) = dz;
    });
  }

 private:
  RuleOptions opt_;
};

// A state type that does not go with the input type: a clear InvalidArgument instead of
// TensorFlow's "no registered kernel".
class FwpDtypeMismatchOp : public OpKernel {
 public:
  explicit FwpDtypeMismatchOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    ctx->CtxFailure(tensorflow::errors::InvalidArgument(
        "the state (`initial_state`, `initial_normalizer`) must be float64 when q, k, v are "
        "float64 and float32 otherwise; got q: ",
        tensorflow::DataTypeString(ctx->input_dtype(0)),
        ", initial_state: ", tensorflow::DataTypeString(ctx->input_dtype(StateInput(HasBeta(ctx))))));
  }

 private:
  // FwpDeltaRule has 6 inputs and its gradient 9; the sum rule's ops 5 and 8.
  static bool HasBeta(OpKernelContext* ctx) {
    return ctx->num_inputs() == 6 || ctx->num_inputs() == 9;
  }
};

#define FWP_REGISTER_CPU_KERNEL(name, T, S, ...)                                            \
  REGISTER_KERNEL_BUILDER(                                                                  \
      Name(name).Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T").TypeConstraint<S>("S"), \
      __VA_ARGS__)

// Registers the CPU kernels of op `name` (kernel class template `Op`): every input type T with
// the float32 state, float64 with the float64 state, and a clear error for the other pairs.
#define FWP_REGISTER_CPU_KERNELS(name, Op, delta)                                      \
  FWP_REGISTER_CPU_KERNEL(name, Eigen::half, float, Op<Eigen::half, float, delta>);     \
  FWP_REGISTER_CPU_KERNEL(name, Eigen::bfloat16, float, Op<Eigen::bfloat16, float, delta>); \
  FWP_REGISTER_CPU_KERNEL(name, float, float, Op<float, float, delta>);                 \
  FWP_REGISTER_CPU_KERNEL(name, double, double, Op<double, double, delta>);             \
  FWP_REGISTER_CPU_KERNEL(name, Eigen::half, double, FwpDtypeMismatchOp);               \
  FWP_REGISTER_CPU_KERNEL(name, Eigen::bfloat16, double, FwpDtypeMismatchOp);           \
  FWP_REGISTER_CPU_KERNEL(name, float, double, FwpDtypeMismatchOp);                     \
  FWP_REGISTER_CPU_KERNEL(name, double, float, FwpDtypeMismatchOp)

}  // namespace fwp

#endif  // FWP_KERAS_TF_OPS_CC_KERNELS_FWP_CPU_KERNEL_H_
