// HeadIO over the TensorFlow tensors of one call: one head's rows of [B, T, H, D] tensors,
// converted between the input type T (half, bfloat16, float, double) and the accumulation type.
#ifndef FWP_KERAS_TF_OPS_CC_KERNELS_TENSOR_HEAD_IO_H_
#define FWP_KERAS_TF_OPS_CC_KERNELS_TENSOR_HEAD_IO_H_

#include <cstdint>

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
  TensorHeadIO(const CallTensors<T>& tensors, const HeadLayout& at) : t_(tensors), at_(at) {}

  int64_t time() const override { return at_.time; }

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
  }

  void ReadBeta(int64_t start, int64_t rows, Vector<Acc>* out) const override {
    out->resize(rows);
    for (int64_t r = 0; r < rows; ++r) (*out)(r) = ToAcc(t_.beta[at_.Scalar(start + r)]);
  }

  void Write(Rows which, int64_t start, const Matrix<Acc>& rows) const override {
    const int64_t dim = Dim(which);
    T* x = which == HeadIO<Acc>::kOutput ? t_.output
           : which == HeadIO<Acc>::kDQ   ? t_.dq
           : which == HeadIO<Acc>::kDK   ? t_.dk
                                         : t_.dv;
    for (int64_t r = 0; r < rows.rows(); ++r) {
      T* dst = x + at_.Row(start + r, dim);
      const Acc* src = rows.row(r).data();
      for (int64_t d = 0; d < dim; ++d) dst[d] = static_cast<T>(src[d]);
    }
  }

  void WriteBeta(int64_t start, const Vector<Acc>& dbeta) const override {
    for (int64_t r = 0; r < dbeta.size(); ++r) {
      t_.dbeta[at_.Scalar(start + r)] = static_cast<T>(dbeta(r));
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

  CallTensors<T> t_;
  HeadLayout at_;
};

}  // namespace fwp

#endif  // FWP_KERAS_TF_OPS_CC_KERNELS_TENSOR_HEAD_IO_H_
