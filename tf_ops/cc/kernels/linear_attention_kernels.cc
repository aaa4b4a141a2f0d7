// CPU kernels of FwpLinearAttention and FwpLinearAttentionGrad (the sum rule).
#include "fwp_cpu_kernel.h"

namespace fwp {
FWP_REGISTER_CPU_KERNELS("FwpLinearAttention", FwpForwardOp, false);
FWP_REGISTER_CPU_KERNELS("FwpLinearAttentionGrad", FwpGradientOp, false);
}  // namespace fwp
