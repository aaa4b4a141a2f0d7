// Standalone driver of the fast-weight CUDA kernels (tf_ops/cc/kernels/fwp_cuda_kernels.*), no
// TensorFlow. See README.md.
//
//   fwp_harness                   reference self-checks, GPU correctness, GPU timings
//   fwp_harness --reference-only  only the CPU self-checks (no GPU needed)
//   fwp_harness --quick           small shapes only, no timings (e.g. under compute-sanitizer)
//   fwp_harness --no-timing       correctness only
//
// Exit status: 0 when every check passes, 1 otherwise, 2 on a CUDA error.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fwp_cuda_kernels.h"
#include "reference.h"

namespace {

using fwp_ref::Grads;
using fwp_ref::Inputs;
using fwp_ref::Outputs;
using fwp_ref::Problem;
using fwp_ref::Vec;

#define CUDA_CHECK(expr)                                                                   \
  do {                                                                                     \
    const cudaError_t err_ = (expr);                                                       \
    if (err_ != cudaSuccess) {                                                             \
      std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(err_), __FILE__, \
                   __LINE__, cudaGetErrorString(err_));                                    \
      std::exit(2);                                                                        \
    }                                                                                      \
  } while (0)

// ------------------------------------------------------------------------------------------------
// Host conversions between double and the storage types.
template <typename T> T FromDouble(double x) { return static_cast<T>(x); }
template <> __half FromDouble<__half>(double x) { return __float2half_rn(static_cast<float>(x)); }
template <> __nv_bfloat16 FromDouble<__nv_bfloat16>(double x) {
  return __float2bfloat16_rn(static_cast<float>(x));
}
template <typename T> double ToDouble(T x) { return static_cast<double>(x); }
template <> double ToDouble<__half>(__half x) { return __half2float(x); }
template <> double ToDouble<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }

// Rounds every value to T, so the reference sees exactly what the GPU sees.
template <typename T> void RoundTo(Vec* x) {
  for (auto& e : *x) e = ToDouble(FromDouble<T>(e));
}
template <typename T, typename Acc> Inputs RoundInputs(Inputs in) {
  RoundTo<T>(&in.q), RoundTo<T>(&in.k), RoundTo<T>(&in.v), RoundTo<T>(&in.beta);
  RoundTo<T>(&in.dO);
  RoundTo<Acc>(&in.s0), RoundTo<Acc>(&in.z0), RoundTo<Acc>(&in.dS), RoundTo<Acc>(&in.dz);
  return in;
}

// Device buffer holding a vector converted to U.
template <typename U> struct DeviceBuf {
  U* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuf(size_t count) : n(count) {
    if (n) CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(U)));
  }
  DeviceBuf(const Vec& host) : DeviceBuf(host.size()) { Upload(host); }
  ~DeviceBuf() {
    if (ptr) cudaFree(ptr);
  }
  DeviceBuf(const DeviceBuf&) = delete;
  DeviceBuf& operator=(const DeviceBuf&) = delete;
  void Upload(const Vec& host) {
    std::vector<U> tmp(host.size());
    for (size_t i = 0; i < host.size(); ++i) tmp[i] = FromDouble<U>(host[i]);
    if (n) CUDA_CHECK(cudaMemcpy(ptr, tmp.data(), n * sizeof(U), cudaMemcpyHostToDevice));
  }
  // Fills with NaN-ish garbage so outputs that are never written are caught.
  void Poison() {
    if (n) CUDA_CHECK(cudaMemset(ptr, 0xff, n * sizeof(U)));
  }
  Vec Download() const {
    std::vector<U> tmp(n);
    if (n) CUDA_CHECK(cudaMemcpy(tmp.data(), ptr, n * sizeof(U), cudaMemcpyDeviceToHost));
    Vec out(n);
    for (size_t i = 0; i < n; ++i) out[i] = ToDouble(tmp[i]);
    return out;
  }
};

