// torch.save / torch.load in PyTorch's own format (a zip holding data.pkl and one record per
// storage). The pickles are written and read in JS (pickler.ts, serialization.ts): libtorch's
// pickle_save tags typed containers with globals that Python 2.6's default (weights_only)
// torch.load refuses, and its unpickler rejects Python's state dicts (an OrderedDict carrying
// `_metadata`). Here: the zip container, by libtorch's own reader and writer.
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <cstring>

#include "convert.h"
#include "entries.h"

namespace tl {
namespace {


// writeZip(records: [name, Buffer][]) -> Buffer: a torch.save zip ("archive/" + name per
// record, data records 64-byte aligned, the format version record added by the writer), by
// libtorch's own PyTorchStreamWriter. The pickle itself is written in JS (pickler.ts) with
// only what Python's weights_only unpickler allows.
TL_FN(writeZip) {
  TL_OP_BEGIN("save", 1);
  uint32_t n = array_length(c, 0, "records", "an array of [name, Buffer] pairs");
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&out](const void* buf, size_t len) -> size_t {
    if (len) out.insert(out.end(), static_cast<const char*>(buf), static_cast<const char*>(buf) + len);
    return len;
  });
  for (uint32_t i = 0; i < n; ++i) {
    napi_value pair = element(c, 0, i), name_v, data_v;
    napi_get_element(env, pair, 0, &name_v);
    napi_get_element(env, pair, 1, &data_v);
    size_t len = 0;
    napi_get_value_string_utf8(env, name_v, nullptr, 0, &len);
    std::string name(len, '\0');
    napi_get_value_string_utf8(env, name_v, name.data(), len + 1, &len);
    bool is_buffer = false;
    napi_is_buffer(env, data_v, &is_buffer);
    if (!is_buffer) throw ArgError("save(): record " + name + " is not a Buffer");
    void* data;
    size_t size;
    napi_get_buffer_info(env, data_v, &data, &size);
    writer.writeRecord(name, data, size);
  }
  writer.writeEndOfFile();
  napi_value buf;
  void* dst;
  napi_create_buffer(env, out.size(), &dst, &buf);
  if (!out.empty()) std::memcpy(dst, out.data(), out.size());
  return buf;
  TL_OP_END;
}

// A zip held in JS memory, read in place by libtorch's own reader.
struct BufferAdapter : caffe2::serialize::ReadAdapterInterface {
  const char* data;
  size_t len;
  BufferAdapter(const char* d, size_t n) : data(d), len(n) {}
  size_t size() const override { return len; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* what) const override {
    if (pos >= len) return 0;
    size_t k = std::min<size_t>(n, len - pos);
    std::memcpy(buf, data + pos, k);
    return k;
  }
};

// readZip(bytes) -> [[name, Buffer], ...]: the records of a torch.save zip (names without
// the archive's top folder: "data.pkl", "data/0", ...). Python's files are read here and
// unpickled in JS (serialization.ts), which knows Python's OrderedDicts and Parameters.
TL_FN(readZip) {
  TL_OP_BEGIN("load", 1);
  void* data;
  size_t len;
  bool is_buffer = false;
  napi_is_buffer(env, c.argv[0], &is_buffer);
  if (!is_buffer) arg_error(c, 0, "bytes", "a Buffer");
  napi_get_buffer_info(env, c.argv[0], &data, &len);
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BufferAdapter>(static_cast<const char*>(data), len));
  std::vector<std::string> names = reader.getAllRecords();
  napi_value out;
  napi_create_array_with_length(env, names.size(), &out);
  for (size_t i = 0; i < names.size(); ++i) {
    auto [ptr, size] = reader.getRecord(names[i]);
    napi_value pair, name, buf;
    void* dst;
    napi_create_buffer(env, size, &dst, &buf);
    if (size) std::memcpy(dst, ptr.get(), size);
    napi_create_string_utf8(env, names[i].data(), names[i].size(), &name);
    napi_create_array_with_length(env, 2, &pair);
    napi_set_element(env, pair, 0, name);
    napi_set_element(env, pair, 1, buf);
    napi_set_element(env, out, i, pair);
  }
  return out;
  TL_OP_END;
}

}  // namespace

const OpEntry serialize_ops[] = {{"writeZip", writeZip}, {"readZip", readZip}, {nullptr, nullptr}};

}  // namespace tl
