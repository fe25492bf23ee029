// Passing tensors between JS threads (DataLoader worker threads) without copying: a
// process-wide table of tensor references, keyed by token. Each JS thread has its own handle
// table, so a worker exports a tensor (the table holds a reference), posts the token, and
// the main thread imports it into its own table. at::Tensor's reference count is atomic, so
// the storage simply gains an owner on the other thread.
#include <mutex>
#include <unordered_map>

#include "convert.h"
#include "entries.h"

namespace tl {
namespace {

struct Shared {
  at::Tensor tensor;
  bool persistent;  // imported any number of times until released (a dataset's tensors)
};
std::mutex g_mutex;
std::unordered_map<uint32_t, Shared> g_shared;
uint32_t g_next = 1;

// exportTensor(h, persistent = false) -> token
TL_FN(exportTensor) {
  TL_OP_BEGIN("share", 2);
  at::Tensor t = tensor(c, 0, "tensor");
  bool persistent = boolean_or(c, 1, "persistent", false);
  std::lock_guard<std::mutex> lock(g_mutex);
  uint32_t token = g_next++;
  if (g_next == 0) g_next = 1;
  g_shared.emplace(token, Shared{std::move(t), persistent});
  napi_value v;
  napi_create_uint32(env, token, &v);
  return v;
  TL_OP_END;
}

// importTensor(token) -> handle in this thread's table (a one-time token is consumed)
TL_FN(importTensor) {
  TL_OP_BEGIN("share", 1);
  uint32_t token = static_cast<uint32_t>(i64(c, 0, "token"));
  at::Tensor t;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_shared.find(token);
    if (it == g_shared.end()) throw ArgError("importTensor(): token " + std::to_string(token) + " is unknown or was already imported");
    t = it->second.tensor;
    if (!it->second.persistent) g_shared.erase(it);
  }
  return wrap(c, std::move(t));
  TL_OP_END;
}

// releaseTokens([token, ...]): drops tokens that will never be imported
TL_FN(releaseTokens) {
  TL_OP_BEGIN("share", 1);
  uint32_t n = array_length(c, 0, "tokens", "an array of tokens");
  std::vector<at::Tensor> dead;  // destroyed after the lock is released
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (uint32_t k = 0; k < n; ++k) {
      uint32_t token = static_cast<uint32_t>(to_int(c, element(c, 0, k), 0, "tokens"));
      auto it = g_shared.find(token);
      if (it != g_shared.end()) {
        dead.push_back(std::move(it->second.tensor));
        g_shared.erase(it);
      }
    }
  }
  return undefined_value(c);
  TL_OP_END;
}

TL_FN(sharedCount) {
  TL_OP_BEGIN("share", 1);  // no arguments (a zero-length argv array is not C++)
  std::lock_guard<std::mutex> lock(g_mutex);
  return ret_int(c, static_cast<int64_t>(g_shared.size()));
  TL_OP_END;
}
}  // namespace

const OpEntry share_ops[] = {
    {"exportTensor", exportTensor}, {"importTensor", importTensor}, {"releaseTokens", releaseTokens},
    {"sharedCount", sharedCount}, {nullptr, nullptr},
};

}  // namespace tl
