// A TorchTrainer worker's watchdog: a native thread, so it runs whatever the JS thread does
// (spinning in user code, blocked in a collective or in DDP's backward). Every interval it
// writes the rank's record into the run's private store, in one round trip with reading its
// command key:
//   tl_watch/<rank> = {"beat": ms since the epoch, "pid", "inside": the oldest collective in
//                      flight {"stream", "op", "seq", "since"} or null (user code),
//                      "reached": {stream: highest sequence number entered}}
// The driver reads these to name a hung rank ("rank 1 has not reached allReduce #57 for 60 s;
// rank 0 waits in it"). When the driver leaves "stack" in tl_watch_cmd/<rank>, the watchdog
// asks V8 to interrupt the JS thread (RequestInterrupt: runs even in a spinning loop, not while
// the thread is inside native code) and writes the JS stack to tl_watch_stack/<rank>.
// When the store stops answering for `graceMs` (the driver is gone, or this attempt was
// revoked), the worker exits: PR_SET_PDEATHSIG covers a driver that is the parent, this covers
// one that is not (a Slurm step's parent is slurmstepd) and a lost connection.
#include <node_api.h>
#include <unistd.h>
#include <v8.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "auth_store.h"
#include "convert.h"
#include "entries.h"

namespace tl {
namespace {

int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  return out + "\"";
}

struct Inside {
  std::string stream, op;
  int64_t seq;
  int64_t since;
};

// Heap-allocated and never freed: the detached thread may outlive static destruction at exit.
struct Watch {
  std::mutex mu;
  std::map<uint64_t, Inside> inside;  // by token, in entry order
  std::map<std::string, int64_t> reached;
  uint64_t next = 1;
  std::atomic<bool> started{false};
  v8::Isolate* isolate = nullptr;
  // a stack capture in progress
  std::mutex stack_mu;
  std::condition_variable stack_cv;
  std::string stack;
  bool stack_ready = false;
};
Watch& watch() {
  static Watch* w = new Watch();
  return *w;
}

std::string record() {
  Watch& w = watch();
  std::lock_guard<std::mutex> lock(w.mu);
  std::string out = "{\"beat\":" + std::to_string(epoch_ms()) + ",\"pid\":" + std::to_string(getpid()) + ",\"inside\":";
  if (w.inside.empty()) {
    out += "null";
  } else {
    const Inside& i = w.inside.begin()->second;
    out += "{\"stream\":" + json_string(i.stream) + ",\"op\":" + json_string(i.op) + ",\"seq\":" + std::to_string(i.seq) + ",\"since\":" + std::to_string(i.since) + "}";
  }
  out += ",\"reached\":{";
  bool first = true;
  for (auto& [stream, seq] : w.reached) {
    out += (first ? "" : ",") + json_string(stream) + ":" + std::to_string(seq);
    first = false;
  }
  return out + "}}";
}

// Runs on the JS thread at V8's next interrupt check.
void capture_stack(v8::Isolate* isolate, void*) {
  Watch& w = watch();
  std::string out;
  {
    v8::HandleScope scope(isolate);
    v8::Local<v8::StackTrace> st = v8::StackTrace::CurrentStackTrace(isolate, 40, v8::StackTrace::kDetailed);
    for (int i = 0; i < st->GetFrameCount(); ++i) {
      v8::Local<v8::StackFrame> f = st->GetFrame(isolate, static_cast<uint32_t>(i));
      v8::String::Utf8Value fn(isolate, f->GetFunctionName()), file(isolate, f->GetScriptName());
      out += "    at " + std::string(fn.length() > 0 ? *fn : "<anonymous>") + " (" + std::string(file.length() > 0 ? *file : "<unknown>") + ":" +
             std::to_string(f->GetLineNumber()) + ":" + std::to_string(f->GetColumn()) + ")\n";
    }
  }
  std::lock_guard<std::mutex> lock(w.stack_mu);
  w.stack = out.empty() ? "(no JavaScript frames: the event loop was idle)\n" : out;
  w.stack_ready = true;
  w.stack_cv.notify_all();
}

std::string js_stack(std::chrono::milliseconds wait) {
  Watch& w = watch();
  {
    std::lock_guard<std::mutex> lock(w.stack_mu);
    w.stack_ready = false;
  }
  w.isolate->RequestInterrupt(capture_stack, nullptr);
  std::unique_lock<std::mutex> lock(w.stack_mu);
  if (!w.stack_cv.wait_for(lock, wait, [&] { return w.stack_ready; })) {
    return "(no JavaScript stack: the JS thread did not reach an interrupt check within " + std::to_string(wait.count()) + " ms, so it is inside native code)\n";
  }
  return w.stack;
}

void run(std::shared_ptr<auth_store::Client> client, int64_t rank, std::chrono::milliseconds interval, std::chrono::milliseconds grace, std::string where) {
  const std::string key = "tl_watch/" + std::to_string(rank), cmd = "tl_watch_cmd/" + std::to_string(rank), out = "tl_watch_stack/" + std::to_string(rank);
  std::optional<std::chrono::steady_clock::time_point> failing;
  std::string last_error;
  bool stack_sent = false;
  for (;;) {
    try {
      auto got = client->set_get_now(key, [&] { std::string r = record(); return std::vector<uint8_t>(r.begin(), r.end()); }(), {cmd});
      failing.reset();
      if (!stack_sent && !got.empty() && got[0] && std::string(got[0]->begin(), got[0]->end()) == "stack") {
        std::string s = js_stack(std::chrono::milliseconds(2000));
        client->set(out, std::vector<uint8_t>(s.begin(), s.end()));
        stack_sent = true;
      }
    } catch (const std::exception& e) {
      last_error = e.what();
      auto now = std::chrono::steady_clock::now();
      if (!failing) failing = now;
      if (now - *failing >= grace) {
        std::string m = "torchlight: worker rank " + std::to_string(rank) + " (pid " + std::to_string(getpid()) + "): the driver's store at " + where +
                        " has not answered for " + std::to_string(grace.count() / 1000) + " s (" + last_error + "); the driver is gone, so this worker exits\n";
        (void)!write(2, m.data(), m.size());
        _exit(70);
      }
    }
    std::this_thread::sleep_for(interval);
  }
}

// watchdogStart(host, port, secret, rank, intervalMs, graceMs): connects to the run's private
// store (throws when it cannot) and starts the thread. Once per process.
TL_FN(watchdogStart) {
  TL_OP_BEGIN("watchdog_start", 6);
  std::string host = string(c, 0, "host"), secret = string(c, 2, "secret");
  int64_t port = i64(c, 1, "port"), rank = i64(c, 3, "rank"), interval = i64(c, 4, "intervalMs"), grace = i64(c, 5, "graceMs");
  if (port < 1 || port > 65535) throw ArgError("watchdog_start(): port " + std::to_string(port) + " is not a TCP port");
  if (interval < 10 || grace < interval) throw ArgError("watchdog_start(): intervalMs must be at least 10 and graceMs at least intervalMs");
  Watch& w = watch();
  if (w.started.exchange(true)) throw ArgError("watchdog_start(): the watchdog of this process is already running");
  w.isolate = v8::Isolate::GetCurrent();
  std::shared_ptr<auth_store::Client> client;
  try {
    client = std::make_shared<auth_store::Client>(host, static_cast<uint16_t>(port), secret, std::chrono::milliseconds(std::min<int64_t>(grace, 5000)));
  } catch (...) {
    w.started = false;
    throw;
  }
  std::string where = host + ":" + std::to_string(port);
  std::thread(run, client, rank, std::chrono::milliseconds(interval), std::chrono::milliseconds(grace), where).detach();
  return undefined_value(c);
  TL_OP_END;
}

// watchEnter(stream, op, seq) -> token: this rank entered collective `seq` of `stream`.
TL_FN(watchEnter) {
  TL_OP_BEGIN("watch_enter", 3);
  std::string stream = string(c, 0, "stream"), op = string(c, 1, "op");
  int64_t seq = i64(c, 2, "seq");
  Watch& w = watch();
  uint64_t token;
  {
    std::lock_guard<std::mutex> lock(w.mu);
    token = w.next++;
    w.inside.emplace(token, Inside{stream, op, seq, epoch_ms()});
    int64_t& r = w.reached[stream];
    if (seq > r) r = seq;
  }
  napi_value v;
  napi_create_double(env, static_cast<double>(token), &v);
  return v;
  TL_OP_END;
}

// watchLeave(token): that collective completed (or failed) on this rank.
TL_FN(watchLeave) {
  TL_OP_BEGIN("watch_leave", 1);
  auto token = static_cast<uint64_t>(i64(c, 0, "token"));
  Watch& w = watch();
  std::lock_guard<std::mutex> lock(w.mu);
  w.inside.erase(token);
  return undefined_value(c);
  TL_OP_END;
}

}  // namespace

const OpEntry watchdog_ops[] = {
    {"watchdogStart", watchdogStart}, {"watchEnter", watchEnter}, {"watchLeave", watchLeave}, {nullptr, nullptr},
};

}  // namespace tl
