// GPU kernels of the four Fwp ops: the same checks as on the CPU, then the CUDA launchers of
// fwp_cuda_kernels.cu.cc on the op's stream. Compiled (with GOOGLE_CUDA=1) only where nvcc is;
// elsewhere this file is empty.
#if GOOGLE_CUDA

#include <limits>

#include "fwp_cuda_kernels.h"
#include "kernel_common.h"
#include "tensorflow/core/framework/types.h"
#include "xla/stream_executor/stream.h"

namespace fwp {
namespace {

cudaStream_t GpuStream(OpKernelContext* ctx) {
  return reinterpret_cast<cudaStream_t>(
      ctx->op_device_context()->stream()->platform_specific_handle().stream);
}

// TensorFlow's half types and CUDA's share their bit layout.
template <typename T>
struct CudaType { using type = T; };
template <>
struct CudaType<Eigen::half> { using type = __half; };
template <>
struct CudaType<Eigen::bfloat16> { using type = __nv_bfloat16; };

template <typename T>
const typename CudaType<T>::type* Device(const Tensor& t) {
  return reinterpret_cast<const typename CudaType<T>::type*>(t.flat<T>().data());
}
template <typename T>
typename CudaType<T>::type* Device(Tensor* t) {
  return reinterpret_cast<typename CudaType<T>::type*>(t->flat<T>().data());
}

// The launchers index with int and keep a key row in registers (Dk <= kMaxKeyDim).
tensorflow::Status CheckGpuLimits(const CallDims& d) {
  const int64_t largest = std::max(d.batch * d.time * d.heads * std::max(d.key_dim, d.value_dim),
                                   d.batch * d.heads * d.key_dim * d.value_dim);
  if (largest > std::numeric_limits<int>::max()) {
    return tensorflow::errors::InvalidArgument(
        "the GPU kernels index with 32-bit integers; got a tensor of ", largest, " elements");
  }
  if (d.key_dim > cuda::kMaxKeyDim) {
    return tensorflow::errors::InvalidArgument("the GPU kernels take Dk <= ", cuda::kMaxKeyDim,
                                               ", got Dk = ", d.key_dim);
  }
  return tensorflow::Status();
}

tensorflow::Status CudaStatus(cudaError_t error) {
  if (error == cudaSuccess) return tensorflow::Status();
  return tensorflow::errors::Internal("CUDA error in an Fwp kernel: ", cudaGetErrorString(error));
}

template <typename Acc>
Acc* Workspace(OpKernelContext* ctx, size_t bytes, Tensor* storage,
               tensorflow::Status* status) {
  if (bytes == 0) return nullptr;
  *status = ctx->allocate_temp(tensorflow::DT_INT8, TensorShape({static_cast<int64_t>(bytes)}),
                               storage);
  return status->ok() ? reinterpret_cast<Acc*>(storage->flat<int8_t>().data()) : nullptr;
}

cuda::Dims ToCuda(const CallDims& d) {
  return {static_cast<int>(d.batch), static_cast<int>(d.time), static_cast<int>(d.heads),
          static_cast<int>(d.key_dim), static_cast<int>(d.value_dim)};
}

template <typename T, typename Acc, bool kDelta>
class FwpForwardGpuOp : public OpKernel {
 public:
  explicit FwpForwardGpuOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    ReadOptions(ctx, kDelta, &opt_);
  }

  void Compute(OpKernelContext* ctx) override {
    CallDims dims;
    ForwardOutputs outputs;
    OP_REQUIRES_OK(ctx, CheckForwardInputs(ctx, kDelta, &dims));
    OP_REQUIRES_OK(ctx, CheckGpuLimits(dims));
    OP_REQUIRES_OK(ctx, AllocateForwardOutputs(ctx, dims, &outputs));
    const int state_input = StateInput(kDelta);
    Tensor *o = outputs.output, *s = outputs.final_state, *z = outputs.final_normalizer;
    Tensor storage;
    const cuda::Dims d = ToCuda(dims);
    const size_t bytes = kDelta ? cuda::DeltaRuleWorkspaceBytes(d, false, sizeof(Acc))
                                : cuda::LinearAttentionWorkspaceBytes(d, false, sizeof(Acc));
    tensorflow::Status status;
    Acc* workspace = Workspace<Acc>(ctx, bytes, &storage, &status);
    OP_REQUIRES_OK(ctx, status);
    const Acc eps = static_cast<Acc>(opt_.eps);
    const Acc* s0 = ctx->input(state_input).flat<Acc>().data();
    const Acc* z0 = ctx->input(state_input + 1).flat<Acc>().data();
    cudaError_t error;
    if constexpr (kDelta) {
      error = cuda::DeltaRuleForward(GpuStream(ctx), d, opt_.normalize, eps, Device<T>(ctx->input(0)),
                                     Device<T>(ctx->input(1)), Device<T>(ctx->input(2)),
                                     Device<T>(ctx->input(3)), s0, z0, Device<T>(o),
                                     s->flat<Acc>().data(), z->flat<Acc>().data(), workspace);
    } else {
      error = cuda::LinearAttentionForward(GpuStream(ctx), d, opt_.normalize, eps,
                                           Device<T>(ctx->input(0)), Device<T>(ctx->input(1)),
                                           Device<T>(ctx->input(2)), s0, z0, Device<T>(o),
                                           s->flat<Acc>().data(), z->flat<Acc>().data(),
                                           workspace);
    }
    OP_REQUIRES_OK(ctx, CudaStatus(error));
  }

