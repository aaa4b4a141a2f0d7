// HeadIO over the TensorFlow tensors of one call: one head's rows of [B, T, H, D] tensors,
// converted between the input type T (half, bfloat16, float, double) and the accumulation type.
//
// It also keeps a NaN or inf written at step t out of the outputs before t, by the rule of
// `run_causally` in fwp_keras/ops/_common.py (the chunk products would carry it to the earlier
// rows of its chunk: 0 * nan = nan). Reading a chunk's k, v and beta finds its steps with a
// non-finite key or write and gives them a zero v and beta (and a zero k where k is not finite):
// an identity step that keeps a finite key in z. Writes mark the outputs from the first bad write
// on NaN; the kernels mark the final state. The backward pass is that function's: no cotangent
// from the outputs or the final state that were marked, zero gradients for the values that were
// zeroed. Without a non-finite input this costs one finiteness test per chunk of k and of v.
#ifndef FWP_KERAS_TF_OPS_CC_KERNELS_TENSOR_HEAD_IO_H_
#define FWP_KERAS_TF_OPS_CC_KERNELS_TENSOR_HEAD_IO_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "chunked_rule.h"

namespace fwp {

// Where one head's rows live inside [B, T, H, D] tensors.
struct HeadLayout {
  int64_t time, heads, key_dim, value_dim;
  int64_t batch_index, head_index;

  int64_t Row(int64_t t, int64_t dim) const {
    return ((batch_index * time + t) * heads + head_index) * dim;
  }
  int64_t Scalar(int64_t t) const { return (batch_index * time + t) * heads + head_index; }
};

// The tensors of a call; those a pass does not use are null.
template <typename T>
struct CallTensors {
  const T *q, *k, *v, *beta, *d_output;
  T *output, *dq, *dk, *dv, *dbeta;
};

template <typename T, typename Acc>
class TensorHeadIO : public HeadIO<Acc> {
 public:
  using Rows = typename HeadIO<Acc>::Rows;
  TensorHeadIO(const CallTensors<T>& tensors, const HeadLayout& at)
      : t_(tensors), at_(at), first_bad_write_(at.time) {}

  int64_t time() const override { return at_.time; }
  bool PoisonsState() const override { return first_bad_write_ < at_.time; }
  bool PoisonsNormalizer() const override { return any_bad_key_; }

  void Read(Rows which, int64_t start, int64_t rows, Matrix<Acc>* out) const override {
    const int64_t dim = Dim(which);
    const T* x = which == HeadIO<Acc>::kQ   ? t_.q
                 : which == HeadIO<Acc>::kK ? t_.k
                 : which == HeadIO<Acc>::kV ? t_.v
                                            : t_.d_output;
    out->resize(rows, dim);
    for (int64_t r = 0; r < rows; ++r) {
      const T* src = x + at_.Row(start + r, dim);
      Acc* dst = out->row(r).data();
      for (int64_t d = 0; d < dim; ++d) dst[d] = ToAcc(src[d]);
    }
    if (which == HeadIO<Acc>::kK || which == HeadIO<Acc>::kV) {
      CleanWrites(which, start, out);
    } else if (which == HeadIO<Acc>::kDOutput) {
      for (int64_t r = std::max<int64_t>(first_bad_write_ - start, 0); r < rows; ++r) {
        out->row(r).setZero();  // the outputs marked NaN pass no cotangent back
      }
    }
  }

  void ReadBeta(int64_t start, int64_t rows, Vector<Acc>* out) const override {
    out->resize(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t step = start + r;
      const Acc beta = ToAcc(t_.beta[at_.Scalar(step)]);
      if (!std::isfinite(beta)) MarkBadWrite(step);
      (*out)(r) = BadWrite(step) ? Acc(0) : beta;
    }
  }

  void Write(Rows which, int64_t start, const Matrix<Acc>& rows) const override {
    const int64_t dim = Dim(which);
    T* x = which == HeadIO<Acc>::kOutput ? t_.output
           : which == HeadIO<Acc>::kDQ   ? t_.dq
           : which == HeadIO<Acc>::kDK   ? t_.dk
                                         : t_.dv;
    for (int64_t r = 0; r < rows.rows(); ++r) {
      const int64_t step = start + r;
      T* dst = x + at_.Row(step, dim);
      if (which == HeadIO<Acc>::kOutput && step >= first_bad_write_) {
        std::fill(dst, dst + dim, static_cast<T>(std::numeric_limits<float>::quiet_NaN()));
      } else if ((which == HeadIO<Acc>::kDK && BadKey(step)) ||
                 (which == HeadIO<Acc>::kDV && BadWrite(step))) {
        std::fill(dst, dst + dim, static_cast<T>(0));  // the gradient of a zeroed input
      } else {
        const Acc* src = rows.row(r).data();
        for (int64_t d = 0; d < dim; ++d) dst[d] = static_cast<T>(src[d]);
      }
    }
  }

  void WriteBeta(int64_t start, const Vector<Acc>& dbeta) const override {
    for (int64_t r = 0; r < dbeta.size(); ++r) {
      const int64_t step = start + r;
      t_.dbeta[at_.Scalar(step)] = BadWrite(step) ? static_cast<T>(0) : static_cast<T>(dbeta(r));
    }
  }

 private:
  int64_t Dim(Rows which) const {
    const bool keys = which == HeadIO<Acc>::kQ || which == HeadIO<Acc>::kK ||
                      which == HeadIO<Acc>::kDQ || which == HeadIO<Acc>::kDK;
    return keys ? at_.key_dim : at_.value_dim;
  }
  // half and bfloat16 convert through float; float and double convert directly.
  static Acc ToAcc(T x) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      return static_cast<Acc>(x);
    } else {
      return static_cast<Acc>(static_cast<float>(x));
    }
  }

  bool BadKey(int64_t step) const { return any_bad_key_ && bad_key_[step]; }
  bool BadWrite(int64_t step) const { return !bad_write_.empty() && bad_write_[step]; }

  void MarkBadWrite(int64_t step) const {
    if (bad_write_.empty()) {
      bad_key_.assign(at_.time, false);
      bad_write_.assign(at_.time, false);
    }
    bad_write_[step] = true;
    first_bad_write_ = std::min(first_bad_write_, step);
  }

  // k, v rows just read (the chunk program reads k, then v, then beta): a non-finite key is
  // zeroed and makes its step a bad write; v is zeroed on every bad write. One vectorised
  // finiteness test per chunk when all is well.
  void CleanWrites(Rows which, int64_t start, Matrix<Acc>* rows) const {
    const bool keys = which == HeadIO<Acc>::kK;
    if (rows->allFinite() && (keys || bad_write_.empty())) return;
    for (int64_t r = 0; r < rows->rows(); ++r) {
      const int64_t step = start + r;
      if (!rows->row(r).allFinite()) {
        MarkBadWrite(step);
        if (keys) {
          bad_key_[step] = true;
          any_bad_key_ = true;
        }
      }
      if (keys ? BadKey(step) : BadWrite(step)) rows->row(r).setZero();
    }
  }

  CallTensors<T> t_;
  HeadLayout at_;
  // Found while reading, per head (each head has its own HeadIO); empty while all is finite.
  mutable int64_t first_bad_write_;
  mutable bool any_bad_key_ = false;
  mutable std::vector<bool> bad_key_, bad_write_;
};

}  // namespace fwp

#endif  // FWP_KERAS_TF_OPS_CC_KERNELS_TENSOR_HEAD_IO_H_
