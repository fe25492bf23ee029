// Hand-written entry tables beside the generated ops (see runtime.cpp, optim.cpp, serialize.cpp, generator.cpp, share.cpp, distributed.cpp).
#pragma once
#include <napi.h>

#include "convert.h"

namespace tl {
extern const OpEntry runtime_ops[];
extern const OpEntry optim_ops[];
extern const OpEntry serialize_ops[];
extern const OpEntry generator_ops[];
extern const OpEntry share_ops[];
extern const OpEntry distributed_ops[];
extern const OpEntry ddp_ops[];
extern const OpEntry watchdog_ops[];

// runtime.cpp: config() for JS, and the process's one-time set-up (Init calls it).
Napi::Value runtime_config(const Napi::CallbackInfo& info);
void setup_process();
}  // namespace tl