// All device tensors of one problem.
template <typename T, typename Acc> struct DeviceProblem {
  Problem p;
  fwp::cuda::Dims dims;
  DeviceBuf<T> q, k, v, beta, dO, o, dq, dk, dv, dbeta;
  DeviceBuf<Acc> s0, z0, dS, dz, s, z, ds0, dz0, ws;

  DeviceProblem(const Problem& prob, const Inputs& in)
      : p(prob),
        dims{prob.B, prob.T, prob.H, prob.Dk, prob.Dv},
        q(in.q), k(in.k), v(in.v), beta(in.beta), dO(in.dO),
        o(prob.v_size()), dq(prob.qk_size()), dk(prob.qk_size()), dv(prob.v_size()),
        dbeta(prob.delta ? prob.beta_size() : 0),
        s0(in.s0), z0(in.z0), dS(in.dS), dz(in.dz),
        s(prob.s_size()), z(prob.z_size()), ds0(prob.s_size()), dz0(prob.z_size()),
        ws(WorkspaceElems(prob)) {}

  static size_t WorkspaceElems(const Problem& prob) {
    const fwp::cuda::Dims d{prob.B, prob.T, prob.H, prob.Dk, prob.Dv};
    auto bytes = [&](bool backward) {
      return prob.delta ? fwp::cuda::DeltaRuleWorkspaceBytes(d, backward, sizeof(Acc))
                        : fwp::cuda::LinearAttentionWorkspaceBytes(d, backward, sizeof(Acc));
    };
    const size_t b = std::max(bytes(false), bytes(true));
    return (b + sizeof(Acc) - 1) / sizeof(Acc);
  }

  cudaError_t Forward() {
    const Acc eps = static_cast<Acc>(p.eps);
    if (p.delta)
      return fwp::cuda::DeltaRuleForward<T, Acc>(nullptr, dims, p.normalize, eps, q.ptr, k.ptr,
                                                 v.ptr, beta.ptr, s0.ptr, z0.ptr, o.ptr, s.ptr,
                                                 z.ptr, ws.ptr);
    return fwp::cuda::LinearAttentionForward<T, Acc>(nullptr, dims, p.normalize, eps, q.ptr,
                                                     k.ptr, v.ptr, s0.ptr, z0.ptr, o.ptr, s.ptr,
                                                     z.ptr, ws.ptr);
  }
  cudaError_t Backward() {
    const Acc eps = static_cast<Acc>(p.eps);
    if (p.delta)
      return fwp::cuda::DeltaRuleBackward<T, Acc>(
          nullptr, dims, p.normalize, eps, q.ptr, k.ptr, v.ptr, beta.ptr, s0.ptr, z0.ptr,
          dO.ptr, dS.ptr, dz.ptr, dq.ptr, dk.ptr, dv.ptr, dbeta.ptr, ds0.ptr, dz0.ptr, ws.ptr);
    return fwp::cuda::LinearAttentionBackward<T, Acc>(
        nullptr, dims, p.normalize, eps, q.ptr, k.ptr, v.ptr, s0.ptr, z0.ptr, dO.ptr, dS.ptr,
        dz.ptr, dq.ptr, dk.ptr, dv.ptr, ds0.ptr, dz0.ptr, ws.ptr);
  }
};

std::string Describe(const Problem& p, bool zero_state) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%-5s %-4s B=%d T=%-5d H=%d Dk=%-3d Dv=%-3d%s",
                p.delta ? "delta" : "sum", p.normalize ? "norm" : "", p.B, p.T, p.H, p.Dk, p.Dv,
                zero_state ? " s0=0" : "");
  return buf;
}

struct Case {
  int B, T, H, Dk, Dv;
  bool zero_state;
};

