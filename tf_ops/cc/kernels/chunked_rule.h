// The chunkwise fast-weight memory of one head, forward and backward (DESIGN Section 4), on
// contiguous row-major buffers in the accumulation type Acc (float, or double for gradient checks).
//
// Both update rules share one chunk program. With U' the corrected writes of a chunk,
//   O = Q S + tril(Q K^T) U'            S <- S + K^T U'            z <- z + colsum(K)
// the sum rule has U' = V; the delta rule solves (I + L) [W | U] = [diag(a) K | diag(b) V] with
// L = strictly_lower(diag(a) K K^T) and takes U' = U - W S, where the erase strength a is beta
// (plain) or beta / (z_{t-1} . k_t + eps) (attention-normalised). With attention normalisation
// O is divided row-wise by Q z + rowsum(tril(Q K^T)) + eps.
//
// The backward pass keeps no per-step state: a forward sweep stores the state entering each chunk
// (and, for the delta rule, the chunk's W and U), then a reverse sweep over chunks accumulates
// dS, dz and the input gradients. Memory is linear in T.
#ifndef FWP_KERAS_TF_OPS_CC_KERNELS_CHUNKED_RULE_H_
#define FWP_KERAS_TF_OPS_CC_KERNELS_CHUNKED_RULE_H_

#include <cstdint>

#include "Eigen/Core"

namespace fwp {

template <typename Acc>
using Matrix = Eigen::Matrix<Acc, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename Acc>
using Vector = Eigen::Matrix<Acc, Eigen::Dynamic, 1>;
template <typename Acc>
using MatrixMap = Eigen::Map<Matrix<Acc>>;
template <typename Acc>
using VectorMap = Eigen::Map<Vector<Acc>>;

struct RuleOptions {
  bool delta;      // delta rule (else sum rule)
  bool normalize;  // attention normalisation
  double eps;
  int64_t chunk_size;
};

// Reads and writes rows [start, start + rows) of one head's tensors, converting to and from Acc.
// The kernels implement it over TensorFlow tensors of any input type; the chunk program, compiled
// once per Acc, sees only this.
template <typename Acc>
class HeadIO {
 public:
  enum Rows { kQ, kK, kV, kDOutput, kOutput, kDQ, kDK, kDV };
  virtual ~HeadIO() = default;
  virtual int64_t time() const = 0;
  virtual void Read(Rows which, int64_t start, int64_t rows, Matrix<Acc>* out) const = 0;
  virtual void ReadBeta(int64_t start, int64_t rows, Vector<Acc>* out) const = 0;
  virtual void Write(Rows which, int64_t start, const Matrix<Acc>& rows) const = 0;
  virtual void WriteBeta(int64_t start, const Vector<Acc>& dbeta) const = 0;
  // Whether the final S (z) is marked non-finite after a non-finite input (tensor_head_io.h);
  // known once every row of k, v and beta has been read.
  virtual bool PoisonsState() const { return false; }
  virtual bool PoisonsNormalizer() const { return false; }
};

// Forward pass of one head: writes kOutput. s, z: the initial state on entry, the final on return
// (NaN where the HeadIO poisons them).
template <typename Acc>
void ForwardHead(const HeadIO<Acc>& io, const RuleOptions& opt, Matrix<Acc>* s, Vector<Acc>* z);

// Backward pass of one head from kDOutput: writes kDQ, kDK, kDV (and dbeta for the delta rule).
// s, z: the initial state. On entry ds, dz hold the gradients of the final state; on return those
// of the initial state.
template <typename Acc>
void BackwardHead(const HeadIO<Acc>& io, const RuleOptions& opt, Matrix<Acc> s, Vector<Acc> z,
                  Matrix<Acc>* ds, Vector<Acc>* dz);

}  // namespace fwp

#endif  // FWP_KERAS_TF_OPS_CC_KERNELS_CHUNKED_RULE_H_