 private:
  RuleOptions opt_;
};

template <typename T, typename Acc, bool kDelta>
class FwpGradientGpuOp : public OpKernel {
 public:
  explicit FwpGradientGpuOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    ReadOptions(ctx, kDelta, &opt_);
  }

  void Compute(OpKernelContext* ctx) override {
    CallDims dims;
    GradientOutputs grads;
    OP_REQUIRES_OK(ctx, CheckGradientInputs(ctx, kDelta, &dims));
    OP_REQUIRES_OK(ctx, CheckGpuLimits(dims));
    OP_REQUIRES_OK(ctx, AllocateGradientOutputs(ctx, dims, kDelta, &grads));
    const int state_input = StateInput(kDelta), first_grad = FirstCotangent(kDelta);
    Tensor *dq = grads.dq, *dk = grads.dk, *dv = grads.dv, *dbeta = grads.dbeta;
    Tensor *ds0 = grads.d_state, *dz0 = grads.d_normalizer, storage;
    const cuda::Dims d = ToCuda(dims);
    const size_t bytes = kDelta ? cuda::DeltaRuleWorkspaceBytes(d, true, sizeof(Acc))
                                : cuda::LinearAttentionWorkspaceBytes(d, true, sizeof(Acc));
    tensorflow::Status status;
    Acc* workspace = Workspace<Acc>(ctx, bytes, &storage, &status);
    OP_REQUIRES_OK(ctx, status);
    const Acc eps = static_cast<Acc>(opt_.eps);
    const Acc* s0 = ctx->input(state_input).flat<Acc>().data();
    const Acc* z0 = ctx->input(state_input + 1).flat<Acc>().data();
    const Acc* ds = ctx->input(first_grad + 1).flat<Acc>().data();
    const Acc* dz = ctx->input(first_grad + 2).flat<Acc>().data();
    cudaError_t error;
    if constexpr (kDelta) {
      error = cuda::DeltaRuleBackward(
          GpuStream(ctx), d, opt_.normalize, eps, Device<T>(ctx->input(0)),
          Device<T>(ctx->input(1)), Device<T>(ctx->input(2)), Device<T>(ctx->input(3)), s0, z0,
          Device<T>(ctx->input(first_grad)), ds, dz, Device<T>(dq), Device<T>(dk), Device<T>(dv),
          Device<T>(dbeta), ds0->flat<Acc>().data(), dz0->flat<Acc>().data(), workspace);
    } else {
      error = cuda::LinearAttentionBackward(
          GpuStream(ctx), d, opt_.normalize, eps, Device<T>(ctx->input(0)),
          Device<T>(ctx->input(1)), Device<T>(ctx->input(2)), s0, z0,
          Device<T>(ctx->input(first_grad)), ds, dz, Device<T>(dq), Device<T>(dk), Device<T>(dv),
          ds0->flat<Acc>().data(), dz0->flat<Acc>().data(), workspace);
    }
    OP_REQUIRES_OK(ctx, CudaStatus(error));
  }

 private:
  RuleOptions opt_;
};

#define FWP_REGISTER_GPU_KERNEL(name, Op, T, S, delta)                                     \
  REGISTER_KERNEL_BUILDER(                                                                 \
      Name(name).Device(tensorflow::DEVICE_GPU).TypeConstraint<T>("T").TypeConstraint<S>("S"), \
      Op<T, S, delta>)
#define FWP_REGISTER_GPU_KERNELS(name, Op, delta)                      \
  FWP_REGISTER_GPU_KERNEL(name, Op, Eigen::half, float, delta);        \
  FWP_REGISTER_GPU_KERNEL(name, Op, Eigen::bfloat16, float, delta);    \
  FWP_REGISTER_GPU_KERNEL(name, Op, float, float, delta);              \
  FWP_REGISTER_GPU_KERNEL(name, Op, double, double, delta)

FWP_REGISTER_GPU_KERNELS("FwpLinearAttention", FwpForwardGpuOp, false);
FWP_REGISTER_GPU_KERNELS("FwpLinearAttentionGrad", FwpGradientGpuOp, false);
FWP_REGISTER_GPU_KERNELS("FwpDeltaRule", FwpForwardGpuOp, true);
FWP_REGISTER_GPU_KERNELS("FwpDeltaRuleGrad", FwpGradientGpuOp, true);

}  // namespace
}  // namespace fwp

#endif  // GOOGLE_CUDA
