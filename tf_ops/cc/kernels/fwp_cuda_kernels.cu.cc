// CUDA kernels for the sum rule (linear attention) and the delta rule; see fwp_cuda_kernels.h.
//
// Design (recurrent, correctness first):
// * One thread block per (batch*head, tile of kTileCols = kWarps * CPW value columns). Warp w owns
//   CPW columns of the state; lane l owns rows l, l+32, ... (NR rows, Dk <= 32 * NR). So a warp
//   holds S[:, its columns] in registers and every reduction over the key dimension (k S, q S,
//   z . k, q . z) is a warp shuffle. Columns are independent in the forward, so warps never wait
//   for each other there. Quantities that only depend on rows (z, a_t, the normaliser) are
//   computed redundantly by every warp, with identical instruction sequences, hence bit-identical.
// * Backward: a forward sweep stores (S, z) every kChunk steps in the workspace; the reverse sweep
//   recomputes each chunk from its checkpoint (keeping the chunk's per-step retrievals u_t and
//   vbar_t, vectors of the warp's columns, in shared memory), then walks the chunk backwards,
//   reverting S_t -> S_{t-1} = S_t - k_t^T u_t with the stored u_t. That revert is an additive
//   update with identity Jacobian in S, so rounding errors add up over at most kChunk - 1 steps
//   (<= kChunk ulps of max |S|) and are never amplified; the chunk's first step uses the exact
//   checkpoint. The only place the revert error is scaled is a_t S_{t-1} du_t in dk_t, where it
//   is relative to a_t |S_{t-1}| unless S_{t-1} ~ 0 with a_t huge: that is t = 1 with z0 = 0
//   (a_1 = beta/eps), and S_0 is a checkpoint.
// * Per-step sums over value columns (rows of dq and dk, the scalars for dbeta and the
//   normalisers) are reduced across warps in shared memory and written per tile to the
//   workspace; small follow-up kernels add the tiles in a fixed order (deterministic, no atomics)
//   and apply the z-gradient, a prefix sum over time done chunk-parallel.
#include "fwp_cuda_kernels.h"

#include <cstdint>
#include <type_traits>

namespace fwp {
namespace cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kWarps = 8;  // warps per block
constexpr int kThreads = kWarps * kWarp;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr size_t kAlign = 256;

// ---------------------------------------------------------------------------------------------
// Type conversion.
template <typename Acc, typename T>
__device__ __forceinline__ Acc LoadAs(const T* p, int64_t i) {
  return static_cast<Acc>(p[i]);
}
template <>
__device__ __forceinline__ float LoadAs<float, __half>(const __half* p, int64_t i) {
  return __half2float(p[i]);
}
template <>
__device__ __forceinline__ float LoadAs<float, __nv_bfloat16>(const __nv_bfloat16* p, int64_t i) {
  return __bfloat162float(p[i]);
}

template <typename T, typename Acc>
__device__ __forceinline__ void StoreAs(T* p, int64_t i, Acc x) {
  p[i] = static_cast<T>(x);
}
template <>
__device__ __forceinline__ void StoreAs<__half, float>(__half* p, int64_t i, float x) {
  p[i] = __float2half_rn(x);
}
template <>
__device__ __forceinline__ void StoreAs<__nv_bfloat16, float>(__nv_bfloat16* p, int64_t i,
                                                              float x) {
  p[i] = __float2bfloat16_rn(x);
}

// Butterfly all-reduce of N values at once (interleaved for ILP). Every lane ends with the same
// bits: each level adds the same two operands (commutatively) on both partner lanes.
template <int N, typename Acc>
__device__ __forceinline__ void WarpAllSum(Acc (&x)[N]) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset >>= 1) {
#pragma unroll
    for (int n = 0; n < N; ++n) x[n] += __shfl_xor_sync(kFullMask, x[n], offset);
  }
}

// ---------------------------------------------------------------------------------------------
// Launch geometry and workspace layout (shared by host launchers and the *WorkspaceBytes).
int ColsPerWarp(int value_dim) { return value_dim <= 8 ? 1 : (value_dim <= 16 ? 2 : 4); }
int NumTiles(int value_dim) {
  const int tile = kWarps * ColsPerWarp(value_dim);
  return (value_dim + tile - 1) / tile;
}
int RowsPerLane(int key_dim) {
  return key_dim <= 32 ? 1 : (key_dim <= 64 ? 2 : (key_dim <= 128 ? 4 : 8));
}
__host__ __device__ inline int NumChunks(int time) { return (time + kChunk - 1) / kChunk; }

