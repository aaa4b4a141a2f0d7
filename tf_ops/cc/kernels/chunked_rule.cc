// The chunkwise program of one head (see chunked_rule.h), compiled once for float and double.
#include "chunked_rule.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "Eigen/Dense"

namespace fwp {
namespace {

// Keeps the lower triangle (with the diagonal when `diagonal`), zeroes the rest, in place.
template <typename Acc>
void KeepLower(Matrix<Acc>* m, bool diagonal) {
  const int64_t n = m->rows();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t first_zero = diagonal ? i + 1 : i;
    for (int64_t j = first_zero; j < n; ++j) (*m)(i, j) = Acc(0);
  }
}

// Sum over j < i of m(i, j), for every row i.
template <typename Acc>
Vector<Acc> StrictlyLowerRowSums(const Matrix<Acc>& m) {
  Vector<Acc> sums(m.rows());
  for (int64_t i = 0; i < m.rows(); ++i) sums(i) = m.row(i).head(i).sum();
  return sums;
}

// One chunk's inputs and the quantities both passes derive from them.
template <typename Acc>
struct Chunk {
  Matrix<Acc> q, k, v;      // [c, Dk], [c, Dk], [c, Dv]
  Vector<Acc> beta;         // [c] (delta rule)
  Matrix<Acc> scores;       // tril(Q K^T), diagonal kept
  Matrix<Acc> erase_gram;   // delta: L = strictly_lower(diag(a) K K^T)
  Matrix<Acc> gram;         // delta: K K^T
  Vector<Acc> erase;        // delta: a
  Vector<Acc> key_dot_z;    // delta, normalised: z_{t-1} . k_t + eps
  Matrix<Acc> w, u;         // delta: the solved [W | U]
  Matrix<Acc> writes;       // U' (the sum rule's V)

  int64_t rows() const { return k.rows(); }
};

// What the backward pass keeps of a chunk from its forward sweep: the state entering it and,
// for the delta rule, the results of its solve (memory linear in T, saving their recomputation).
template <typename Acc>
struct SavedChunk {
  Matrix<Acc> s, w, u, writes, gram;
  Vector<Acc> z, erase, key_dot_z;

  void Save(const Chunk<Acc>& c) {
    w = c.w;
    u = c.u;
    writes = c.writes;
    gram = c.gram;
    erase = c.erase;
    key_dot_z = c.key_dot_z;
  }

  void Restore(Chunk<Acc>* c) const {
    c->w = w;
    c->u = u;
    c->writes = writes;
    c->gram = gram;
    c->erase = erase;
    c->key_dot_z = key_dot_z;
    c->erase_gram = erase.asDiagonal() * gram;
    KeepLower(&c->erase_gram, /*diagonal=*/false);
  }
};

template <typename Acc>
void LoadChunk(const HeadIO<Acc>& io, const RuleOptions& opt, int64_t start, int64_t rows,
               Chunk<Acc>* c, bool with_queries = true) {
  if (with_queries) io.Read(HeadIO<Acc>::kQ, start, rows, &c->q);
  io.Read(HeadIO<Acc>::kK, start, rows, &c->k);
  io.Read(HeadIO<Acc>::kV, start, rows, &c->v);
  if (opt.delta) io.ReadBeta(start, rows, &c->beta);
}

// tril(Q K^T), diagonal kept: what the output reads within the chunk.
template <typename Acc>
void ComputeScores(Chunk<Acc>* c) {
  c->scores.noalias() = c->q * c->k.transpose();
  KeepLower(&c->scores, /*diagonal=*/true);
}

// The delta rule's erase strengths and L for a chunk entering with normaliser z.
template <typename Acc>
void EraseGram(const RuleOptions& opt, const Vector<Acc>& z, Chunk<Acc>* c) {
  c->gram.noalias() = c->k * c->k.transpose();
  if (opt.normalize) {
    c->key_dot_z = c->k * z + StrictlyLowerRowSums(c->gram);
    c->key_dot_z.array() += Acc(opt.eps);
    c->erase = c->beta.array() / c->key_dot_z.array();
  } else {
    c->erase = c->beta;
  }
  c->erase_gram = c->erase.asDiagonal() * c->gram;
  KeepLower(&c->erase_gram, /*diagonal=*/false);
}

// Delta rule: solves (I + L) [W | U] = [diag(a) K | diag(b) V] (forward substitution).
template <typename Acc>
void SolveWU(Chunk<Acc>* c) {
  const int64_t dk = c->k.cols();
  Matrix<Acc> rhs(c->rows(), dk + c->v.cols());
  rhs.leftCols(dk) = c->erase.asDiagonal() * c->k;
  rhs.rightCols(c->v.cols()) = c->beta.asDiagonal() * c->v;
  c->erase_gram.template triangularView<Eigen::UnitLower>().solveInPlace(rhs);
  c->w = rhs.leftCols(dk);
  c->u = rhs.rightCols(c->v.cols());
}

// The corrected writes U' of a chunk entering with state s.
template <typename Acc>
void ComputeWrites(const RuleOptions& opt, const Matrix<Acc>& s, Chunk<Acc>* c) {
  if (opt.delta) {
    c->writes = c->u;
    c->writes.noalias() -= c->w * s;
  } else {
    c->writes = c->v;
  }
}

// Advances s and z past a chunk whose writes are known.
template <typename Acc>
void AdvanceState(const Chunk<Acc>& c, Matrix<Acc>* s, Vector<Acc>* z) {
  s->noalias() += c.k.transpose() * c.writes;
  *z += c.k.colwise().sum().transpose();
}

// Numerator Q S + tril(Q K^T) U' and, when normalised, the denominator Q z + rowsum + eps.
template <typename Acc>
void ChunkOutput(const RuleOptions& opt, const Chunk<Acc>& c, const Matrix<Acc>& s,
                 const Vector<Acc>& z, Matrix<Acc>* numerator, Vector<Acc>* denominator) {
  numerator->noalias() = c.q * s;
  numerator->noalias() += c.scores * c.writes;
  if (opt.normalize) {
    *denominator = c.q * z + c.scores.rowwise().sum();
    denominator->array() += Acc(opt.eps);
  }
}

}  // namespace

