// The run's private rendezvous store: a key-value server that answers only clients proving the
// run's secret, and the c10d::Store that speaks to it (Gloo's and NCCL's rendezvous, and
// torchlight's collective bookkeeping, go through it as through a TCPStore).
//
// Beyond PyTorch's TCPStore, which serves anyone who can reach its port: the first frame of a
// connection must carry a secret the server was given (`allow`), else the connection is closed
// unanswered; each secret has its own namespace of keys (TorchTrainer gives each attempt one,
// and revokes the last attempt's: a stale worker can neither read nor write the new one's);
// a request is at most kMaxFrame bytes (a larger announced size is refused before any of it
// is read) and a namespace holds at most kMaxNamespaceBytes; the server is one poll() loop
// over non-blocking sockets, so a client that stalls mid-request, or never authenticates,
// holds only its own connection (unauthenticated ones are closed after kHelloTimeout, and
// beyond kMaxUnauthenticated the oldest is dropped).
//
// Wire format (little-endian): each frame is a u32 length and that many bytes; a request is an
// op byte and its fields, a reply a status byte (0 ok, 1 timed out, 2 error + message) and its
// fields; strings are a u32 length and bytes.
#pragma once
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace tl {
namespace auth_store {

constexpr size_t kMaxKey = 64 * 1024;
constexpr size_t kMaxValue = 32 * 1024 * 1024;
constexpr size_t kMaxFrame = kMaxValue + kMaxKey + 64;
constexpr size_t kMaxHello = 1024;
constexpr int64_t kMaxNamespaceBytes = int64_t{1} << 30;
constexpr size_t kMaxUnauthenticated = 64;
constexpr std::chrono::milliseconds kHelloTimeout{10000};

struct Stats {
  int64_t connections = 0;      // open, authenticated or not
  int64_t unauthenticated = 0;  // open, not yet authenticated
  int64_t refused = 0;          // connections closed for a wrong secret, a malformed or oversized frame, or silence
  int64_t keys = 0;
  int64_t bytes = 0;            // of keys and values held
};

// Whether `host` names this machine's loopback (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& host);

class Server {
 public:
  // Binds host:port (port 0: a free one) and starts serving on a thread of its own.
  Server(const std::string& host, uint16_t port);
  ~Server();  // stops the thread and closes every connection
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  uint16_t port() const;
  // Clients presenting `token` get namespace `ns` (one token per namespace; a new one replaces it).
  void allow(const std::string& ns, const std::string& token);
  // Forgets ns's token, closes its connections and drops its keys.
  void revoke(const std::string& ns);
  Stats stats() const;
  // The host's own access to a namespace (the driver reads its workers' watchdog records and
  // leaves them commands): values of `keys` that exist, and a set that wakes no waiter.
  std::vector<std::optional<std::string>> read(const std::string& ns, const std::vector<std::string>& keys) const;
  void write(const std::string& ns, const std::string& key, const std::string& value);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// A c10d::Store over one authenticated connection (requests are serialised, as TCPStore's).
class Client : public c10d::Store {
 public:
  // Connects (retrying until `timeout` while the server is not up yet) and authenticates.
  Client(std::string host, uint16_t port, std::string token, std::chrono::milliseconds timeout);
  ~Client() override;

  // Another connection to the same namespace (libtorch 2.x's Store::clone, which NCCL's
  // watchdog uses; declared without `override` since 1.13's Store has no clone).
  c10::intrusive_ptr<c10d::Store> clone();

  void set(const std::string& key, const std::vector<uint8_t>& value) override;
  std::vector<uint8_t> compareSet(const std::string& key, const std::vector<uint8_t>& expected, const std::vector<uint8_t>& desired) override;
  std::vector<uint8_t> get(const std::string& key) override;
  int64_t add(const std::string& key, int64_t value) override;
  bool deleteKey(const std::string& key) override;
  bool check(const std::vector<std::string>& keys) override;
  int64_t getNumKeys() override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;
  // The values of the keys that exist now (nullopt for the others), in one round trip.
  std::vector<std::optional<std::vector<uint8_t>>> get_now(const std::vector<std::string>& keys);
  // Sets `key`, then reads `keys` as get_now: one round trip (a collective's bookkeeping).
  std::vector<std::optional<std::vector<uint8_t>>> set_get_now(const std::string& key, const std::vector<uint8_t>& value, const std::vector<std::string>& keys);

 private:
  std::string request(const std::string& frame, std::chrono::milliseconds wait);
  std::vector<std::optional<std::vector<uint8_t>>> values_of(const std::string& reply);
  void connect_locked(std::chrono::steady_clock::time_point deadline);
  void close_locked();
  std::string where() const;

  std::string host_;
  uint16_t port_;
  std::string token_;
  int fd_ = -1;
  std::mutex mutex_;
};

}  // namespace auth_store
}  // namespace tl
