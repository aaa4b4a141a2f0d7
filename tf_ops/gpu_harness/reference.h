// Float64 CPU reference for the sum rule and the delta rule, written straight from the
// recurrences (DESIGN.md Sec. 3; fwp_cuda_kernels.h), plus:
// * FiniteDifferenceCheck: the reference backward against central differences of the loss
//   L = sum(o * dO) + sum(S_T * dS) + sum(z_T * dz);
// * MirrorBackward: the GPU backward algorithm (checkpoints every kChunk steps, in-chunk revert
//   S_{t-1} = S_t - k_t^T u_t, per-tile column partials, scalar combine, chunk-parallel z-gradient)
//   replayed on the CPU in float64, so its organisation is checked without a GPU.
// Plain C++17, no CUDA.
#ifndef FWP_GPU_HARNESS_REFERENCE_H_
#define FWP_GPU_HARNESS_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

namespace fwp_ref {

using Vec = std::vector<double>;

struct Problem {
  int B, T, H, Dk, Dv;
  bool delta, normalize;
  double eps;
  size_t qk_size() const { return size_t(B) * T * H * Dk; }
  size_t v_size() const { return size_t(B) * T * H * Dv; }
  size_t beta_size() const { return size_t(B) * T * H; }
  size_t s_size() const { return size_t(B) * H * Dk * Dv; }
  size_t z_size() const { return size_t(B) * H * Dk; }
  size_t qk(int b, int t, int h, int i) const { return ((size_t(b) * T + t) * H + h) * Dk + i; }
  size_t vv(int b, int t, int h, int j) const { return ((size_t(b) * T + t) * H + h) * Dv + j; }
  size_t bt(int b, int t, int h) const { return (size_t(b) * T + t) * H + h; }
};

struct Inputs {
  Vec q, k, v, beta, s0, z0;  // forward inputs
  Vec dO, dS, dz;             // upstream gradients
};
struct Outputs {
  Vec o, s, z;
};
struct Grads {
  Vec dq, dk, dv, dbeta, ds0, dz0;
};

inline double Softplus(double x) { return x > 30 ? x : std::log1p(std::exp(x)); }
inline double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Random inputs as the library feeds them: positive sum-normalised q and k rows, beta in (0, 1).
inline Inputs RandomInputs(const Problem& p, uint64_t seed, bool zero_state) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01(0.0, 1.0);
  Inputs in;
  auto features = [&](Vec& x) {
    x.resize(p.qk_size());
    for (size_t r = 0; r < x.size() / std::max(p.Dk, 1); ++r) {
      double sum = 0;
      for (int i = 0; i < p.Dk; ++i) sum += (x[r * p.Dk + i] = Softplus(n01(rng)));
      for (int i = 0; i < p.Dk; ++i) x[r * p.Dk + i] /= sum;
    }
  };
  features(in.q);
  features(in.k);
  in.v.resize(p.v_size());
  for (auto& x : in.v) x = n01(rng);
  in.beta.resize(p.beta_size());
  for (auto& x : in.beta) x = Sigmoid(n01(rng));
  in.s0.resize(p.s_size());
  for (auto& x : in.s0) x = zero_state ? 0.0 : 0.5 * n01(rng);
  in.z0.resize(p.z_size());
  for (auto& x : in.z0) x = zero_state ? 0.0 : Softplus(n01(rng));
  in.dO.resize(p.v_size());
  for (auto& x : in.dO) x = n01(rng);
  in.dS.resize(p.s_size());
  for (auto& x : in.dS) x = n01(rng);
  in.dz.resize(p.z_size());
  for (auto& x : in.dz) x = n01(rng);
  return in;
}

// Per-head forward trace: states S_0..S_T and z_0..z_T plus per-step quantities.
struct Trace {
  Vec S, z;                 // [(T+1) * Dk * Dv], [(T+1) * Dk]
  Vec vbar, u, y;           // [T * Dv]
  Vec a, n, d;              // [T]
};