size_t AlignUp(size_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// Byte offsets of the backward workspace regions (all Acc arrays).
struct BackwardLayout {
  size_t ckpt_s;      // [chunks][BH][Dv][Dk]  state at the start of each chunk (column-major)
  size_t ckpt_z;      // [chunks][BH][Dk]      z at the start of each chunk
  size_t nd;          // [BH][T][2]            n_t = z_{t-1}.k_t + eps, d_t = q_t.z_t + eps
  size_t dq_part;     // [tiles][BH][T][Dk]    per-tile sums over columns of S_t dy_t
  size_t dk_part;     // [tiles][BH][T][Dk]    per-tile column sums for dk
  size_t sc_part;     // [tiles][BH][T][3]     per-tile dO.y, du.v, du.vbar
  size_t ddn;         // [BH][T][2]            dL/dd_t, dL/dn_t
  size_t chunk_sums;  // [BH][chunks][Dk]      per-chunk sums of dd_t q_t + dn_t k_t
  size_t total;
};

BackwardLayout MakeBackwardLayout(const Dims& d, size_t acc) {
  const size_t bh = static_cast<size_t>(d.batch) * d.heads;
  const size_t t = d.time, dk = d.key_dim, dv = d.value_dim;
  const size_t chunks = NumChunks(d.time), tiles = NumTiles(d.value_dim);
  BackwardLayout l;
  size_t off = 0;
  auto take = [&](size_t elems) {
    const size_t at = off;
    off += AlignUp(elems * acc);
    return at;
  };
  l.ckpt_s = take(chunks * bh * dv * dk);
  l.ckpt_z = take(chunks * bh * dk);
  l.nd = take(bh * t * 2);
  l.dq_part = take(tiles * bh * t * dk);
  l.dk_part = take(tiles * bh * t * dk);
  l.sc_part = take(tiles * bh * t * 3);
  l.ddn = take(bh * t * 2);
  l.chunk_sums = take(bh * chunks * dk);
  l.total = off;
  return l;
}

bool ValidDims(const Dims& d) {
  return d.batch >= 0 && d.heads >= 0 && d.time >= 0 && d.key_dim >= 1 &&
         d.key_dim <= kMaxKeyDim && d.value_dim >= 1;
}

// ---------------------------------------------------------------------------------------------
// Forward sweep. Also used by the backward to write checkpoints (ckpt_s != nullptr); o, s_final
// and z_final may then be nullptr.
template <typename T, typename Acc, int NR, int CPW, bool kDelta>
__global__ void __launch_bounds__(kThreads)
    ForwardKernel(Dims d, bool normalize, Acc eps, const T* __restrict__ q,
                  const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ beta,
                  const Acc* __restrict__ s0, const Acc* __restrict__ z0, T* __restrict__ o,
                  Acc* __restrict__ s_final, Acc* __restrict__ z_final, Acc* __restrict__ ckpt_s,
                  Acc* __restrict__ ckpt_z) {
  constexpr int kTileCols = kWarps * CPW;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int Dk = d.key_dim, Dv = d.value_dim, H = d.heads, Tn = d.time;
  const int ntiles = (Dv + kTileCols - 1) / kTileCols;
  const int64_t BH = static_cast<int64_t>(d.batch) * H;
  const int64_t bh = blockIdx.x / ntiles;
  const int tile = blockIdx.x % ntiles;
  if (bh >= BH) return;  // uniform over the block
  const int64_t b = bh / H, h = bh % H;

  int col[CPW];
  bool cvalid[CPW];
#pragma unroll
  for (int c = 0; c < CPW; ++c) {
    col[c] = tile * kTileCols + warp * CPW + c;
    cvalid[c] = col[c] < Dv;
  }
  bool rvalid[NR];
#pragma unroll
  for (int m = 0; m < NR; ++m) rvalid[m] = lane + kWarp * m < Dk;

  Acc S[NR][CPW], z[NR];
  const Acc* s0h = s0 + bh * Dk * Dv;
#pragma unroll
  for (int m = 0; m < NR; ++m) {
    const int i = lane + kWarp * m;
    z[m] = rvalid[m] ? z0[bh * Dk + i] : Acc(0);
#pragma unroll
    for (int c = 0; c < CPW; ++c)
      S[m][c] = (rvalid[m] && cvalid[c]) ? s0h[static_cast<int64_t>(i) * Dv + col[c]] : Acc(0);
  }
  const bool owns_z = tile == 0 && warp == 0;

  // Inputs of step t are loaded one step ahead to hide global-memory latency.
  Acc kn[NR], qn[NR], vn[CPW], bn = Acc(1);
  auto load_step = [&](int t) {
    const int64_t row = (b * Tn + t) * H + h;
#pragma unroll
    for (int m = 0; m < NR; ++m) {
      const int i = lane + kWarp * m;
      kn[m] = rvalid[m] ? LoadAs<Acc>(k, row * Dk + i) : Acc(0);
      qn[m] = rvalid[m] ? LoadAs<Acc>(q, row * Dk + i) : Acc(0);
    }
#pragma unroll
    for (int c = 0; c < CPW; ++c) vn[c] = cvalid[c] ? LoadAs<Acc>(v, row * Dv + col[c]) : Acc(0);
    if (kDelta) bn = LoadAs<Acc>(beta, row);
  };
  if (Tn > 0) load_step(0);

  for (int t = 0; t < Tn; ++t) {
    if (ckpt_s != nullptr && t % kChunk == 0) {
      const int64_t chunk = t / kChunk;
#pragma unroll
      for (int m = 0; m < NR; ++m) {
        const int i = lane + kWarp * m;
        if (!rvalid[m]) continue;
#pragma unroll
        for (int c = 0; c < CPW; ++c)
          if (cvalid[c]) ckpt_s[((chunk * BH + bh) * Dv + col[c]) * Dk + i] = S[m][c];
        if (owns_z) ckpt_z[(chunk * BH + bh) * Dk + i] = z[m];
      }
    }
    Acc kk[NR], qq[NR], vv[CPW];
    const Acc bt = bn;
#pragma unroll
    for (int m = 0; m < NR; ++m) kk[m] = kn[m], qq[m] = qn[m];
#pragma unroll
    for (int c = 0; c < CPW; ++c) vv[c] = vn[c];
    if (t + 1 < Tn) load_step(t + 1);

    Acc u[CPW];
    if (kDelta) {
      Acc red[CPW + 1];  // k S_{t-1} per column, z_{t-1} . k
#pragma unroll
      for (int c = 0; c <= CPW; ++c) red[c] = Acc(0);
#pragma unroll
      for (int m = 0; m < NR; ++m) {
#pragma unroll
        for (int c = 0; c < CPW; ++c) red[c] += kk[m] * S[m][c];
        red[CPW] += z[m] * kk[m];
      }
      WarpAllSum(red);
      const Acc a = normalize ? bt / (red[CPW] + eps) : bt;
#pragma unroll
      for (int c = 0; c < CPW; ++c) u[c] = bt * vv[c] - a * red[c];
    } else {
#pragma unroll
      for (int c = 0; c < CPW; ++c) u[c] = vv[c];
    }
#pragma unroll
    for (int m = 0; m < NR; ++m) {
#pragma unroll
      for (int c = 0; c < CPW; ++c) S[m][c] += kk[m] * u[c];
      z[m] += kk[m];
    }
    if (o != nullptr) {
      Acc red[CPW + 1];  // q S_t per column, q . z_t
#pragma unroll
      for (int c = 0; c <= CPW; ++c) red[c] = Acc(0);
#pragma unroll
      for (int m = 0; m < NR; ++m) {
#pragma unroll
        for (int c = 0; c < CPW; ++c) red[c] += qq[m] * S[m][c];
        red[CPW] += qq[m] * z[m];
      }
      WarpAllSum(red);
      const Acc den = normalize ? red[CPW] + eps : Acc(1);
      const int64_t row = (b * Tn + t) * H + h;
#pragma unroll
      for (int c = 0; c < CPW; ++c)
        if (cvalid[c] && lane == c) StoreAs(o, row * Dv + col[c], red[c] / den);
    }
  }

#pragma unroll
  for (int m = 0; m < NR; ++m) {
    const int i = lane + kWarp * m;
    if (!rvalid[m]) continue;
    if (s_final != nullptr) {
#pragma unroll
      for (int c = 0; c < CPW; ++c)
        if (cvalid[c]) s_final[(bh * Dk + i) * Dv + col[c]] = S[m][c];
    }
    if (z_final != nullptr && owns_z) z_final[bh * Dk + i] = z[m];
  }
}

// ---------------------------------------------------------------------------------------------
// Reverse sweep over chunks. Per step t (reverse), with G = dL/dS_t from the future:
//   dy = dO / d_t;  G += q^T dy;  du = k G;  dv = beta du;  S_{t-1} = S_t - k^T u
//   dq_t  <- S_t dy                      (+ dd_t z_t later)
//   dk_t  <- G u^T - a S_{t-1} du^T      (+ z terms later)
//   G_{t-1} = G - a k^T du               (delta rule; the sum rule has a = 0, u = v)
// and the per-step scalars dO.y, du.v, du.vbar that feed dd_t, dbeta_t and dn_t.
template <int NR, int CPW>
struct BackwardSmem {
  // Per warp: u and vbar of the chunk's steps for the warp's columns, a_t and d_t.
  static constexpr int kU = kWarps * kChunk * CPW;
  static constexpr int kScal = kWarps * kChunk * 2;
  // Cross-warp reductions, double-buffered: [2][kWarps][2][NR*32] and [2][kWarps][3].
  static constexpr int kRed = 2 * kWarps * 2 * NR * kWarp;
  static constexpr int kRedScal = 2 * kWarps * 3;
  static constexpr int kElems = 2 * kU + kScal + kRed + kRedScal;
};

template <typename T, typename Acc, int NR, int CPW, bool kDelta>
__global__ void __launch_bounds__(kThreads)
    BackwardKernel(Dims d, bool normalize, Acc eps, const T* __restrict__ q,
                   const T* __restrict__ k, const T* __restrict__ v, const T* __restrict__ beta,
                   const T* __restrict__ d_o, const Acc* __restrict__ d_s_final,
                   const Acc* __restrict__ ckpt_s, const Acc* __restrict__ ckpt_z,
                   T* __restrict__ dv, Acc* __restrict__ d_s0, Acc* __restrict__ nd,
                   Acc* __restrict__ dq_part, Acc* __restrict__ dk_part,
                   Acc* __restrict__ sc_part) {
  using Smem = BackwardSmem<NR, CPW>;
  constexpr int kTileCols = kWarps * CPW;
  constexpr int kRowsPad = NR * kWarp;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Acc* smem = reinterpret_cast<Acc*>(smem_raw);
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  Acc* ubuf = smem + warp * kChunk * CPW;                      // [kChunk][CPW]
  Acc* vbbuf = smem + Smem::kU + warp * kChunk * CPW;          // [kChunk][CPW]
  Acc* sbuf = smem + 2 * Smem::kU + warp * kChunk * 2;         // [kChunk][2]: a_t, d_t
  Acc* red = smem + 2 * Smem::kU + Smem::kScal;                // [2][kWarps][2][kRowsPad]
  Acc* red_scal = red + Smem::kRed;                            // [2][kWarps][3]

  const int Dk = d.key_dim, Dv = d.value_dim, H = d.heads, Tn = d.time;
  const int ntiles = (Dv + kTileCols - 1) / kTileCols;
  const int64_t BH = static_cast<int64_t>(d.batch) * H;
  const int64_t bh = blockIdx.x / ntiles;
  const int tile = blockIdx.x % ntiles;
  if (bh >= BH) return;  // uniform over the block, so the __syncthreads below stay safe
  const int64_t b = bh / H, h = bh % H;

  int col[CPW];
  bool cvalid[CPW];
#pragma unroll
  for (int c = 0; c < CPW; ++c) {
    col[c] = tile * kTileCols + warp * CPW + c;
    cvalid[c] = col[c] < Dv;
  }
  bool rvalid[NR];
#pragma unroll
  for (int m = 0; m < NR; ++m) rvalid[m] = lane + kWarp * m < Dk;
  const bool writes_nd = tile == 0 && warp == 0 && lane == 0;

  Acc G[NR][CPW], S[NR][CPW], z[NR];
#pragma unroll
  for (int m = 0; m < NR; ++m) {
    const int i = lane + kWarp * m;
#pragma unroll
    for (int c = 0; c < CPW; ++c)
      G[m][c] = (rvalid[m] && cvalid[c]) ? d_s_final[(bh * Dk + i) * Dv + col[c]] : Acc(0);
  }

  int buf = 0;
  for (int chunk = NumChunks(Tn) - 1; chunk >= 0; --chunk) {
    const int t0 = chunk * kChunk;
    const int len = min(kChunk, Tn - t0);

    // Recompute the chunk from its checkpoint; keep u_t, vbar_t, a_t, d_t.
#pragma unroll
    for (int m = 0; m < NR; ++m) {
      const int i = lane + kWarp * m;
      z[m] = rvalid[m] ? ckpt_z[(chunk * BH + bh) * Dk + i] : Acc(0);
#pragma unroll
      for (int c = 0; c < CPW; ++c)
        S[m][c] = (rvalid[m] && cvalid[c]) ? ckpt_s[((chunk * BH + bh) * Dv + col[c]) * Dk + i]
                                           : Acc(0);
    }
    for (int s = 0; s < len; ++s) {
      const int t = t0 + s;
      const int64_t row = (b * Tn + t) * H + h;
      Acc kk[NR], qq[NR], vv[CPW];
#pragma unroll
      for (int m = 0; m < NR; ++m) {
        const int i = lane + kWarp * m;
        kk[m] = rvalid[m] ? LoadAs<Acc>(k, row * Dk + i) : Acc(0);
        qq[m] = rvalid[m] ? LoadAs<Acc>(q, row * Dk + i) : Acc(0);
      }
#pragma unroll
      for (int c = 0; c < CPW; ++c) vv[c] = cvalid[c] ? LoadAs<Acc>(v, row * Dv + col[c]) : Acc(0);
      const Acc bt = kDelta ? LoadAs<Acc>(beta, row) : Acc(1);
      Acc red1[CPW + 1];  // k S_{t-1} per column, z_{t-1} . k
#pragma unroll
      for (int c = 0; c <= CPW; ++c) red1[c] = Acc(0);
#pragma unroll
      for (int m = 0; m < NR; ++m) {
        if (kDelta) {
#pragma unroll
          for (int c = 0; c < CPW; ++c) red1[c] += kk[m] * S[m][c];
        }
        red1[CPW] += z[m] * kk[m];
      }
      WarpAllSum(red1);
      const Acc n = red1[CPW] + eps;
      const Acc a = kDelta ? (normalize ? bt / n : bt) : Acc(0);
      Acc u[CPW];
#pragma unroll
      for (int c = 0; c < CPW; ++c) u[c] = kDelta ? bt * vv[c] - a * red1[c] : vv[c];
      Acc qz = Acc(0);
#pragma unroll
      for (int m = 0; m < NR; ++m) {
#pragma unroll
        for (int c = 0; c < CPW; ++c) S[m][c] += kk[m] * u[c];
        z[m] += kk[m];
        qz += qq[m] * z[m];
      }
      Acc red2[1] = {qz};
      WarpAllSum(red2);
      const Acc den = red2[0] + eps;
      if (lane == 0) {
#pragma unroll
        for (int c = 0; c < CPW; ++c) {
          ubuf[s * CPW + c] = u[c];
          vbbuf[s * CPW + c] = red1[c];
        }
        sbuf[s * 2 + 0] = a;
        sbuf[s * 2 + 1] = den;
      }
      if (writes_nd) {
        nd[(bh * Tn + t) * 2 + 0] = n;
        nd[(bh * Tn + t) * 2 + 1] = den;
      }
    }
    __syncwarp();

    // Walk the chunk backwards.
    for (int s = len - 1; s >= 0; --s) {
      const int t = t0 + s;
      const int64_t row = (b * Tn + t) * H + h;
      Acc kk[NR], qq[NR], vv[CPW], go[CPW], u[CPW], vb[CPW];
#pragma unroll
      for (int m = 0; m < NR; ++m) {
        const int i = lane + kWarp * m;
        kk[m] = rvalid[m] ? LoadAs<Acc>(k, row * Dk + i) : Acc(0);
        qq[m] = rvalid[m] ? LoadAs<Acc>(q, row * Dk + i) : Acc(0);
      }
#pragma unroll
      for (int c = 0; c < CPW; ++c) {
        vv[c] = cvalid[c] ? LoadAs<Acc>(v, row * Dv + col[c]) : Acc(0);
        go[c] = cvalid[c] ? LoadAs<Acc>(d_o, row * Dv + col[c]) : Acc(0);
        u[c] = kDelta ? ubuf[s * CPW + c] : vv[c];
        vb[c] = kDelta ? vbbuf[s * CPW + c] : Acc(0);
      }
      const Acc bt = kDelta ? LoadAs<Acc>(beta, row) : Acc(1);
      const Acc a = kDelta ? sbuf[s * 2 + 0] : Acc(0);
      const Acc den = normalize ? sbuf[s * 2 + 1] : Acc(1);

      Acc dy[CPW];
#pragma unroll
      for (int c = 0; c < CPW; ++c) dy[c] = go[c] / den;
      Acc p_doy = Acc(0);
      if (normalize) {
        Acc y[CPW];
#pragma unroll
        for (int c = 0; c < CPW; ++c) y[c] = Acc(0);
#pragma unroll
        for (int m = 0; m < NR; ++m) {
#pragma unroll
          for (int c = 0; c < CPW; ++c) y[c] += qq[m] * S[m][c];
        }
        WarpAllSum(y);
#pragma unroll
        for (int c = 0; c < CPW; ++c) p_doy += go[c] * y[c];
      }
      Acc pdq[NR], du[CPW];
#pragma unroll
      for (int c = 0; c < CPW; ++c) du[c] = Acc(0);
#pragma unroll
      for (int m = 0; m < NR; ++m) {
        pdq[m] = Acc(0);
#pragma unroll
        for (int c = 0; c < CPW; ++c) {
          pdq[m] += S[m][c] * dy[c];
          G[m][c] += qq[m] * dy[c];
          du[c] += kk[m] * G[m][c];
        }
      }
      WarpAllSum(du);
      // S <- S_{t-1}: reverted, except at the chunk's first step where the exact checkpoint is
      // used. (The revert error is multiplied by a_t below; a_t is huge, ~beta/eps, exactly at
      // t = 1 with z0 = 0, where S_0 is a checkpoint.)
#pragma unroll
      for (int m = 0; m < NR; ++m) {
        const int i = lane + kWarp * m;
#pragma unroll
        for (int c = 0; c < CPW; ++c) {
          if (s == 0)
            S[m][c] = (rvalid[m] && cvalid[c])
                          ? ckpt_s[((chunk * BH + bh) * Dv + col[c]) * Dk + i]
                          : Acc(0);
          else
            S[m][c] -= kk[m] * u[c];
        }
      }
      Acc pdk[NR];
#pragma unroll
      for (int m = 0; m < NR; ++m) {
        Acc gu = Acc(0), sdu = Acc(0);
#pragma unroll
        for (int c = 0; c < CPW; ++c) {
          gu += G[m][c] * u[c];
          sdu += S[m][c] * du[c];
          if (kDelta) G[m][c] -= a * kk[m] * du[c];  // after gu: dk uses G_t
        }
        pdk[m] = kDelta ? gu - a * sdu : gu;
      }
      Acc p_duv = Acc(0), p_duvb = Acc(0);
#pragma unroll
      for (int c = 0; c < CPW; ++c) {
        p_duv += du[c] * vv[c];
        p_duvb += du[c] * vb[c];
        if (cvalid[c] && lane == c) StoreAs(dv, row * Dv + col[c], bt * du[c]);
      }

      // Sum the warps' partials for this tile.
      Acc* rb = red + buf * (kWarps * 2 * kRowsPad);
#pragma unroll
      for (int m = 0; m < NR; ++m) {
        rb[(warp * 2 + 0) * kRowsPad + lane + kWarp * m] = pdq[m];
        rb[(warp * 2 + 1) * kRowsPad + lane + kWarp * m] = pdk[m];
      }
      Acc* rs = red_scal + buf * (kWarps * 3);
      if (lane == 0) {
        rs[warp * 3 + 0] = p_doy;
        rs[warp * 3 + 1] = p_duv;
        rs[warp * 3 + 2] = p_duvb;
      }
      __syncthreads();
      const int64_t part_row = (tile * BH + bh) * Tn + t;
      for (int idx = threadIdx.x; idx < 2 * Dk + 3; idx += kThreads) {
        Acc sum = Acc(0);
        if (idx < 2 * Dk) {
          const int which = idx / Dk, i = idx % Dk;
          for (int w = 0; w < kWarps; ++w) sum += rb[(w * 2 + which) * kRowsPad + i];
          (which == 0 ? dq_part : dk_part)[part_row * Dk + i] = sum;
        } else {
          const int j = idx - 2 * Dk;
          for (int w = 0; w < kWarps; ++w) sum += rs[w * 3 + j];
          sc_part[part_row * 3 + j] = sum;
        }
      }
      buf ^= 1;  // the next step writes the other buffer, so no second barrier is needed
    }
    __syncwarp();
  }

#pragma unroll
  for (int m = 0; m < NR; ++m) {
    const int i = lane + kWarp * m;
    if (!rvalid[m]) continue;
#pragma unroll
    for (int c = 0; c < CPW; ++c)
      if (cvalid[c]) d_s0[(bh * Dk + i) * Dv + col[c]] = G[m][c];
  }
}

// Per (bh, t): add the tiles' scalars; dd_t = dL/dd_t (normaliser of o_t), dn_t = dL/dn_t
// (normaliser of a_t); dbeta_t.
template <typename T, typename Acc, bool kDelta>
__global__ void CombineScalarsKernel(Dims d, bool normalize, int ntiles,
                                     const T* __restrict__ beta, const Acc* __restrict__ nd,
                                     const Acc* __restrict__ sc_part, T* __restrict__ dbeta,
                                     Acc* __restrict__ ddn) {
  const int64_t BH = static_cast<int64_t>(d.batch) * d.heads;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= BH * d.time) return;
  const int64_t bh = idx / d.time, t = idx % d.time;
  Acc doy = Acc(0), duv = Acc(0), duvb = Acc(0);
  for (int tile = 0; tile < ntiles; ++tile) {
    const Acc* p = sc_part + ((tile * BH + bh) * d.time + t) * 3;
    doy += p[0];
    duv += p[1];
    duvb += p[2];
  }
  const Acc n = nd[idx * 2 + 0], den = nd[idx * 2 + 1];
  const Acc dd = normalize ? -doy / (den * den) : Acc(0);
  Acc dn = Acc(0);
  if (kDelta) {
    const int64_t b = bh / d.heads, h = bh % d.heads;
    const int64_t brow = (b * d.time + t) * d.heads + h;
    const Acc bt = LoadAs<Acc>(beta, brow);
    const Acc da = -duvb;
    Acc db;
    if (normalize) {
      const Acc a = bt / n;
      db = duv + da / n;
      dn = -da * a / n;
    } else {
      db = duv + da;
    }
    StoreAs(dbeta, brow, db);
  }
  ddn[idx * 2 + 0] = dd;
  ddn[idx * 2 + 1] = dn;
}

