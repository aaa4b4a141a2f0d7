// CUDA kernels for the fast-weight memory ops (sum rule = linear attention, delta rule).
//
// Plain C++/CUDA header with no TensorFlow dependency: it is shared by the TensorFlow GPU op
// kernels and by the standalone harness in tf_ops/gpu_harness/.
//
// Layout (as flash-linear-attention): q, k [B, T, H, Dk]; v, o [B, T, H, Dv]; beta [B, T, H];
// states s [B, H, Dk, Dv], z [B, H, Dk]; all row-major and contiguous, all device pointers.
// T is the storage type (float, double, __half, __nv_bfloat16); Acc the state / arithmetic type
// (float for float, __half and __nv_bfloat16; double for double).
//
// Limits: 1 <= key_dim <= kMaxKeyDim, value_dim >= 1, time >= 0, batch * heads >= 0. Other shapes
// return cudaErrorInvalidValue. The caller allocates `workspace` (device memory, need not be
// initialised) of the size returned by the matching *WorkspaceBytes function; 0 bytes means
// nullptr may be passed. The workspace is linear in time: a state checkpoint every kChunk steps
// plus O(T) per-step partial sums; no per-step states are kept.
//
// All launches go to `stream`; launchers return the first CUDA error seen (launch errors
// included), they do not synchronise.
#ifndef FWP_KERAS_TF_OPS_CC_KERNELS_FWP_CUDA_KERNELS_H_
#define FWP_KERAS_TF_OPS_CC_KERNELS_FWP_CUDA_KERNELS_H_

#include <cstddef>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace fwp {
namespace cuda {

struct Dims {
  int batch, time, heads, key_dim, value_dim;
};

// Steps between state checkpoints in the backward pass.
constexpr int kChunk = 64;
// Largest supported key dimension (one warp holds a key column of the state in registers).
constexpr int kMaxKeyDim = 256;

// Sum rule: S_t = S_{t-1} + k_t^T v_t; z_t = z_{t-1} + k_t;
// o_t = q_t S_t, or q_t S_t / (q_t . z_t + eps) when normalize.
template <typename T, typename Acc>
cudaError_t LinearAttentionForward(cudaStream_t stream, const Dims& dims, bool normalize, Acc eps,
                                   const T* q, const T* k, const T* v, const Acc* s0,
                                   const Acc* z0, T* o, Acc* s_final, Acc* z_final,
                                   Acc* workspace);

template <typename T, typename Acc>
cudaError_t LinearAttentionBackward(cudaStream_t stream, const Dims& dims, bool normalize,
                                    Acc eps, const T* q, const T* k, const T* v, const Acc* s0,
                                    const Acc* z0, const T* d_o, const Acc* d_s_final,
                                    const Acc* d_z_final, T* dq, T* dk, T* dv, Acc* d_s0,
                                    Acc* d_z0, Acc* workspace);

// Delta rule: a_t = beta_t, or beta_t / (z_{t-1} . k_t + eps) when normalize;
// S_t = S_{t-1} - a_t k_t^T (k_t S_{t-1}) + beta_t k_t^T v_t; z_t = z_{t-1} + k_t;
// o_t as for the sum rule.
template <typename T, typename Acc>
cudaError_t DeltaRuleForward(cudaStream_t stream, const Dims& dims, bool normalize, Acc eps,
                             const T* q, const T* k, const T* v, const T* beta, const Acc* s0,
                             const Acc* z0, T* o, Acc* s_final, Acc* z_final, Acc* workspace);

template <typename T, typename Acc>
cudaError_t DeltaRuleBackward(cudaStream_t stream, const Dims& dims, bool normalize, Acc eps,
                              const T* q, const T* k, const T* v, const T* beta, const Acc* s0,
                              const Acc* z0, const T* d_o, const Acc* d_s_final,
                              const Acc* d_z_final, T* dq, T* dk, T* dv, T* dbeta, Acc* d_s0,
                              Acc* d_z0, Acc* workspace);

// Workspace sizes in bytes (acc_size = sizeof(Acc)); 0 for the forward ops.
size_t LinearAttentionWorkspaceBytes(const Dims& dims, bool backward, size_t acc_size);
size_t DeltaRuleWorkspaceBytes(const Dims& dims, bool backward, size_t acc_size);

}  // namespace cuda
}  // namespace fwp

#endif  // FWP_KERAS_TF_OPS_CC_KERNELS_FWP_CUDA_KERNELS_H_