template <typename Acc>
void ForwardHead(const HeadIO<Acc>& io, const RuleOptions& opt, Matrix<Acc>* s, Vector<Acc>* z) {
  const int64_t time = io.time();
  Chunk<Acc> c;
  Matrix<Acc> numerator;
  Vector<Acc> denominator;
  for (int64_t start = 0; start < time; start += opt.chunk_size) {
    const int64_t rows = std::min(opt.chunk_size, time - start);
    LoadChunk(io, opt, start, rows, &c);
    if (opt.delta) {
      EraseGram(opt, *z, &c);
      SolveWU(&c);
    }
    ComputeWrites(opt, *s, &c);
    ComputeScores(&c);
    ChunkOutput(opt, c, *s, *z, &numerator, &denominator);
    if (opt.normalize) numerator = denominator.cwiseInverse().asDiagonal() * numerator;
    io.Write(HeadIO<Acc>::kOutput, start, numerator);
    AdvanceState(c, s, z);
  }
  // As the recurrence would have it after a non-finite input (tensor_head_io.h).
  constexpr Acc kNaN = std::numeric_limits<Acc>::quiet_NaN();
  if (io.PoisonsState()) s->setConstant(kNaN);
  if (io.PoisonsNormalizer()) z->setConstant(kNaN);
}