// Everything tested on the GPU; the reference part uses the smaller ones.
std::vector<Case> Cases(bool quick) {
  std::vector<Case> cases;
  for (int t : {0, 1, 63, 100, 1000, 4096}) {
    if (quick && t > 100) continue;
    cases.push_back({1, t, 1, 60, 36, false});
  }
  for (int t : {1, 63, 100, 1000, 4096}) {
    if (quick && t > 100) continue;
    cases.push_back({2, t, 8, 64, 64, false});
  }
  cases.push_back({1, 100, 1, 60, 36, true});    // zero initial state
  cases.push_back({1, 70, 2, 33, 5, false});     // one column per warp, Dk just above a warp
  cases.push_back({1, 130, 2, 130, 12, false});  // 8 rows per lane, 2 columns per warp
  cases.push_back({1, 65, 1, 256, 256, false});  // largest Dk, 8 tiles
  return cases;
}

// ------------------------------------------------------------------------------------------------
bool ReferenceSelfChecks() {
  bool ok = true;
  std::printf("== CPU reference self-checks (float64)\n");
  // 1) Reference backward vs finite differences on tiny shapes.
  for (bool delta : {false, true}) {
    for (bool normalize : {false, true}) {
      for (bool zero_state : {false, true}) {
        if (zero_state && normalize && delta) continue;  // a_1 = beta/eps: FD ill-conditioned
        for (Problem p : {Problem{1, 7, 2, 3, 4, delta, normalize, 1e-3},
                          Problem{2, 5, 1, 5, 2, delta, normalize, 1e-3}}) {
          const Inputs in = fwp_ref::RandomInputs(p, 1234 + p.T, zero_state);
          const double e = fwp_ref::FiniteDifferenceCheck(p, in, false);
          const bool pass = e < 1e-6;
          ok &= pass;
          std::printf("  fd     %s: max rel err %.2e %s\n", Describe(p, zero_state).c_str(), e,
                      pass ? "ok" : "FAIL");
        }
      }
    }
  }
  // 2) The GPU algorithm replayed on the CPU vs the reference backward.
  const std::vector<Case> mirror_cases = {{1, 0, 1, 6, 5, false},   {1, 1, 1, 60, 36, false},
                                          {1, 63, 1, 60, 36, false}, {1, 100, 1, 60, 36, false},
                                          {1, 200, 2, 33, 5, true},  {2, 129, 2, 17, 70, false}};
  for (const Case& c : mirror_cases) {
    for (bool delta : {false, true}) {
      for (bool normalize : {false, true}) {
        const Problem p{c.B, c.T, c.H, c.Dk, c.Dv, delta, normalize, 1e-6};
        const Inputs in = fwp_ref::RandomInputs(p, 99 + c.T, c.zero_state);
        const Grads ref = fwp_ref::Backward(p, in);
        const int tile_cols = c.Dv <= 8 ? 8 : (c.Dv <= 16 ? 16 : 32);  // as the kernels
        const Grads mir = fwp_ref::MirrorBackward(p, in, tile_cols, fwp::cuda::kChunk);
        const double errs[] = {fwp_ref::RelErr(ref.dq, mir.dq),   fwp_ref::RelErr(ref.dk, mir.dk),
                               fwp_ref::RelErr(ref.dv, mir.dv),
                               fwp_ref::RelErr(ref.dbeta, mir.dbeta),
                               fwp_ref::RelErr(ref.ds0, mir.ds0), fwp_ref::RelErr(ref.dz0, mir.dz0)};
        const double e = *std::max_element(std::begin(errs), std::end(errs));
        const bool pass = e < 1e-10;
        ok &= pass;
        std::printf("  mirror %s: max rel err %.2e %s\n", Describe(p, c.zero_state).c_str(), e,
                    pass ? "ok" : "FAIL");
      }
    }
  }
  // 3) The same replay with float32 arithmetic: a CPU prediction of the float32 kernels' backward
  //    error on the GPU test shapes (summation order differs from the GPU's).
  std::printf("  float32 replay of the GPU backward vs float64 reference (fail above 1e-4):\n");
  std::printf("  %-46s %9s %9s %9s %9s %9s %9s\n", "case", "dq", "dk", "dv", "dbeta", "ds0",
              "dz0");
  for (const Case& c : Cases(false)) {
    for (bool delta : {false, true}) {
      for (bool normalize : {false, true}) {
        const Problem p{c.B, c.T, c.H, c.Dk, c.Dv, delta, normalize, 1e-6};
        const Inputs in = RoundInputs<float, float>(
            fwp_ref::RandomInputs(p, 7 + c.T + 31 * c.Dk, c.zero_state));
        const Grads ref = fwp_ref::Backward(p, in);
        const int tile_cols = c.Dv <= 8 ? 8 : (c.Dv <= 16 ? 16 : 32);
        const Grads mir = fwp_ref::MirrorBackward<float>(p, in, tile_cols, fwp::cuda::kChunk);
        const double errs[] = {fwp_ref::RelErr(ref.dq, mir.dq),   fwp_ref::RelErr(ref.dk, mir.dk),
                               fwp_ref::RelErr(ref.dv, mir.dv),
                               fwp_ref::RelErr(ref.dbeta, mir.dbeta),
                               fwp_ref::RelErr(ref.ds0, mir.ds0), fwp_ref::RelErr(ref.dz0, mir.dz0)};
        bool pass = true;
        std::printf("  %-46s", Describe(p, c.zero_state).c_str());
        for (double e : errs) {
          pass &= e <= 1e-4;
          std::printf(" %9.2e", e);
        }
        std::printf(" %s\n", pass ? "ok" : "FAIL");
        ok &= pass;
      }
    }
  }
  return ok;
}

