// Random-number generators as objects (torch.Generator): a per-thread table of CPU
// generators that JS refers to by id. Id 0 in the state functions is the default CPU
// generator (the one manualSeed seeds); in op arguments, absent means the default.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>

#include <mutex>

#include "convert.h"
#include "entries.h"

namespace tl {

namespace {


at::Generator& lookup(const Call& c, size_t i, const char* name) {
  uint32_t id = 0;
  if (i >= c.argc || napi_get_value_uint32(c.env, c.argv[i], &id) != napi_ok) arg_error(c, i, name, "a Generator");
  if (id == 0) {
    static thread_local at::Generator def;
    def = at::detail::getDefaultCPUGenerator();
    return def;
  }
  GeneratorTable& table = addon().generators;
  if (id >= table.slots.size() || !table.slots[id].defined())
    throw ArgError(std::string(c.op) + "(): the Generator was disposed; create a new one with new torch.Generator()");
  return table.slots[id];
}

uint64_t seed_arg(const Call& c, size_t i, const char* name) {
  bool lossless = true;
  uint64_t u;
  if (napi_get_value_bigint_uint64(c.env, c.argv[i], &u, &lossless) == napi_ok) {
    if (!lossless) arg_error(c, i, name, "a seed in [0, 2**64)");
    return u;
  }
  int64_t s = i64(c, i, name);  // negative seeds wrap as Python's manual_seed does
  return static_cast<uint64_t>(s);
}

napi_value seed_value(napi_env env, uint64_t s) {
  napi_value v;
  if (s <= 9007199254740991ULL) napi_create_double(env, static_cast<double>(s), &v);
  else napi_create_bigint_uint64(env, s, &v);
  return v;
}

// generatorNew(seed?) -> id (seeded with `seed`, else with the default seed 67280421310721 as PyTorch)
TL_FN(generatorNew) {
  TL_OP_BEGIN("Generator", 1);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>();
  if (!absent(c, 0)) {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed_arg(c, 0, "seed"));
  }
  GeneratorTable& table = addon().generators;
  uint32_t id;
  if (!table.free.empty()) {
    id = table.free.back();
    table.free.pop_back();
    table.slots[id] = std::move(gen);
  } else {
    id = static_cast<uint32_t>(table.slots.size());
    table.slots.push_back(std::move(gen));
  }
  napi_value v;
  napi_create_uint32(env, id, &v);
  return v;
  TL_OP_END;
}

TL_FN(generatorFree) {
  TL_OP_BEGIN("Generator.dispose", 1);
  uint32_t id = 0;
  napi_get_value_uint32(env, c.argv[0], &id);
  GeneratorTable& table = addon().generators;
  if (id != 0 && id < table.slots.size() && table.slots[id].defined()) {
    table.slots[id] = at::Generator();
    table.free.push_back(id);
  }
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(generatorManualSeed) {
  TL_OP_BEGIN("Generator.manual_seed", 2);
  at::Generator& gen = lookup(c, 0, "generator");
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_current_seed(seed_arg(c, 1, "seed"));
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(generatorInitialSeed) {
  TL_OP_BEGIN("Generator.initial_seed", 1);
  at::Generator& gen = lookup(c, 0, "generator");
  return seed_value(env, gen.current_seed());
  TL_OP_END;
}

// A fresh non-deterministic seed, as Generator.seed()
TL_FN(generatorSeed) {
  TL_OP_BEGIN("Generator.seed", 1);
  at::Generator& gen = lookup(c, 0, "generator");
  std::lock_guard<std::mutex> lock(gen.mutex());
  uint64_t s = c10::detail::getNonDeterministicRandom();
  gen.set_current_seed(s);
  return seed_value(env, s);
  TL_OP_END;
}

// The full state as a uint8 tensor (Python's get_state()), for checkpoints
TL_FN(generatorGetState) {
  TL_OP_BEGIN("Generator.get_state", 1);
  at::Generator& gen = lookup(c, 0, "generator");
  std::lock_guard<std::mutex> lock(gen.mutex());
  return wrap(c, gen.get_state());
  TL_OP_END;
}

TL_FN(generatorSetState) {
  TL_OP_BEGIN("Generator.set_state", 2);
  at::Generator& gen = lookup(c, 0, "generator");
  const at::Tensor& state = tensor(c, 1, "state");
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
  return undefined_value(c);
  TL_OP_END;
}
}  // namespace

c10::optional<at::Generator> opt_generator(const Call& c, size_t i, const char* name) {
  if (absent(c, i)) return c10::nullopt;
  return lookup(c, i, name);
}

const OpEntry generator_ops[] = {
    {"generatorNew", generatorNew}, {"generatorFree", generatorFree}, {"generatorManualSeed", generatorManualSeed},
    {"generatorInitialSeed", generatorInitialSeed}, {"generatorSeed", generatorSeed},
    {"generatorGetState", generatorGetState}, {"generatorSetState", generatorSetState}, {nullptr, nullptr},
};

}  // namespace tl