inline void ForwardHead(const Problem& p, const Inputs& in, int b, int h, Trace* tr, Outputs* out,
                        bool keep_all) {
  const int Dk = p.Dk, Dv = p.Dv, T = p.T;
  const size_t bh = size_t(b) * p.H + h;
  Vec S(in.s0.begin() + bh * Dk * Dv, in.s0.begin() + (bh + 1) * Dk * Dv);
  Vec z(in.z0.begin() + bh * Dk, in.z0.begin() + (bh + 1) * Dk);
  if (keep_all) {
    tr->S.assign(size_t(T + 1) * Dk * Dv, 0.0);
    tr->z.assign(size_t(T + 1) * Dk, 0.0);
    tr->vbar.assign(size_t(T) * Dv, 0.0);
    tr->u.assign(size_t(T) * Dv, 0.0);
    tr->y.assign(size_t(T) * Dv, 0.0);
    tr->a.assign(T, 0.0);
    tr->n.assign(T, 0.0);
    tr->d.assign(T, 0.0);
    std::copy(S.begin(), S.end(), tr->S.begin());
    std::copy(z.begin(), z.end(), tr->z.begin());
  }
  Vec vbar(Dv), u(Dv), y(Dv);
  for (int t = 0; t < T; ++t) {
    const double* k = &in.k[p.qk(b, t, h, 0)];
    const double* q = &in.q[p.qk(b, t, h, 0)];
    const double* v = &in.v[p.vv(b, t, h, 0)];
    double a = 0, n = 0;
    if (p.delta) {
      const double beta = in.beta[p.bt(b, t, h)];
      for (int j = 0; j < Dv; ++j) {
        vbar[j] = 0;
        for (int i = 0; i < Dk; ++i) vbar[j] += k[i] * S[size_t(i) * Dv + j];
      }
      for (int i = 0; i < Dk; ++i) n += z[i] * k[i];
      n += p.eps;
      a = p.normalize ? beta / n : beta;
      for (int j = 0; j < Dv; ++j) u[j] = beta * v[j] - a * vbar[j];
    } else {
      for (int j = 0; j < Dv; ++j) vbar[j] = 0, u[j] = v[j];
    }
    for (int i = 0; i < Dk; ++i)
      for (int j = 0; j < Dv; ++j) S[size_t(i) * Dv + j] += k[i] * u[j];
    for (int i = 0; i < Dk; ++i) z[i] += k[i];
    double d = 1;
    if (p.normalize) {
      d = p.eps;
      for (int i = 0; i < Dk; ++i) d += q[i] * z[i];
    }
    for (int j = 0; j < Dv; ++j) {
      y[j] = 0;
      for (int i = 0; i < Dk; ++i) y[j] += q[i] * S[size_t(i) * Dv + j];
      if (out) out->o[p.vv(b, t, h, j)] = y[j] / d;
    }
    if (keep_all) {
      std::copy(S.begin(), S.end(), tr->S.begin() + size_t(t + 1) * Dk * Dv);
      std::copy(z.begin(), z.end(), tr->z.begin() + size_t(t + 1) * Dk);
      std::copy(vbar.begin(), vbar.end(), tr->vbar.begin() + size_t(t) * Dv);
      std::copy(u.begin(), u.end(), tr->u.begin() + size_t(t) * Dv);
      std::copy(y.begin(), y.end(), tr->y.begin() + size_t(t) * Dv);
      tr->a[t] = a;
      tr->n[t] = n;
      tr->d[t] = d;
    }
  }
  if (out) {
    std::copy(S.begin(), S.end(), out->s.begin() + bh * Dk * Dv);
    std::copy(z.begin(), z.end(), out->z.begin() + bh * Dk);
  }
}