// ------------------------------------------------------------------------------------------------
template <typename T, typename Acc>
bool GpuCheck(const char* type_name, double tol, int max_t, bool quick) {
  bool ok = true;
  std::printf("== GPU vs reference, %s (fail above %.0e)\n", type_name, tol);
  std::printf("  %-46s %9s %9s %9s %9s %9s %9s %9s %9s %9s\n", "case", "o", "s_final", "z_final",
              "dq", "dk", "dv", "dbeta", "ds0", "dz0");
  for (const Case& c : Cases(quick)) {
    if (c.T > max_t) continue;
    for (bool delta : {false, true}) {
      for (bool normalize : {false, true}) {
        const Problem p{c.B, c.T, c.H, c.Dk, c.Dv, delta, normalize, 1e-6};
        const Inputs in =
            RoundInputs<T, Acc>(fwp_ref::RandomInputs(p, 7 + c.T + 31 * c.Dk, c.zero_state));
        const Outputs ref_out = fwp_ref::Forward(p, in);
        const Grads ref = fwp_ref::Backward(p, in);

        DeviceProblem<T, Acc> dev(p, in);
        for (auto* b : {&dev.o, &dev.dq, &dev.dk, &dev.dv, &dev.dbeta}) b->Poison();
        for (auto* b : {&dev.s, &dev.z, &dev.ds0, &dev.dz0, &dev.ws}) b->Poison();
        CUDA_CHECK(dev.Forward());
        CUDA_CHECK(dev.Backward());
        CUDA_CHECK(cudaDeviceSynchronize());

        const double errs[9] = {
            fwp_ref::RelErr(ref_out.o, dev.o.Download()),
            fwp_ref::RelErr(ref_out.s, dev.s.Download()),
            fwp_ref::RelErr(ref_out.z, dev.z.Download()),
            fwp_ref::RelErr(ref.dq, dev.dq.Download()),
            fwp_ref::RelErr(ref.dk, dev.dk.Download()),
            fwp_ref::RelErr(ref.dv, dev.dv.Download()),
            delta ? fwp_ref::RelErr(ref.dbeta, dev.dbeta.Download()) : 0.0,
            fwp_ref::RelErr(ref.ds0, dev.ds0.Download()),
            fwp_ref::RelErr(ref.dz0, dev.dz0.Download())};
        bool pass = true;
        std::printf("  %-46s", Describe(p, c.zero_state).c_str());
        for (int i = 0; i < 9; ++i) {
          if (i == 6 && !delta) {
            std::printf(" %9s", "-");
            continue;
          }
          pass &= errs[i] <= tol;  // NaN / inf fail too
          std::printf(" %9.2e", errs[i]);
        }
        std::printf(" %s\n", pass ? "ok" : "FAIL");
        ok &= pass;
      }
    }
  }
  return ok;
}