template <typename Acc>
void BackwardHead(const HeadIO<Acc>& io, const RuleOptions& opt, Matrix<Acc> s, Vector<Acc> z,
                  Matrix<Acc>* ds, Vector<Acc>* dz) {
  const int64_t time = io.time(), dk_dim = s.rows(), dv_dim = s.cols();
  const int64_t num_chunks = (time + opt.chunk_size - 1) / opt.chunk_size;

  // Forward sweep: what each chunk starts from and, for the delta rule, what its solve gave;
  // nothing per time step.
  std::vector<SavedChunk<Acc>> saved(num_chunks);
  Chunk<Acc> c;
  for (int64_t n = 0; n < num_chunks; ++n) {
    const int64_t start = n * opt.chunk_size, rows = std::min(opt.chunk_size, time - start);
    SavedChunk<Acc>& keep = saved[n];
    keep.s = s;
    keep.z = z;
    LoadChunk(io, opt, start, rows, &c, /*with_queries=*/false);
    if (opt.delta) {
      EraseGram(opt, z, &c);
      SolveWU(&c);
    }
    ComputeWrites(opt, s, &c);
    AdvanceState(c, &s, &z);
    if (opt.delta) keep.Save(c);
  }
  // A final state marked non-finite passes no cotangent back.
  if (io.PoisonsState()) ds->setZero();
  if (io.PoisonsNormalizer()) dz->setZero();

  // Reverse sweep over chunks.
  Matrix<Acc> d_o, d_numerator, numerator, d_writes, d_scores, dq, dk, dv, d_gram;
  Vector<Acc> denominator, d_denominator, d_erase, dbeta, d_key_dot_z;
  for (int64_t n = num_chunks - 1; n >= 0; --n) {
    const int64_t start = n * opt.chunk_size, rows = std::min(opt.chunk_size, time - start);
    const Matrix<Acc>& s_n = saved[n].s;
    const Vector<Acc>& z_n = saved[n].z;
    LoadChunk(io, opt, start, rows, &c, /*with_queries=*/true);
    ComputeScores(&c);
    io.Read(HeadIO<Acc>::kDOutput, start, rows, &d_o);
    if (opt.delta) {
      saved[n].Restore(&c);
    } else {
      c.writes = c.v;
    }

    // Through o = numerator / denominator.
    if (opt.normalize) {
      ChunkOutput(opt, c, s_n, z_n, &numerator, &denominator);
      d_numerator = denominator.cwiseInverse().asDiagonal() * d_o;
      d_denominator = -(d_numerator.cwiseProduct(numerator)).rowwise().sum();
      d_denominator.array() /= denominator.array();
    } else {
      d_numerator = d_o;
    }

    // Through numerator = Q S_n + tril(Q K^T) U' and S_{n+1} = S_n + K^T U'.
    d_writes.noalias() = c.scores.transpose() * d_numerator;
    d_writes.noalias() += c.k * (*ds);
    d_scores.noalias() = d_numerator * c.writes.transpose();
    if (opt.normalize) d_scores.colwise() += d_denominator;
    KeepLower(&d_scores, /*diagonal=*/true);
    dq.noalias() = d_numerator * s_n.transpose();
    dq.noalias() += d_scores * c.k;
    dk.noalias() = d_scores.transpose() * c.q;
    dk.noalias() += c.writes * ds->transpose();
    dk.rowwise() += dz->transpose();  // z_{n+1} = z_n + colsum(K)
    Matrix<Acc> ds_before = *ds;
    ds_before.noalias() += c.q.transpose() * d_numerator;
    Vector<Acc> dz_before = *dz;
    if (opt.normalize) {
      dq.noalias() += d_denominator * z_n.transpose();
      dz_before.noalias() += c.q.transpose() * d_denominator;
    }

    if (opt.delta) {
      // Through U' = U - W S_n.
      ds_before.noalias() -= c.w.transpose() * d_writes;
      Matrix<Acc> d_solved(rows, dk_dim + dv_dim);
      d_solved.leftCols(dk_dim).noalias() = -d_writes * s_n.transpose();
      d_solved.rightCols(dv_dim) = d_writes;
      // Through (I + L) [W | U] = R: dR = (I + L)^-T d[W | U], dL = -strictly_lower(dR [W | U]^T).
      c.erase_gram.transpose().template triangularView<Eigen::UnitUpper>().solveInPlace(d_solved);
      const auto d_rhs_w = d_solved.leftCols(dk_dim);
      const auto d_rhs_u = d_solved.rightCols(dv_dim);
      Matrix<Acc> d_erase_gram = -(d_rhs_w * c.w.transpose());
      d_erase_gram.noalias() -= d_rhs_u * c.u.transpose();
      KeepLower(&d_erase_gram, /*diagonal=*/false);
      // Through R = [diag(a) K | diag(b) V] and L = strictly_lower(diag(a) K K^T).
      dk.noalias() += c.erase.asDiagonal() * d_rhs_w;
      dv = c.beta.asDiagonal() * d_rhs_u;
      d_erase = d_rhs_w.cwiseProduct(c.k).rowwise().sum();
      d_erase += d_erase_gram.cwiseProduct(c.gram).rowwise().sum();
      dbeta = d_rhs_u.cwiseProduct(c.v).rowwise().sum();
      d_gram = c.erase.asDiagonal() * d_erase_gram;
      if (opt.normalize) {
        // a = b / (z_{t-1} . k_t + eps), z_{t-1} . k_t = k_t . z_n + sum_{s<t} k_t . k_s.
        dbeta.array() += d_erase.array() / c.key_dot_z.array();
        d_key_dot_z = -(d_erase.array() * c.erase.array() / c.key_dot_z.array()).matrix();
        dk.noalias() += d_key_dot_z * z_n.transpose();
        dz_before.noalias() += c.k.transpose() * d_key_dot_z;
        for (int64_t i = 0; i < rows; ++i) d_gram.row(i).head(i).array() += d_key_dot_z(i);
      } else {
        dbeta += d_erase;
      }
      dk.noalias() += (d_gram + d_gram.transpose()) * c.k;
      io.WriteBeta(start, dbeta);
    } else {
      dv = d_writes;
    }
    io.Write(HeadIO<Acc>::kDQ, start, dq);
    io.Write(HeadIO<Acc>::kDK, start, dk);
    io.Write(HeadIO<Acc>::kDV, start, dv);
    *ds = ds_before;
    *dz = dz_before;
  }
}


template void ForwardHead<float>(const HeadIO<float>&, const RuleOptions&, Matrix<float>*,
                                 Vector<float>*);
template void ForwardHead<double>(const HeadIO<double>&, const RuleOptions&, Matrix<double>*,
                                  Vector<double>*);
template void BackwardHead<float>(const HeadIO<float>&, const RuleOptions&, Matrix<float>,
                                  Vector<float>, Matrix<float>*, Vector<float>*);
template void BackwardHead<double>(const HeadIO<double>&, const RuleOptions&, Matrix<double>,
                                   Vector<double>, Matrix<double>*, Vector<double>*);

}  // namespace fwp
