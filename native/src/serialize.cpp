// torch.save / torch.load in PyTorch's own format (a zip holding data.pkl and one record per
// storage). The pickles are written and read in JS (pickler.ts, serialization.ts): libtorch's
// pickle_save tags typed containers with globals that Python 2.6's default (weights_only)
// torch.load refuses, and its unpickler rejects Python's state dicts (an OrderedDict carrying
// `_metadata`). Here: the zip container, written by libtorch's own writer (it is read in JS,
// src/torch/zip.ts, which inflates only the records the pickle references, and checks them).
#include <caffe2/serialize/inline_container.h>

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

}  // namespace

const OpEntry serialize_ops[] = {{"writeZip", writeZip}, {nullptr, nullptr}};

}  // namespace tl