inline Outputs Forward(const Problem& p, const Inputs& in) {
  Outputs out;
  out.o.assign(p.v_size(), 0.0);
  out.s.assign(p.s_size(), 0.0);
  out.z.assign(p.z_size(), 0.0);
  for (int b = 0; b < p.B; ++b)
    for (int h = 0; h < p.H; ++h) ForwardHead(p, in, b, h, nullptr, &out, false);
  return out;
}

inline Grads ZeroGrads(const Problem& p) {
  Grads g;
  g.dq.assign(p.qk_size(), 0.0);
  g.dk.assign(p.qk_size(), 0.0);
  g.dv.assign(p.v_size(), 0.0);
  g.dbeta.assign(p.delta ? p.beta_size() : 0, 0.0);
  g.ds0.assign(p.s_size(), 0.0);
  g.dz0.assign(p.z_size(), 0.0);
  return g;
}

// Reverse-mode differentiation of ForwardHead, one step at a time (keeps every state: fine for a
// reference, not for the GPU).
inline Grads Backward(const Problem& p, const Inputs& in) {
  const int Dk = p.Dk, Dv = p.Dv, T = p.T;
  Grads g = ZeroGrads(p);
  Trace tr;
  Vec G(size_t(Dk) * Dv), gz(Dk), dy(Dv), du(Dv);
  for (int b = 0; b < p.B; ++b) {
    for (int h = 0; h < p.H; ++h) {
      ForwardHead(p, in, b, h, &tr, nullptr, true);
      const size_t bh = size_t(b) * p.H + h;
      std::copy(in.dS.begin() + bh * Dk * Dv, in.dS.begin() + (bh + 1) * Dk * Dv, G.begin());
      std::copy(in.dz.begin() + bh * Dk, in.dz.begin() + (bh + 1) * Dk, gz.begin());
      for (int t = T - 1; t >= 0; --t) {
        const double* q = &in.q[p.qk(b, t, h, 0)];
        const double* k = &in.k[p.qk(b, t, h, 0)];
        const double* v = &in.v[p.vv(b, t, h, 0)];
        const double* dO = &in.dO[p.vv(b, t, h, 0)];
        const double* St = &tr.S[size_t(t + 1) * Dk * Dv];  // S_t (after step)
        const double* Sp = &tr.S[size_t(t) * Dk * Dv];      // S_{t-1}
        const double* zt = &tr.z[size_t(t + 1) * Dk];
        const double* zp = &tr.z[size_t(t) * Dk];
        const double* u = &tr.u[size_t(t) * Dv];
        const double* vbar = &tr.vbar[size_t(t) * Dv];
        const double d = tr.d[t], a = tr.a[t], n = tr.n[t];
        // o = y / d
        double dd = 0;
        for (int j = 0; j < Dv; ++j) {
          dy[j] = dO[j] / d;
          if (p.normalize) dd -= dO[j] * tr.y[size_t(t) * Dv + j] / (d * d);
        }
        // y = q S_t ; d = q . z_t + eps
        for (int i = 0; i < Dk; ++i) {
          double acc = 0;
          for (int j = 0; j < Dv; ++j) acc += St[size_t(i) * Dv + j] * dy[j];
          g.dq[p.qk(b, t, h, i)] = acc + dd * zt[i];
          for (int j = 0; j < Dv; ++j) G[size_t(i) * Dv + j] += q[i] * dy[j];
          gz[i] += dd * q[i];
        }
        // S_t = S_{t-1} + k^T u ; z_t = z_{t-1} + k
        for (int j = 0; j < Dv; ++j) {
          du[j] = 0;
          for (int i = 0; i < Dk; ++i) du[j] += k[i] * G[size_t(i) * Dv + j];
        }
        for (int i = 0; i < Dk; ++i) {
          double acc = gz[i];
          for (int j = 0; j < Dv; ++j) acc += G[size_t(i) * Dv + j] * u[j];
          g.dk[p.qk(b, t, h, i)] = acc;
        }
        if (p.delta) {
          // u = beta v - a vbar ; vbar = k S_{t-1} ; a = beta (/ n) ; n = z_{t-1} . k + eps
          const double beta = in.beta[p.bt(b, t, h)];
          double dbeta = 0, da = 0;
          for (int j = 0; j < Dv; ++j) {
            g.dv[p.vv(b, t, h, j)] = beta * du[j];
            dbeta += du[j] * v[j];
            da -= du[j] * vbar[j];
          }
          for (int i = 0; i < Dk; ++i) {
            double acc = 0;
            for (int j = 0; j < Dv; ++j) acc += Sp[size_t(i) * Dv + j] * du[j];
            g.dk[p.qk(b, t, h, i)] -= a * acc;  // through vbar
          }
          for (int i = 0; i < Dk; ++i)
            for (int j = 0; j < Dv; ++j) G[size_t(i) * Dv + j] -= a * k[i] * du[j];
          if (p.normalize) {
            dbeta += da / n;
            const double dn = -da * a / n;
            for (int i = 0; i < Dk; ++i) {
              g.dk[p.qk(b, t, h, i)] += dn * zp[i];
              gz[i] += dn * k[i];
            }
          } else {
            dbeta += da;
          }
          g.dbeta[p.bt(b, t, h)] = dbeta;
        } else {
          for (int j = 0; j < Dv; ++j) g.dv[p.vv(b, t, h, j)] = du[j];
        }
      }
      std::copy(G.begin(), G.end(), g.ds0.begin() + bh * Dk * Dv);
      std::copy(gz.begin(), gz.end(), g.dz0.begin() + bh * Dk);
    }
  }
  return g;
}