// Per (bh, chunk, row i): P = sum over the chunk of dd_t q_t[i] + dn_t k_t[i].
template <typename T, typename Acc>
__global__ void ChunkSumsKernel(Dims d, const T* __restrict__ q, const T* __restrict__ k,
                                const Acc* __restrict__ ddn, Acc* __restrict__ chunk_sums) {
  const int nchunks = NumChunks(d.time);
  const int64_t bh = blockIdx.x / nchunks;
  const int chunk = blockIdx.x % nchunks;
  const int64_t b = bh / d.heads, h = bh % d.heads;
  const int t0 = chunk * kChunk, t1 = min(d.time, t0 + kChunk);
  for (int i = threadIdx.x; i < d.key_dim; i += blockDim.x) {
    Acc p = Acc(0);
    for (int t = t0; t < t1; ++t) {
      const int64_t row = (b * d.time + t) * d.heads + h;
      const Acc* s = ddn + (bh * d.time + t) * 2;
      p += s[0] * LoadAs<Acc>(q, row * d.key_dim + i) + s[1] * LoadAs<Acc>(k, row * d.key_dim + i);
    }
    chunk_sums[(bh * nchunks + chunk) * d.key_dim + i] = p;
  }
}

// Per (bh, chunk, row i): the z-gradient gz_t = dz_final + sum_{s>=t} dd_s q_s + sum_{s>t} dn_s k_s
// flows into dk_t; dk_t += dn_t z_{t-1}; dq_t += dd_t z_t; tiles are added; cast to T.
template <typename T, typename Acc>
__global__ void FinalizeKernel(Dims d, int ntiles, const T* __restrict__ q,
                               const T* __restrict__ k, const Acc* __restrict__ d_z_final,
                               const Acc* __restrict__ ckpt_z, const Acc* __restrict__ ddn,
                               const Acc* __restrict__ chunk_sums, Acc* __restrict__ dq_part,
                               Acc* __restrict__ dk_part, T* __restrict__ dq, T* __restrict__ dk,
                               Acc* __restrict__ d_z0) {
  const int nchunks = NumChunks(d.time);
  const int64_t BH = static_cast<int64_t>(d.batch) * d.heads;
  const int64_t bh = blockIdx.x / nchunks;
  const int chunk = blockIdx.x % nchunks;
  const int64_t b = bh / d.heads, h = bh % d.heads;
  const int Dk = d.key_dim, Tn = d.time;
  const int t0 = chunk * kChunk, t1 = min(Tn, t0 + kChunk);
  const int64_t tile_stride = BH * Tn * Dk;
  for (int i = threadIdx.x; i < Dk; i += blockDim.x) {
    Acc gz = d_z_final[bh * Dk + i];
    for (int c = nchunks - 1; c > chunk; --c) gz += chunk_sums[(bh * nchunks + c) * Dk + i];
    for (int t = t1 - 1; t >= t0; --t) {
      const int64_t row = (b * Tn + t) * d.heads + h;
      const Acc* s = ddn + (bh * Tn + t) * 2;
      gz += s[0] * LoadAs<Acc>(q, row * Dk + i);
      dk_part[(bh * Tn + t) * Dk + i] += gz;  // tile 0's slot; only this thread touches it
      gz += s[1] * LoadAs<Acc>(k, row * Dk + i);
    }
    if (chunk == 0) d_z0[bh * Dk + i] = gz;
    Acc z = ckpt_z[(chunk * BH + bh) * Dk + i];
    for (int t = t0; t < t1; ++t) {
      const int64_t row = (b * Tn + t) * d.heads + h;
      const Acc* s = ddn + (bh * Tn + t) * 2;
      const int64_t p = (bh * Tn + t) * Dk + i;
      Acc gk = dk_part[p], gq = dq_part[p];
      for (int tile = 1; tile < ntiles; ++tile) {
        gk += dk_part[tile * tile_stride + p];
        gq += dq_part[tile * tile_stride + p];
      }
      gk += s[1] * z;
      z += LoadAs<Acc>(k, row * Dk + i);
      gq += s[0] * z;
      StoreAs(dk, row * Dk + i, gk);
      StoreAs(dq, row * Dk + i, gq);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side.
#define FWP_RETURN_IF_ERROR(expr)             \
  do {                                        \
    const cudaError_t fwp_err_ = (expr);      \
    if (fwp_err_ != cudaSuccess) return fwp_err_; \
  } while (0)

// Calls f(integral_constant<NR>, integral_constant<CPW>) for the runtime shape.
template <int NR, typename F>
cudaError_t DispatchCpw(int cpw, F& f) {
  switch (cpw) {
    case 1: return f(std::integral_constant<int, NR>{}, std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, NR>{}, std::integral_constant<int, 2>{});
    case 4: return f(std::integral_constant<int, NR>{}, std::integral_constant<int, 4>{});
    default: return cudaErrorInvalidValue;
  }
}
template <typename F>
cudaError_t DispatchShape(const Dims& d, F f) {
  const int cpw = ColsPerWarp(d.value_dim);
  switch (RowsPerLane(d.key_dim)) {
    case 1: return DispatchCpw<1>(cpw, f);
    case 2: return DispatchCpw<2>(cpw, f);
    case 4: return DispatchCpw<4>(cpw, f);
    case 8: return DispatchCpw<8>(cpw, f);
    default: return cudaErrorInvalidValue;
  }
}

template <typename Acc>
cudaError_t CopyStates(cudaStream_t stream, const Dims& d, const Acc* s_src, const Acc* z_src,
                       Acc* s_dst, Acc* z_dst) {
  const size_t bh = static_cast<size_t>(d.batch) * d.heads;
  const size_t s_bytes = bh * d.key_dim * d.value_dim * sizeof(Acc);
  const size_t z_bytes = bh * d.key_dim * sizeof(Acc);
  if (s_bytes > 0 && s_dst != s_src)
    FWP_RETURN_IF_ERROR(cudaMemcpyAsync(s_dst, s_src, s_bytes, cudaMemcpyDeviceToDevice, stream));
  if (z_bytes > 0 && z_dst != z_src)
    FWP_RETURN_IF_ERROR(cudaMemcpyAsync(z_dst, z_src, z_bytes, cudaMemcpyDeviceToDevice, stream));
  return cudaSuccess;
}

int64_t NumBlocks(const Dims& d, int per_bh) {
  return static_cast<int64_t>(d.batch) * d.heads * per_bh;
}
constexpr int64_t kMaxGrid = 2147483647;

template <typename T, typename Acc, bool kDelta>
cudaError_t RunForward(cudaStream_t stream, const Dims& d, bool normalize, Acc eps, const T* q,
                       const T* k, const T* v, const T* beta, const Acc* s0, const Acc* z0,
                       T* o, Acc* s_final, Acc* z_final, Acc* ckpt_s, Acc* ckpt_z) {
  const int64_t blocks = NumBlocks(d, NumTiles(d.value_dim));
  if (blocks > kMaxGrid) return cudaErrorInvalidConfiguration;
  return DispatchShape(d, [&](auto nr, auto cpw) -> cudaError_t {
    constexpr int NR = decltype(nr)::value, CPW = decltype(cpw)::value;
    ForwardKernel<T, Acc, NR, CPW, kDelta><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
        d, normalize, eps, q, k, v, beta, s0, z0, o, s_final, z_final, ckpt_s, ckpt_z);
    return cudaGetLastError();
  });
}

template <typename T, typename Acc, bool kDelta>
cudaError_t Forward(cudaStream_t stream, const Dims& d, bool normalize, Acc eps, const T* q,
                    const T* k, const T* v, const T* beta, const Acc* s0, const Acc* z0, T* o,
                    Acc* s_final, Acc* z_final) {
  if (!ValidDims(d)) return cudaErrorInvalidValue;
  if (NumBlocks(d, 1) == 0) return cudaSuccess;
  if (d.time == 0) return CopyStates(stream, d, s0, z0, s_final, z_final);
  return RunForward<T, Acc, kDelta>(stream, d, normalize, eps, q, k, v, beta, s0, z0, o, s_final,
                                    z_final, nullptr, nullptr);
}

template <typename T, typename Acc, bool kDelta>
cudaError_t Backward(cudaStream_t stream, const Dims& d, bool normalize, Acc eps, const T* q,
                     const T* k, const T* v, const T* beta, const Acc* s0, const Acc* z0,
                     const T* d_o, const Acc* d_s_final, const Acc* d_z_final, T* dq, T* dk,
                     T* dv, T* dbeta, Acc* d_s0, Acc* d_z0, Acc* workspace) {
  if (!ValidDims(d)) return cudaErrorInvalidValue;
  if (NumBlocks(d, 1) == 0) return cudaSuccess;
  if (d.time == 0) return CopyStates(stream, d, d_s_final, d_z_final, d_s0, d_z0);
  if (workspace == nullptr) return cudaErrorInvalidValue;

  const BackwardLayout l = MakeBackwardLayout(d, sizeof(Acc));
  auto at = [&](size_t off) {
    return reinterpret_cast<Acc*>(reinterpret_cast<unsigned char*>(workspace) + off);
  };
  Acc *ckpt_s = at(l.ckpt_s), *ckpt_z = at(l.ckpt_z), *nd = at(l.nd);
  Acc *dq_part = at(l.dq_part), *dk_part = at(l.dk_part), *sc_part = at(l.sc_part);
  Acc *ddn = at(l.ddn), *chunk_sums = at(l.chunk_sums);
  const int ntiles = NumTiles(d.value_dim), nchunks = NumChunks(d.time);

  FWP_RETURN_IF_ERROR((RunForward<T, Acc, kDelta>(stream, d, normalize, eps, q, k, v, beta, s0,
                                                  z0, nullptr, nullptr, nullptr, ckpt_s,
                                                  ckpt_z)));

  const int64_t blocks = NumBlocks(d, ntiles);
  if (blocks > kMaxGrid) return cudaErrorInvalidConfiguration;
  FWP_RETURN_IF_ERROR(DispatchShape(d, [&](auto nr, auto cpw) -> cudaError_t {
    constexpr int NR = decltype(nr)::value, CPW = decltype(cpw)::value;
    auto kernel = BackwardKernel<T, Acc, NR, CPW, kDelta>;
    const size_t smem = BackwardSmem<NR, CPW>::kElems * sizeof(Acc);
    FWP_RETURN_IF_ERROR(cudaFuncSetAttribute(
        kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    kernel<<<static_cast<unsigned>(blocks), kThreads, smem, stream>>>(
        d, normalize, eps, q, k, v, beta, d_o, d_s_final, ckpt_s, ckpt_z, dv, d_s0, nd, dq_part,
        dk_part, sc_part);
    return cudaGetLastError();
  }));

  const int64_t steps = NumBlocks(d, 1) * d.time;
  const int64_t scalar_blocks = (steps + kThreads - 1) / kThreads;
  if (scalar_blocks > kMaxGrid) return cudaErrorInvalidConfiguration;
  CombineScalarsKernel<T, Acc, kDelta>
      <<<static_cast<unsigned>(scalar_blocks), kThreads, 0, stream>>>(d, normalize, ntiles, beta,
                                                                      nd, sc_part, dbeta, ddn);
  FWP_RETURN_IF_ERROR(cudaGetLastError());

  const int64_t chunk_blocks = NumBlocks(d, nchunks);
  if (chunk_blocks > kMaxGrid) return cudaErrorInvalidConfiguration;
  const int row_threads = d.key_dim <= 64 ? 64 : (d.key_dim <= 128 ? 128 : 256);
  ChunkSumsKernel<T, Acc><<<static_cast<unsigned>(chunk_blocks), row_threads, 0, stream>>>(
      d, q, k, ddn, chunk_sums);
  FWP_RETURN_IF_ERROR(cudaGetLastError());
  FinalizeKernel<T, Acc><<<static_cast<unsigned>(chunk_blocks), row_threads, 0, stream>>>(
      d, ntiles, q, k, d_z_final, ckpt_z, ddn, chunk_sums, dq_part, dk_part, dq, dk, d_z0);
  return cudaGetLastError();
}

size_t BackwardWorkspaceBytes(const Dims& d, size_t acc_size) {
  if (!ValidDims(d) || d.time == 0 || NumBlocks(d, 1) == 0) return 0;
  return MakeBackwardLayout(d, acc_size).total;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public launchers.
template <typename T, typename Acc>
cudaError_t LinearAttentionForward(cudaStream_t stream, const Dims& dims, bool normalize, Acc eps,
                                   const T* q, const T* k, const T* v, const Acc* s0,
                                   const Acc* z0, T* o, Acc* s_final, Acc* z_final,
                                   Acc* /*workspace*/) {
  return Forward<T, Acc, false>(stream, dims, normalize, eps, q, k, v, nullptr, s0, z0, o,
                                s_final, z_final);
}

template <typename T, typename Acc>
cudaError_t LinearAttentionBackward(cudaStream_t stream, const Dims& dims, bool normalize,
                                    Acc eps, const T* q, const T* k, const T* v, const Acc* s0,
                                    const Acc* z0, const T* d_o, const Acc* d_s_final,
                                    const Acc* d_z_final, T* dq, T* dk, T* dv, Acc* d_s0,
                                    Acc* d_z0, Acc* workspace) {
  return Backward<T, Acc, false>(stream, dims, normalize, eps, q, k, v, nullptr, s0, z0, d_o,
                                 d_s_final, d_z_final, dq, dk, dv, nullptr, d_s0, d_z0,
                                 workspace);
}

template <typename T, typename Acc>
cudaError_t DeltaRuleForward(cudaStream_t stream, const Dims& dims, bool normalize, Acc eps,
                             const T* q, const T* k, const T* v, const T* beta, const Acc* s0,
                             const Acc* z0, T* o, Acc* s_final, Acc* z_final,
                             Acc* /*workspace*/) {
  return Forward<T, Acc, true>(stream, dims, normalize, eps, q, k, v, beta, s0, z0, o, s_final,
                               z_final);
}

template <typename T, typename Acc>
cudaError_t DeltaRuleBackward(cudaStream_t stream, const Dims& dims, bool normalize, Acc eps,
                              const T* q, const T* k, const T* v, const T* beta, const Acc* s0,
                              const Acc* z0, const T* d_o, const Acc* d_s_final,
                              const Acc* d_z_final, T* dq, T* dk, T* dv, T* dbeta, Acc* d_s0,
                              Acc* d_z0, Acc* workspace) {
  return Backward<T, Acc, true>(stream, dims, normalize, eps, q, k, v, beta, s0, z0, d_o,
                                d_s_final, d_z_final, dq, dk, dv, dbeta, d_s0, d_z0, workspace);
}

size_t LinearAttentionWorkspaceBytes(const Dims& dims, bool backward, size_t acc_size) {
  return backward ? BackwardWorkspaceBytes(dims, acc_size) : 0;
}
size_t DeltaRuleWorkspaceBytes(const Dims& dims, bool backward, size_t acc_size) {
  return backward ? BackwardWorkspaceBytes(dims, acc_size) : 0;
}

#define FWP_INSTANTIATE(T, Acc)                                                                   \
  template cudaError_t LinearAttentionForward<T, Acc>(cudaStream_t, const Dims&, bool, Acc,       \
                                                      const T*, const T*, const T*, const Acc*,   \
                                                      const Acc*, T*, Acc*, Acc*, Acc*);          \
  template cudaError_t LinearAttentionBackward<T, Acc>(                                           \
      cudaStream_t, const Dims&, bool, Acc, const T*, const T*, const T*, const Acc*, const Acc*, \
      const T*, const Acc*, const Acc*, T*, T*, T*, Acc*, Acc*, Acc*);                            \
  template cudaError_t DeltaRuleForward<T, Acc>(cudaStream_t, const Dims&, bool, Acc, const T*,   \
                                                const T*, const T*, const T*, const Acc*,         \
                                                const Acc*, T*, Acc*, Acc*, Acc*);                \
  template cudaError_t DeltaRuleBackward<T, Acc>(                                                 \
      cudaStream_t, const Dims&, bool, Acc, const T*, const T*, const T*, const T*, const Acc*,   \
      const Acc*, const T*, const Acc*, const Acc*, T*, T*, T*, T*, Acc*, Acc*, Acc*);

FWP_INSTANTIATE(float, float)
FWP_INSTANTIATE(double, double)
FWP_INSTANTIATE(__half, float)
FWP_INSTANTIATE(__nv_bfloat16, float)

#undef FWP_INSTANTIATE
#undef FWP_RETURN_IF_ERROR

}  // namespace cuda
}  // namespace fwp