template <typename T, typename Acc>
void GpuTiming(const char* type_name) {
  std::printf("== timings, %s, B=2 H=8 Dk=Dv=64, median of 10 runs (ms)\n", type_name);
  std::printf("  %-12s %7s %10s %10s\n", "rule", "T", "fwd", "fwd+bwd");
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  for (bool delta : {false, true}) {
    for (bool normalize : {false, true}) {
      for (int t : {256, 1024, 4096, 16384}) {
        const Problem p{2, t, 8, 64, 64, delta, normalize, 1e-6};
        const Inputs in = RoundInputs<T, Acc>(fwp_ref::RandomInputs(p, 5, false));
        DeviceProblem<T, Acc> dev(p, in);
        auto time_it = [&](bool with_backward) {
          std::vector<float> ms;
          for (int rep = 0; rep < 12; ++rep) {
            CUDA_CHECK(cudaEventRecord(start));
            CUDA_CHECK(dev.Forward());
            if (with_backward) CUDA_CHECK(dev.Backward());
            CUDA_CHECK(cudaEventRecord(stop));
            CUDA_CHECK(cudaEventSynchronize(stop));
            float m = 0;
            CUDA_CHECK(cudaEventElapsedTime(&m, start, stop));
            if (rep >= 2) ms.push_back(m);  // two warm-up runs
          }
          std::sort(ms.begin(), ms.end());
          return 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
        };
        const double f = time_it(false), fb = time_it(true);
        std::printf("  %-12s %7d %10.3f %10.3f\n",
                    (std::string(delta ? "delta" : "sum") + (normalize ? "+norm" : "")).c_str(), t,
                    f, fb);
      }
    }
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
}

}  // namespace

int main(int argc, char** argv) {
  bool reference_only = false, quick = false, timing = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reference-only")) {
      reference_only = true;
    } else if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
      timing = false;
    } else if (!std::strcmp(argv[i], "--no-timing")) {
      timing = false;
    } else {
      std::fprintf(stderr, "usage: %s [--reference-only] [--quick] [--no-timing]\n", argv[0]);
      return 2;
    }
  }
  bool ok = ReferenceSelfChecks();
  if (reference_only) {
    std::printf("%s\n", ok ? "REFERENCE OK" : "REFERENCE FAILED");
    return ok ? 0 : 1;
  }

  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  std::printf("== GPU: %s (sm_%d%d, %d SMs, %.1f GiB)\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0);

  ok &= GpuCheck<float, float>("float32", 1e-4, 1 << 30, quick);
  ok &= GpuCheck<double, double>("float64", 1e-10, 1 << 30, quick);
  // Reduced precision: inputs are rounded before the reference, so only output rounding
  // (2^-11 resp. 2^-8 relative) and float32 arithmetic remain.
  ok &= GpuCheck<__half, float>("float16", 5e-3, 1000, quick);
  ok &= GpuCheck<__nv_bfloat16, float>("bfloat16", 2e-2, 1000, quick);

  if (timing) {
    GpuTiming<float, float>("float32");
    GpuTiming<__nv_bfloat16, float>("bfloat16");
  }
  std::printf("%s\n", ok ? "ALL CHECKS PASSED" : "SOME CHECKS FAILED");
  return ok ? 0 : 1;
}
