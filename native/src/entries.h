// Hand-written entry tables beside the generated ops (see optim.cpp, serialize.cpp, generator.cpp, share.cpp, distributed.cpp).
#pragma once
#include "convert.h"

namespace tl {
extern const OpEntry optim_ops[];
extern const OpEntry serialize_ops[];
extern const OpEntry generator_ops[];
extern const OpEntry share_ops[];
extern const OpEntry distributed_ops[];
}  // namespace tl
