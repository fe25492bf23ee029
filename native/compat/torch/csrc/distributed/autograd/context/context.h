// Stand-in for a header Debian's libtorch-dev 1.13 does not ship, which
// <torch/csrc/distributed/c10d/reducer.hpp> includes for two names only: the type of a
// shared pointer to the distributed-autograd context and its GradCallback. The Reducer
// never dereferences the context here (no distributed autograd), and a shared_ptr's layout
// does not depend on its pointee, so these declarations match the library's.
// This folder is searched after libtorch's own include folders: a full libtorch (a pip
// torch) uses its real header.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>

namespace torch {
namespace distributed {
namespace autograd {

class DistAutogradContext {
 public:
  using GradCallback = std::function<bool(at::Tensor&)>;
};
using ContextPtr = std::shared_ptr<DistAutogradContext>;

}  // namespace autograd
}  // namespace distributed
}  // namespace torch