inline double Loss(const Problem& p, const Inputs& in) {
  const Outputs out = Forward(p, in);
  double l = 0;
  for (size_t i = 0; i < out.o.size(); ++i) l += out.o[i] * in.dO[i];
  for (size_t i = 0; i < out.s.size(); ++i) l += out.s[i] * in.dS[i];
  for (size_t i = 0; i < out.z.size(); ++i) l += out.z[i] * in.dz[i];
  return l;
}

inline double RelErr(const Vec& ref, const Vec& x) {
  if (ref.size() != x.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double e = ref[i] - x[i];
    num += e * e;
    den += ref[i] * ref[i];
  }
  if (!std::isfinite(num)) return INFINITY;
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Central differences of Loss w.r.t. every input element; returns the worst relative error.
inline double FiniteDifferenceCheck(const Problem& p, const Inputs& in0, bool verbose) {
  const Grads g = Backward(p, in0);
  Inputs in = in0;
  const double step = 1e-6;
  double worst = 0;
  auto check = [&](const char* name, Vec& x, const Vec& analytic) {
    Vec fd(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double keep = x[i];
      x[i] = keep + step;
      const double lp = Loss(p, in);
      x[i] = keep - step;
      const double lm = Loss(p, in);
      x[i] = keep;
      fd[i] = (lp - lm) / (2 * step);
    }
    const double e = RelErr(fd, analytic);
    if (verbose) std::printf("    fd %-6s rel err %.2e\n", name, e);
    worst = std::max(worst, e);
  };
  check("q", in.q, g.dq);
  check("k", in.k, g.dk);
  check("v", in.v, g.dv);
  if (p.delta) check("beta", in.beta, g.dbeta);
  check("s0", in.s0, g.ds0);
  check("z0", in.z0, g.dz0);
  return worst;
}

// Inputs converted to R (for the float32 emulation of the GPU algorithm).
template <typename R>
struct InputsT {
  std::vector<R> q, k, v, beta, s0, z0, dO, dS, dz;
  explicit InputsT(const Inputs& in)
      : q(in.q.begin(), in.q.end()), k(in.k.begin(), in.k.end()), v(in.v.begin(), in.v.end()),
        beta(in.beta.begin(), in.beta.end()), s0(in.s0.begin(), in.s0.end()),
        z0(in.z0.begin(), in.z0.end()), dO(in.dO.begin(), in.dO.end()),
        dS(in.dS.begin(), in.dS.end()), dz(in.dz.begin(), in.dz.end()) {}
};

// The GPU backward algorithm, replayed in float64 (same stages and formulas as
// fwp_cuda_kernels.cu.cc; `tile_cols` value columns per tile, `chunk` steps per checkpoint).
// R = float emulates the float32 kernels' rounding (up to summation order).
template <typename R = double>
Grads MirrorBackward(const Problem& p, const Inputs& in64, int tile_cols, int chunk) {
  using RVec = std::vector<R>;
  const InputsT<R> in(in64);
  const R eps = static_cast<R>(p.eps);
  const int Dk = p.Dk, Dv = p.Dv, T = p.T;
  Grads g = ZeroGrads(p);
  const int ntiles = (Dv + tile_cols - 1) / tile_cols;
  const int nchunks = (T + chunk - 1) / chunk;
  for (int b = 0; b < p.B; ++b) {
    for (int h = 0; h < p.H; ++h) {
      const size_t bh = size_t(b) * p.H + h;
      // Forward sweep with checkpoints.
      RVec ck_s(size_t(nchunks) * Dk * Dv), ck_z(size_t(nchunks) * Dk);
      {
        RVec S(in.s0.begin() + bh * Dk * Dv, in.s0.begin() + (bh + 1) * Dk * Dv);
        RVec z(in.z0.begin() + bh * Dk, in.z0.begin() + (bh + 1) * Dk);
        for (int t = 0; t < T; ++t) {
          if (t % chunk == 0) {
            std::copy(S.begin(), S.end(), ck_s.begin() + size_t(t / chunk) * Dk * Dv);
            std::copy(z.begin(), z.end(), ck_z.begin() + size_t(t / chunk) * Dk);
          }
          const R* k = &in.k[p.qk(b, t, h, 0)];
          const R* v = &in.v[p.vv(b, t, h, 0)];
          const R beta = p.delta ? in.beta[p.bt(b, t, h)] : 1.0;
          R n = eps;
          for (int i = 0; i < Dk; ++i) n += z[i] * k[i];
          const R a = p.delta ? (p.normalize ? beta / n : beta) : R(0);
          for (int j = 0; j < Dv; ++j) {
            R vb = 0;
            for (int i = 0; i < Dk; ++i) vb += k[i] * S[size_t(i) * Dv + j];
            const R uj = p.delta ? beta * v[j] - a * vb : v[j];
            for (int i = 0; i < Dk; ++i) S[size_t(i) * Dv + j] += k[i] * uj;
          }
          for (int i = 0; i < Dk; ++i) z[i] += k[i];
        }
      }
      // Reverse sweep per tile: per-tile partials.
      RVec dq_part(size_t(ntiles) * T * Dk), dk_part(size_t(ntiles) * T * Dk);
      RVec sc_part(size_t(ntiles) * T * 3), nd(size_t(T) * 2);
      for (int tile = 0; tile < ntiles; ++tile) {
        const int j0 = tile * tile_cols, j1 = std::min(Dv, j0 + tile_cols), w = j1 - j0;
        RVec G(size_t(Dk) * w), S(size_t(Dk) * w), z(Dk);
        for (int i = 0; i < Dk; ++i)
          for (int c = 0; c < w; ++c) G[size_t(i) * w + c] = in.dS[(bh * Dk + i) * Dv + j0 + c];
        for (int ch = nchunks - 1; ch >= 0; --ch) {
          const int t0 = ch * chunk, len = std::min(chunk, T - t0);
          for (int i = 0; i < Dk; ++i) {
            z[i] = ck_z[size_t(ch) * Dk + i];
            for (int c = 0; c < w; ++c)
              S[size_t(i) * w + c] = ck_s[(size_t(ch) * Dk + i) * Dv + j0 + c];
          }
          RVec ub(size_t(len) * w), vbb(size_t(len) * w), ab(len), db(len);
          for (int s = 0; s < len; ++s) {  // recompute
            const int t = t0 + s;
            const R* k = &in.k[p.qk(b, t, h, 0)];
            const R* q = &in.q[p.qk(b, t, h, 0)];
            const R* v = &in.v[p.vv(b, t, h, 0)];
            const R beta = p.delta ? in.beta[p.bt(b, t, h)] : 1.0;
            R n = eps;
            for (int i = 0; i < Dk; ++i) n += z[i] * k[i];
            const R a = p.delta ? (p.normalize ? beta / n : beta) : R(0);
            for (int c = 0; c < w; ++c) {
              R vb = 0;
              for (int i = 0; i < Dk; ++i) vb += k[i] * S[size_t(i) * w + c];
              vbb[size_t(s) * w + c] = p.delta ? vb : R(0);
              ub[size_t(s) * w + c] = p.delta ? beta * v[j0 + c] - a * vb : v[j0 + c];
            }
            R den = eps;
            for (int i = 0; i < Dk; ++i) {
              for (int c = 0; c < w; ++c) S[size_t(i) * w + c] += k[i] * ub[size_t(s) * w + c];
              z[i] += k[i];
              den += q[i] * z[i];
            }
            ab[s] = a;
            db[s] = den;
            if (tile == 0) nd[size_t(t) * 2] = n, nd[size_t(t) * 2 + 1] = den;
          }
          for (int s = len - 1; s >= 0; --s) {  // reverse walk, reverting S
            const int t = t0 + s;
            const R* k = &in.k[p.qk(b, t, h, 0)];
            const R* q = &in.q[p.qk(b, t, h, 0)];
            const R* v = &in.v[p.vv(b, t, h, 0)];
            const R* dO = &in.dO[p.vv(b, t, h, 0)];
            const R* u = &ub[size_t(s) * w];
            const R* vb = &vbb[size_t(s) * w];
            const R beta = p.delta ? in.beta[p.bt(b, t, h)] : 1.0;
            const R a = ab[s], den = p.normalize ? db[s] : 1.0;
            R doy = 0, duv = 0, duvb = 0;
            RVec dy(w), du(w, R(0));
            for (int c = 0; c < w; ++c) {
              dy[c] = dO[j0 + c] / den;
              if (p.normalize) {
                R y = 0;
                for (int i = 0; i < Dk; ++i) y += q[i] * S[size_t(i) * w + c];
                doy += dO[j0 + c] * y;
              }
            }
            for (int i = 0; i < Dk; ++i) {
              R pdq = 0;
              for (int c = 0; c < w; ++c) {
                pdq += S[size_t(i) * w + c] * dy[c];
                G[size_t(i) * w + c] += q[i] * dy[c];
                du[c] += k[i] * G[size_t(i) * w + c];
              }
              dq_part[(size_t(tile) * T + t) * Dk + i] = pdq;
            }
            for (int i = 0; i < Dk; ++i)  // S_{t-1}: checkpoint at the chunk start, else revert
              for (int c = 0; c < w; ++c)
                S[size_t(i) * w + c] = s == 0 ? ck_s[(size_t(ch) * Dk + i) * Dv + j0 + c]
                                              : S[size_t(i) * w + c] - k[i] * u[c];
            for (int i = 0; i < Dk; ++i) {
              R gu = 0, sdu = 0;
              for (int c = 0; c < w; ++c) {
                gu += G[size_t(i) * w + c] * u[c];
                sdu += S[size_t(i) * w + c] * du[c];
                if (p.delta) G[size_t(i) * w + c] -= a * k[i] * du[c];
              }
              dk_part[(size_t(tile) * T + t) * Dk + i] = p.delta ? gu - a * sdu : gu;
            }
            for (int c = 0; c < w; ++c) {
              duv += du[c] * v[j0 + c];
              duvb += du[c] * vb[c];
              g.dv[p.vv(b, t, h, j0 + c)] = beta * du[c];
            }
            R* sc = &sc_part[(size_t(tile) * T + t) * 3];
            sc[0] = doy, sc[1] = duv, sc[2] = duvb;
          }
        }
        for (int i = 0; i < Dk; ++i)
          for (int c = 0; c < w; ++c) g.ds0[(bh * Dk + i) * Dv + j0 + c] = G[size_t(i) * w + c];
      }
      // Combine scalars.
      RVec ddn(size_t(T) * 2);
      for (int t = 0; t < T; ++t) {
        R doy = 0, duv = 0, duvb = 0;
        for (int tile = 0; tile < ntiles; ++tile) {
          const R* sc = &sc_part[(size_t(tile) * T + t) * 3];
          doy += sc[0], duv += sc[1], duvb += sc[2];
        }
        const R n = nd[size_t(t) * 2], den = nd[size_t(t) * 2 + 1];
        R dd = p.normalize ? -doy / (den * den) : 0.0, dn = 0;
        if (p.delta) {
          const R beta = in.beta[p.bt(b, t, h)], da = -duvb;
          R db;
          if (p.normalize) {
            const R a = beta / n;
            db = duv + da / n;
            dn = -da * a / n;
          } else {
            db = duv + da;
          }
          g.dbeta[p.bt(b, t, h)] = db;
        }
        ddn[size_t(t) * 2] = dd, ddn[size_t(t) * 2 + 1] = dn;
      }
      // Chunk sums and chunk-parallel finalisation.
      RVec P(size_t(nchunks) * Dk, 0.0);
      for (int ch = 0; ch < nchunks; ++ch)
        for (int t = ch * chunk; t < std::min(T, (ch + 1) * chunk); ++t)
          for (int i = 0; i < Dk; ++i)
            P[size_t(ch) * Dk + i] += ddn[size_t(t) * 2] * in.q[p.qk(b, t, h, i)] +
                                      ddn[size_t(t) * 2 + 1] * in.k[p.qk(b, t, h, i)];
      for (int ch = 0; ch < nchunks; ++ch) {
        const int t0 = ch * chunk, t1 = std::min(T, t0 + chunk);
        for (int i = 0; i < Dk; ++i) {
          R gz = in.dz[bh * Dk + i];
          for (int c2 = nchunks - 1; c2 > ch; --c2) gz += P[size_t(c2) * Dk + i];
          for (int t = t1 - 1; t >= t0; --t) {
            gz += ddn[size_t(t) * 2] * in.q[p.qk(b, t, h, i)];
            dk_part[size_t(t) * Dk + i] += gz;
            gz += ddn[size_t(t) * 2 + 1] * in.k[p.qk(b, t, h, i)];
          }
          if (ch == 0) g.dz0[bh * Dk + i] = gz;
          R z = ck_z[size_t(ch) * Dk + i];
          for (int t = t0; t < t1; ++t) {
            R gk = 0, gq = 0;
            for (int tile = 0; tile < ntiles; ++tile) {
              gk += dk_part[(size_t(tile) * T + t) * Dk + i];
              gq += dq_part[(size_t(tile) * T + t) * Dk + i];
            }
            gk += ddn[size_t(t) * 2 + 1] * z;
            z += in.k[p.qk(b, t, h, i)];
            gq += ddn[size_t(t) * 2] * z;
            g.dk[p.qk(b, t, h, i)] = gk;
            g.dq[p.qk(b, t, h, i)] = gq;
          }
        }
      }
      if (T == 0) {
        std::copy(in.dS.begin() + bh * Dk * Dv, in.dS.begin() + (bh + 1) * Dk * Dv,
                  g.ds0.begin() + bh * Dk * Dv);
        std::copy(in.dz.begin() + bh * Dk, in.dz.begin() + (bh + 1) * Dk,
                  g.dz0.begin() + bh * Dk);
      }
    }
  }
  return g;
}

}  // namespace fwp_ref

#endif  // FWP_GPU_HARNESS_REFERENCE_H_
