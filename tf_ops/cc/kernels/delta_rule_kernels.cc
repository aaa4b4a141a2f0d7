// CPU kernels of FwpDeltaRule and FwpDeltaRuleGrad.
#include "fwp_cpu_kernel.h"

namespace fwp {
FWP_REGISTER_CPU_KERNELS("FwpDeltaRule", FwpForwardOp, true);
FWP_REGISTER_CPU_KERNELS("FwpDeltaRuleGrad", FwpGradientOp, true);
}  // namespace fwp
