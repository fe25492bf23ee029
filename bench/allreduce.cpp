// The floor for torchlight's all-reduce benchmark: the same c10d calls from plain C++
// (TCPStore rendezvous, ProcessGroupGloo, allreduce of 64 MiB float32), built by bench/dist.py.
//   allreduce <rank> <world> <port> <rounds> [host]   → one JSON line per round (rank 0); host:
//   where rank 0 hosts the store (default 127.0.0.1; another host's name across hosts)
#include <ATen/Parallel.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  int rank = std::atoi(argv[1]), world = std::atoi(argv[2]), port = std::atoi(argv[3]), rounds = std::atoi(argv[4]);
  at::set_num_threads(1);
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(port);
  so.isServer = rank == 0;
  so.numWorkers = world;
  so.waitWorkers = false;
  auto store = c10::make_intrusive<c10d::TCPStore>(argc > 5 ? argv[5] : "127.0.0.1", so);
  auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::milliseconds(60000));
  opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  c10d::ProcessGroupGloo pg(c10::make_intrusive<c10d::PrefixStore>("default_pg", store), rank, world, opts);
  std::vector<at::Tensor> t{at::ones({16 * 1024 * 1024})};  // 64 MiB of float32
  for (int w = 0; w < 2; ++w) pg.allreduce(t)->wait();
  for (int r = 0; r < rounds; ++r) {
    const int n = 10;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) pg.allreduce(t)->wait();
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / n;
    if (rank == 0) std::printf("{\"workload\": \"allreduce\", \"side\": \"python\", \"impl\": \"c++ c10d\", \"round\": %d, \"msPerAllReduce\": %.3f}\n", r, ms), std::fflush(stdout);
  }
  return 0;
}
