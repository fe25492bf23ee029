// See c10d_js.h.
#include "c10d_js.h"

#include <memory>
#include <mutex>
#include <thread>

namespace tl {
namespace c10d_js {
namespace reg = c10d_groups;
using c10d_groups::Group;

Group& store_of(const Call& c, size_t i) {
  Group* g = reg::find(static_cast<uint32_t>(i64(c, i, "group")));
  if (!g) throw ArgError(std::string(c.op) + "(): the process group was destroyed (or never initialised); call initProcessGroup first");
  return *g;
}

Group& group_of(const Call& c, size_t i) {
  Group& g = store_of(c, i);
  if (!g.pg) throw ArgError(std::string(c.op) + "(): this id is a store connection (storeConnect), not a process group");
  return g;
}

c10d::ReduceOp reduce_op(const Call& c, size_t i) {
  std::string op = string(c, i, "op");
  if (op == "sum") return c10d::ReduceOp::SUM;
  if (op == "product") return c10d::ReduceOp::PRODUCT;
  if (op == "min") return c10d::ReduceOp::MIN;
  if (op == "max") return c10d::ReduceOp::MAX;
  throw ArgError(std::string(c.op) + "(): expected op \"sum\", \"avg\", \"product\", \"min\" or \"max\" but received \"" + op + "\"");
}

napi_value make_error(napi_env env, const std::string& message) {
  napi_value msg, code, err;
  napi_create_string_utf8(env, message.c_str(), message.size(), &msg);
  napi_create_string_utf8(env, "DIST_BACKEND_ERROR", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &err);
  return err;
}

std::string what_of(std::exception_ptr p) {
  try {
    std::rethrow_exception(p);
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

// ---- completion of a Work through its future ---------------------------------------------

namespace {
struct Pending {
  napi_deferred deferred;
  napi_threadsafe_function tsfn;
  std::string error;  // empty on success
  c10::intrusive_ptr<c10d::Work> work;  // kept alive until completion
  std::vector<at::Tensor> keep;         // the tensors the collective reads and writes
};

void settle_on_js(napi_env env, napi_value, void*, void* data) {
  std::unique_ptr<Pending> p(static_cast<Pending*>(data));
  if (env) {
    if (p->error.empty()) {
      napi_value undef;
      napi_get_undefined(env, &undef);
      napi_resolve_deferred(env, p->deferred, undef);
    } else {
      napi_reject_deferred(env, p->deferred, make_error(env, p->error));
    }
  }
  napi_release_threadsafe_function(p->tsfn, napi_tsfn_release);
}

}  // namespace

// Returns a Promise settled when `work` completes.
napi_value promise_of(const Call& c, c10::intrusive_ptr<c10d::Work> work, std::vector<at::Tensor> keep) {
  napi_value promise, name;
  auto* p = new Pending{};
  napi_create_promise(c.env, &p->deferred, &promise);
  napi_create_string_utf8(c.env, c.op, NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(c.env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, nullptr, settle_on_js, &p->tsfn);
  p->work = work;
  p->keep = std::move(keep);
  c10::intrusive_ptr<c10::ivalue::Future> fut;
  try {
    fut = work->getFuture();
  } catch (const c10::Error&) {
    // some of Gloo's works (send, recv, barrier in 1.13) have no future: wait on the libuv pool
    napi_threadsafe_function tsfn = p->tsfn;
    std::thread([p, tsfn]() {
      try {
        p->work->wait();
      } catch (...) {
        p->error = what_of(std::current_exception());
      }
      p->work.reset();
      napi_call_threadsafe_function(tsfn, p, napi_tsfn_blocking);
    }).detach();
    return promise;
  }
  fut->addCallback([p](c10::ivalue::Future& f) {
    if (f.hasError()) p->error = what_of(f.exception_ptr());
    p->work.reset();
    napi_call_threadsafe_function(p->tsfn, p, napi_tsfn_blocking);
  });
  return promise;
}

// ---- async work on the libuv pool (rendezvous, coalesced broadcasts) ---------------------

namespace {
struct Job {
  napi_async_work work;
  napi_deferred deferred;
  std::function<void()> run;
  std::function<napi_value(napi_env)> done;
  std::string error;
};

}  // namespace

napi_value run_async(const Call& c, std::function<void()> run, std::function<napi_value(napi_env)> done) {
  napi_value promise, name;
  auto* job = new Job{nullptr, nullptr, std::move(run), std::move(done), {}};
  napi_create_promise(c.env, &job->deferred, &promise);
  napi_create_string_utf8(c.env, c.op, NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(
      c.env, nullptr, name,
      [](napi_env, void* data) {
        auto* j = static_cast<Job*>(data);
        try {
          j->run();
        } catch (...) {
          j->error = what_of(std::current_exception());
        }
      },
      [](napi_env env, napi_status, void* data) {
        std::unique_ptr<Job> j(static_cast<Job*>(data));
        if (j->error.empty()) napi_resolve_deferred(env, j->deferred, j->done(env));
        else napi_reject_deferred(env, j->deferred, make_error(env, j->error));
        napi_delete_async_work(env, j->work);
      },
      job, &job->work);
  napi_queue_async_work(c.env, job->work);
  return promise;
}

}  // namespace c10d_js
}  // namespace tl
