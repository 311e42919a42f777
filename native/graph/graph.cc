// A thin bridge to TensorFlow's graph and session C API. It knows nothing about layers or
// optimizers: TypeScript assembles the graph op by op, and a training step is one Session.run.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tensorflow/c/c_api.h"
#include "tensorflow/c/tf_tstring.h"

// Not in the C API: whether TensorFlow's oneDNN kernels and graph passes are on in this process
// (TF_ENABLE_ONEDNN_OPTS, else TensorFlow's per-CPU default; read once, on first use).
namespace tensorflow {
bool IsMKLEnabled();
}

namespace {

struct StatusPtr {
  TF_Status* s = TF_NewStatus();
  ~StatusPtr() { TF_DeleteStatus(s); }
  bool ok() const { return TF_GetCode(s) == TF_OK; }
  std::string msg() const { return TF_Message(s); }
};

TF_DataType DtypeOf(const Napi::Value& v) {
  if (v.IsNumber()) return static_cast<TF_DataType>(v.As<Napi::Number>().Int32Value());
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "float32") return TF_FLOAT;
  if (s == "int32") return TF_INT32;
  if (s == "int64") return TF_INT64;
  if (s == "bool") return TF_BOOL;
  if (s == "resource") return TF_RESOURCE;
  if (s == "uint8") return TF_UINT8;
  if (s == "string") return TF_STRING;
  throw Napi::Error::New(v.Env(), "unknown dtype " + s);
}

std::vector<int64_t> Ints(const Napi::Value& v) {
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return out;
}

class Graph;

TF_Operation* Lookup(TF_Graph* g, const std::string& name, Napi::Env env) {
  TF_Operation* op = TF_GraphOperationByName(g, name.c_str());
  if (!op) throw Napi::Error::New(env, "no operation named " + name);
  return op;
}

// An output reference from JS: [opName, index].
TF_Output OutputOf(TF_Graph* g, const Napi::Value& v) {
  auto a = v.As<Napi::Array>();
  return TF_Output{Lookup(g, a.Get(0u).As<Napi::String>().Utf8Value(), v.Env()), a.Get(1u).As<Napi::Number>().Int32Value()};
}

// The reverse: an op output as the JS reference [opName, index].
Napi::Array RefOf(Napi::Env env, TF_Output o) {
  auto r = Napi::Array::New(env, 2);
  r.Set(0u, Napi::String::New(env, TF_OperationName(o.oper)));
  r.Set(1u, Napi::Number::New(env, o.index));
  return r;
}

// A plain array of byte arrays (Buffers) is a string tensor: encoded images for the decode ops.
TF_Tensor* StringTensorFromJs(Napi::Env env, const Napi::Array& items, const std::vector<int64_t>& dims, size_t n) {
  if (items.Length() != n) throw Napi::Error::New(env, "string feed has " + std::to_string(items.Length()) + " items, the shape needs " + std::to_string(n));
  TF_Tensor* t = TF_AllocateTensor(TF_STRING, dims.data(), static_cast<int>(dims.size()), n * sizeof(TF_TString));
  auto* s = static_cast<TF_TString*>(TF_TensorData(t));
  for (size_t i = 0; i < n; i++) TF_StringInit(&s[i]);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = items.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      for (uint32_t j = 0; j < i; j++) TF_StringDealloc(&s[j]);
      TF_DeleteTensor(t);
      throw Napi::Error::New(env, "string feeds must be arrays of Uint8Array");
    }
    auto b = v.As<Napi::Uint8Array>();
    TF_StringCopy(&s[i], reinterpret_cast<const char*>(b.Data()), b.ByteLength());
  }
  return t;
}

TF_Tensor* TensorFromJs(Napi::Env env, const Napi::Value& data, const Napi::Value& shapeV) {
  auto dims = Ints(shapeV);
  size_t n = 1;
  for (auto d : dims) n *= static_cast<size_t>(d);
  if (data.IsArray()) return StringTensorFromJs(env, data.As<Napi::Array>(), dims, n);
  auto ta = data.As<Napi::TypedArray>();
  TF_DataType dt;
  size_t width;
  switch (ta.TypedArrayType()) {
    case napi_float32_array: dt = TF_FLOAT; width = 4; break;
    case napi_int32_array: dt = TF_INT32; width = 4; break;
    case napi_uint8_array: dt = TF_BOOL; width = 1; break;
    default: throw Napi::Error::New(env, "feeds must be Float32Array, Int32Array or Uint8Array (bool)");
  }
  if (ta.ElementLength() != n) throw Napi::Error::New(env, "typed array length " + std::to_string(ta.ElementLength()) + " does not match the shape (" + std::to_string(n) + ")");
  TF_Tensor* t = TF_AllocateTensor(dt, dims.data(), static_cast<int>(dims.size()), n * width);
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  if (n) std::memcpy(TF_TensorData(t), src, n * width);
  return t;
}

Napi::Value TensorToJs(Napi::Env env, TF_Tensor* t) {
  int nd = TF_NumDims(t);
  auto shape = Napi::Array::New(env, nd);
  size_t n = 1;
  for (int i = 0; i < nd; i++) {
    int64_t d = TF_Dim(t, i);
    n *= static_cast<size_t>(d);
    shape.Set(i, Napi::Number::New(env, static_cast<double>(d)));
  }
  Napi::Value data;
  switch (TF_TensorType(t)) {
    case TF_FLOAT: {
      auto a = Napi::Float32Array::New(env, n);
      if (n) std::memcpy(a.Data(), TF_TensorData(t), n * 4);
      data = a;
      break;
    }
    case TF_INT32: {
      auto a = Napi::Int32Array::New(env, n);
      if (n) std::memcpy(a.Data(), TF_TensorData(t), n * 4);
      data = a;
      break;
    }
    case TF_INT64: {
      auto a = Napi::Float64Array::New(env, n);
      const int64_t* s = static_cast<const int64_t*>(TF_TensorData(t));
      for (size_t i = 0; i < n; i++) a[i] = static_cast<double>(s[i]);
      data = a;
      break;
    }
    case TF_BOOL:
    case TF_UINT8: {
      auto a = Napi::Uint8Array::New(env, n);
      if (n) std::memcpy(a.Data(), TF_TensorData(t), n);
      data = a;
      break;
    }
    default:
      throw Napi::Error::New(env, "cannot fetch a tensor of TF dtype " + std::to_string(TF_TensorType(t)));
  }
  auto o = Napi::Object::New(env);
  o.Set("data", data);
  o.Set("shape", shape);
  return o;
}

void SetAttr(Napi::Env env, TF_OperationDescription* d, const Napi::Array& attr) {
  std::string name = attr.Get(0u).As<Napi::String>().Utf8Value();
  std::string kind = attr.Get(1u).As<Napi::String>().Utf8Value();
  Napi::Value v = attr.Get(2u);
  const char* n = name.c_str();
  if (kind == "type") {
    TF_SetAttrType(d, n, DtypeOf(v));
  } else if (kind == "int") {
    TF_SetAttrInt(d, n, v.As<Napi::Number>().Int64Value());
  } else if (kind == "float") {
    TF_SetAttrFloat(d, n, v.As<Napi::Number>().FloatValue());
  } else if (kind == "bool") {
    TF_SetAttrBool(d, n, v.As<Napi::Boolean>().Value() ? 1 : 0);
  } else if (kind == "string") {
    std::string s = v.As<Napi::String>().Utf8Value();
    TF_SetAttrString(d, n, s.data(), s.size());
  } else if (kind == "shape") {
    auto dims = Ints(v);
    TF_SetAttrShape(d, n, dims.data(), static_cast<int>(dims.size()));
  } else if (kind == "ints") {
    auto vals = Ints(v);
    TF_SetAttrIntList(d, n, vals.data(), static_cast<int>(vals.size()));
  } else if (kind == "types") {
    auto a = v.As<Napi::Array>();
    std::vector<TF_DataType> ts(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) ts[i] = DtypeOf(a.Get(i));
    TF_SetAttrTypeList(d, n, ts.data(), static_cast<int>(ts.size()));
  } else if (kind == "tensor") {
    auto o = v.As<Napi::Object>();
    TF_Tensor* t = TensorFromJs(env, o.Get("data"), o.Get("shape"));
    StatusPtr st;
    TF_SetAttrTensor(d, n, t, st.s);
    TF_DeleteTensor(t);
    if (!st.ok()) throw Napi::Error::New(env, "attr " + name + ": " + st.msg());
  } else {
    throw Napi::Error::New(env, "unknown attr kind " + kind);
  }
}

class Session;

class Graph : public Napi::ObjectWrap<Graph> {
 public:
  static Napi::FunctionReference ctor;
  static void Init(Napi::Env env, Napi::Object exports) {
    auto f = DefineClass(env, "Graph", {
      InstanceMethod("op", &Graph::Op),
      InstanceMethod("gradients", &Graph::Gradients),
      InstanceMethod("shape", &Graph::Shape),
      InstanceMethod("numOutputs", &Graph::NumOutputs),
      InstanceMethod("ops", &Graph::Ops),
    });
    ctor = Napi::Persistent(f);
    exports.Set("Graph", f);
  }
  explicit Graph(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Graph>(info), graph_(TF_NewGraph()) {}
  ~Graph() override { TF_DeleteGraph(graph_); }
  TF_Graph* graph() const { return graph_; }

 private:
  // op(type, name, inputs: (ref | ref[])[], attrs: [name, kind, value][], controlInputs?: string[], device?: string) -> number of outputs
  Napi::Value Op(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string type = info[0].As<Napi::String>().Utf8Value();
    std::string name = info[1].As<Napi::String>().Utf8Value();
    TF_OperationDescription* d = TF_NewOperation(graph_, type.c_str(), name.c_str());
    auto inputs = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < inputs.Length(); i++) {
      auto in = inputs.Get(i).As<Napi::Array>();
      if (in.Length() > 0 && in.Get(0u).IsArray()) {
        std::vector<TF_Output> list(in.Length());
        for (uint32_t j = 0; j < in.Length(); j++) list[j] = OutputOf(graph_, in.Get(j));
        TF_AddInputList(d, list.data(), static_cast<int>(list.size()));
      } else if (in.Length() == 0) {
        TF_AddInputList(d, nullptr, 0);
      } else {
        TF_AddInput(d, OutputOf(graph_, in));
      }
    }
    if (info.Length() > 3 && info[3].IsArray()) {
      auto attrs = info[3].As<Napi::Array>();
      for (uint32_t i = 0; i < attrs.Length(); i++) SetAttr(env, d, attrs.Get(i).As<Napi::Array>());
    }
    if (info.Length() > 4 && info[4].IsArray()) {
      auto ctl = info[4].As<Napi::Array>();
      for (uint32_t i = 0; i < ctl.Length(); i++) TF_AddControlInput(d, Lookup(graph_, ctl.Get(i).As<Napi::String>().Utf8Value(), env));
    }
    StatusPtr st;
    TF_Operation* op = TF_FinishOperation(d, st.s);
    if (!st.ok()) throw Napi::Error::New(env, type + " `" + name + "`: " + st.msg());
    return Napi::Number::New(env, TF_OperationNumOutputs(op));
  }

  // gradients(ys: ref[], xs: ref[], prefix, dys?: ref[]) -> (ref | null)[]
  Napi::Value Gradients(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ysA = info[0].As<Napi::Array>();
    auto xsA = info[1].As<Napi::Array>();
    std::string prefix = info[2].As<Napi::String>().Utf8Value();
    std::vector<TF_Output> ys(ysA.Length()), xs(xsA.Length()), dy(xsA.Length());
    for (uint32_t i = 0; i < ys.size(); i++) ys[i] = OutputOf(graph_, ysA.Get(i));
    for (uint32_t i = 0; i < xs.size(); i++) xs[i] = OutputOf(graph_, xsA.Get(i));
    StatusPtr st;
    TF_AddGradientsWithPrefix(graph_, prefix.c_str(), ys.data(), static_cast<int>(ys.size()), xs.data(), static_cast<int>(xs.size()), nullptr, st.s, dy.data());
    if (!st.ok()) throw Napi::Error::New(env, "gradients: " + st.msg());
    MasksFromActivationOutputs(prefix, env);
    auto out = Napi::Array::New(env, dy.size());
    for (uint32_t i = 0; i < dy.size(); i++) {
      if (!dy[i].oper) {
        out.Set(i, env.Null());
        continue;
      }
      out.Set(i, RefOf(env, dy[i]));
    }
    return out;
  }

  // TensorFlow's C++ gradients of Relu and Relu6 read the activation's input (Python's read its
  // output). That input is the BiasAdd after a Conv2D or MatMul, and a second consumer of it keeps
  // Grappler's remapper from fusing Conv2D/MatMul + BiasAdd + activation into one oneDNN primitive
  // (Keras' graphs get that fusion): the activation then runs as a separate pass over memory. The
  // masks are the same (relu(x) > 0 iff x > 0; 0 < relu6(x) < 6 iff 0 < x < 6), so the gradients made
  // under `prefix` read the activation's output instead, as in Python.
  void MasksFromActivationOutputs(const std::string& prefix, Napi::Env env) {
    const std::string scope = prefix + "/";
    size_t pos = 0;
    TF_Operation* op;
    while ((op = TF_GraphNextOperation(graph_, &pos)) != nullptr) {
      const std::string type = TF_OperationOpType(op);
      const char* forward = type == "ReluGrad" ? "Relu" : type == "Relu6Grad" ? "Relu6" : nullptr;
      if (!forward || std::string(TF_OperationName(op)).rfind(scope, 0) != 0) continue;
      TF_Output features = TF_OperationInput(TF_Input{op, 1});
      std::vector<TF_Input> consumers(TF_OperationOutputNumConsumers(features));
      TF_OperationOutputConsumers(features, consumers.data(), static_cast<int>(consumers.size()));
      for (const TF_Input& c : consumers) {
        if (c.index != 0 || std::strcmp(TF_OperationOpType(c.oper), forward) != 0) continue;
        StatusPtr st;
        TF_UpdateEdge(graph_, TF_Output{c.oper, 0}, TF_Input{op, 1}, st.s);
        if (!st.ok()) throw Napi::Error::New(env, "gradients: " + st.msg());
        break;
      }
    }
  }

  // shape(ref) -> number[] (-1 unknown) or null for unknown rank
  Napi::Value Shape(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    TF_Output o = OutputOf(graph_, info[0]);
    StatusPtr st;
    int nd = TF_GraphGetTensorNumDims(graph_, o, st.s);
    if (!st.ok()) throw Napi::Error::New(env, st.msg());
    if (nd < 0) return env.Null();
    std::vector<int64_t> dims(nd);
    TF_GraphGetTensorShape(graph_, o, dims.data(), nd, st.s);
    if (!st.ok()) throw Napi::Error::New(env, st.msg());
    auto a = Napi::Array::New(env, nd);
    for (int i = 0; i < nd; i++) a.Set(i, Napi::Number::New(env, static_cast<double>(dims[i])));
    return a;
  }

  Napi::Value NumOutputs(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), TF_OperationNumOutputs(Lookup(graph_, info[0].As<Napi::String>().Utf8Value(), info.Env())));
  }

  // ops() -> [name, type, inputs: ref[]][]: the graph as built, for tests and debugging.
  Napi::Value Ops(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto out = Napi::Array::New(env);
    size_t pos = 0;
    uint32_t n = 0;
    TF_Operation* op;
    while ((op = TF_GraphNextOperation(graph_, &pos)) != nullptr) {
      auto inputs = Napi::Array::New(env);
      for (int i = 0; i < TF_OperationNumInputs(op); i++) inputs.Set(static_cast<uint32_t>(i), RefOf(env, TF_OperationInput(TF_Input{op, i})));
      auto row = Napi::Array::New(env, 3);
      row.Set(0u, Napi::String::New(env, TF_OperationName(op)));
      row.Set(1u, Napi::String::New(env, TF_OperationOpType(op)));
      row.Set(2u, inputs);
      out.Set(n++, row);
    }
    return out;
  }

  TF_Graph* graph_;
};
Napi::FunctionReference Graph::ctor;

// Source index of each output row (or column) of TensorFlow's ResizeNearestNeighbor with
// half_pixel_centers and no align_corners, in its float arithmetic.
std::vector<int64_t> NearestIndices(int64_t in, int64_t out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  std::vector<int64_t> idx(out);
  for (int64_t i = 0; i < out; i++) {
    auto at = static_cast<int64_t>(std::floor((static_cast<float>(i) + 0.5f) * scale));
    idx[i] = std::max<int64_t>(0, std::min(at, in - 1));
  }
  return idx;
}

// [h, w, c] uint8 -> [height, width, c]: the pixels of ResizeNearestNeighbor (above), by lookup.
TF_Tensor* ResizeNearest(TF_Tensor* t, int64_t height, int64_t width) {
  const int64_t h = TF_Dim(t, 0), w = TF_Dim(t, 1), c = TF_Dim(t, 2);
  const int64_t dims[3] = {height, width, c};
  TF_Tensor* out = TF_AllocateTensor(TF_UINT8, dims, 3, static_cast<size_t>(height * width * c));
  const auto rows = NearestIndices(h, height), cols = NearestIndices(w, width);
  const auto* src = static_cast<const uint8_t*>(TF_TensorData(t));
  auto* dst = static_cast<uint8_t*>(TF_TensorData(out));
  for (int64_t y = 0; y < height; y++) {
    const uint8_t* row = src + rows[y] * w * c;
    for (int64_t x = 0; x < width; x++, dst += c) std::memcpy(dst, row + cols[x] * c, static_cast<size_t>(c));
  }
  return out;
}

// The kernels of TensorFlow's ScaleAndTranslate that the image decoder uses, as functions of the
// distance |x| in source pixels, in its float arithmetic (so that the pixels are the op's).
enum class Kernel { Nearest, Lanczos3, Triangle, KeysCubic };

float KernelRadius(Kernel k) { return k == Kernel::Lanczos3 ? 3.0f : k == Kernel::KeysCubic ? 2.0f : 1.0f; }

float KernelAt(Kernel k, float x) {
  x = std::abs(x);
  switch (k) {
    case Kernel::Lanczos3: {
      constexpr float pi = 3.14159265359;
      const float r = 3.0f;
      if (x > r) return 0.0f;
      if (x <= 1e-3) return 1.0f;
      return r * std::sin(pi * x) * std::sin(pi * x / r) / (pi * pi * x * x);
    }
    case Kernel::Triangle:
      return x < 1.0f ? 1.0f - x : 0.0f;
    case Kernel::KeysCubic:
      if (x >= 2.0f) return 0.0f;
      if (x >= 1.0f) return ((-0.5f * x + 2.5f) * x - 4.0f) * x + 2.0f;
      return ((1.5f * x - 2.5f) * x) * x + 1.0f;
    default:
      return 0.0f;
  }
}

// For every output index along one axis: the first source index and `size` weights (zero past the
// end of its window), as ScaleAndTranslate computes them with antialiasing (the kernel widens when
// it shrinks), no translation and scale = out / in in float.
struct Spans {
  int size = 0;
  std::vector<int64_t> starts;
  std::vector<float> weights;
};

Spans ComputeSpans(Kernel k, int64_t out, int64_t in) {
  const float scale = static_cast<float>(out) / static_cast<float>(in);
  const float inv = 1.0 / scale;
  const float widen = std::max(inv, 1.0f);
  const float reach = KernelRadius(k) * widen;
  const float narrow = 1.0f / widen;
  Spans s;
  s.size = std::min(2 * static_cast<int>(std::ceil(reach)) + 1, static_cast<int>(in));
  s.starts.assign(out, 0);
  s.weights.assign(out * s.size, 0.0f);
  std::vector<float> w;
  for (int64_t x = 0; x < out; x++) {
    const float center = (x + 0.5f) * inv;
    if (center < 0 || center > in) continue;
    int64_t first = static_cast<int64_t>(std::ceil(center - reach - 0.5f));
    int64_t last = static_cast<int64_t>(std::floor(center + reach - 0.5f));
    first = std::min(std::max<int64_t>(first, 0), in - 1);
    last = std::min(std::max<int64_t>(last, 0), in - 1) + 1;
    float sum = 0.0f;
    w.clear();
    for (int64_t i = first; i < last; i++) {
      const float v = KernelAt(k, std::abs((static_cast<float>(i) + 0.5f - center) * narrow));
      sum += v;
      w.push_back(v);
    }
    if (std::abs(sum) >= 1000.0f * std::numeric_limits<float>::min()) {
      const float norm = 1.0f / sum;
      for (size_t j = 0; j < w.size(); j++) s.weights[x * s.size + j] = w[j] * norm;
    }
    s.starts[x] = first;
  }
  return s;
}

// [h, w, c] uint8 -> [height, width, c]: rows first into a float buffer, then columns, each output
// value accumulated from 0 over its window in order (as ScaleAndTranslate does), then rounded half
// to even and clipped to 0..255 (the Round, ClipByValue and Cast the graph would add).
TF_Tensor* ResizeSpans(TF_Tensor* t, const Spans& rows, const Spans& cols, int64_t height, int64_t width) {
  const int64_t h = TF_Dim(t, 0), w = TF_Dim(t, 1), c = TF_Dim(t, 2);
  const auto* src = static_cast<const uint8_t*>(TF_TensorData(t));
  const int64_t inRow = w * c, outRow = width * c;
  std::vector<float> mid(height * inRow), acc(outRow);
  for (int64_t y = 0; y < height; y++) {
    float* m = mid.data() + y * inRow;
    const int64_t n = std::min<int64_t>(rows.starts[y] + rows.size, h) - rows.starts[y];
    const float* wy = rows.weights.data() + y * rows.size;
    for (int64_t j = 0; j < n; j++) {
      const uint8_t* line = src + (rows.starts[y] + j) * inRow;
      const float wj = wy[j];
      for (int64_t i = 0; i < inRow; i++) m[i] += wj * static_cast<float>(line[i]);
    }
  }
  const int64_t dims[3] = {height, width, c};
  TF_Tensor* out = TF_AllocateTensor(TF_UINT8, dims, 3, static_cast<size_t>(height * outRow));
  auto* dst = static_cast<uint8_t*>(TF_TensorData(out));
  for (int64_t y = 0; y < height; y++) {
    const float* m = mid.data() + y * inRow;
    for (int64_t x = 0; x < width; x++) {
      const int64_t n = std::min<int64_t>(cols.starts[x] + cols.size, w) - cols.starts[x];
      const float* wx = cols.weights.data() + x * cols.size;
      const float* p = m + cols.starts[x] * c;
      if (c == 3) {
        float r = 0.0f, g = 0.0f, b = 0.0f;
        for (int64_t j = 0; j < n; j++, p += 3) {
          r += wx[j] * p[0];
          g += wx[j] * p[1];
          b += wx[j] * p[2];
        }
        acc[x * 3] = r;
        acc[x * 3 + 1] = g;
        acc[x * 3 + 2] = b;
        continue;
      }
      float* a = acc.data() + x * c;
      for (int64_t ch = 0; ch < c; ch++) a[ch] = 0.0f;
      for (int64_t j = 0; j < n; j++, p += c)
        for (int64_t ch = 0; ch < c; ch++) a[ch] += wx[j] * p[ch];
    }
    for (int64_t i = 0; i < outRow; i++) dst[y * outRow + i] = static_cast<uint8_t>(std::min(std::max(std::nearbyint(acc[i]), 0.0f), 255.0f));
  }
  return out;
}

struct RunArgs {
  // When set, every fetched [h, w, c] uint8 tensor is resized to [resizeH, resizeW, c] before it
  // crosses to JS (decoded images: the resize runs on the run's thread, and only the small image is copied).
  int64_t resizeH = 0, resizeW = 0;
  Kernel kernel = Kernel::Nearest;
  std::vector<TF_Output> feeds;
  std::vector<TF_Tensor*> feedValues;
  std::vector<TF_Output> fetches;
  std::vector<TF_Operation*> targets;
  std::vector<TF_Tensor*> fetched;
  ~RunArgs() {
    for (auto* t : feedValues) {
      // The buffer's deallocator frees the array, not what its strings point to.
      if (TF_TensorType(t) == TF_STRING) {
        auto* s = static_cast<TF_TString*>(TF_TensorData(t));
        for (int64_t i = 0, n = TF_TensorElementCount(t); i < n; i++) TF_StringDealloc(&s[i]);
      }
      TF_DeleteTensor(t);
    }
    for (auto* t : fetched) if (t) TF_DeleteTensor(t);
  }
};

// run(feeds: [ref, TypedArray, shape][], fetches: ref[], targets: string[], options?: { resize?: { size: [height, width], kernel } })
std::unique_ptr<RunArgs> ParseRun(const Napi::CallbackInfo& info, TF_Graph* g) {
  Napi::Env env = info.Env();
  auto a = std::make_unique<RunArgs>();
  auto feeds = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < feeds.Length(); i++) {
    auto f = feeds.Get(i).As<Napi::Array>();
    a->feeds.push_back(OutputOf(g, f.Get(0u)));
    a->feedValues.push_back(TensorFromJs(env, f.Get(1u), f.Get(2u)));
  }
  auto fetches = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < fetches.Length(); i++) a->fetches.push_back(OutputOf(g, fetches.Get(i)));
  auto targets = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < targets.Length(); i++) a->targets.push_back(Lookup(g, targets.Get(i).As<Napi::String>().Utf8Value(), env));
  a->fetched.assign(a->fetches.size(), nullptr);
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Value resize = info[3].As<Napi::Object>().Get("resize");
    if (resize.IsObject()) {
      auto r = resize.As<Napi::Object>();
      auto hw = r.Get("size").IsArray() ? Ints(r.Get("size")) : std::vector<int64_t>{};
      if (hw.size() != 2 || hw[0] < 1 || hw[1] < 1) throw Napi::Error::New(env, "options.resize.size must be [height, width], both at least 1");
      std::string k = r.Get("kernel").IsString() ? r.Get("kernel").As<Napi::String>().Utf8Value() : "";
      if (k == "nearest") a->kernel = Kernel::Nearest;
      else if (k == "lanczos3") a->kernel = Kernel::Lanczos3;
      else if (k == "triangle") a->kernel = Kernel::Triangle;
      else if (k == "keyscubic") a->kernel = Kernel::KeysCubic;
      else throw Napi::Error::New(env, "options.resize.kernel must be nearest, lanczos3, triangle or keyscubic, not \"" + k + "\"");
      a->resizeH = hw[0];
      a->resizeW = hw[1];
    }
  }
  return a;
}

void DoRun(TF_Session* s, RunArgs* a, TF_Status* st) {
  TF_SessionRun(s, nullptr, a->feeds.data(), a->feedValues.data(), static_cast<int>(a->feeds.size()), a->fetches.data(), a->fetched.data(),
                static_cast<int>(a->fetches.size()), a->targets.data(), static_cast<int>(a->targets.size()), nullptr, st);
  if (TF_GetCode(st) != TF_OK || !a->resizeH) return;
  // The images of one run mostly share a size: their spans are computed once.
  Spans rows, cols;
  int64_t spansH = -1, spansW = -1;
  for (auto& t : a->fetched) {
    if (!t || TF_TensorType(t) != TF_UINT8 || TF_NumDims(t) != 3 || TF_Dim(t, 0) < 1 || TF_Dim(t, 1) < 1) continue;
    if (a->kernel != Kernel::Nearest && (TF_Dim(t, 0) != spansH || TF_Dim(t, 1) != spansW)) {
      spansH = TF_Dim(t, 0);
      spansW = TF_Dim(t, 1);
      rows = ComputeSpans(a->kernel, a->resizeH, spansH);
      cols = ComputeSpans(a->kernel, a->resizeW, spansW);
    }
    TF_Tensor* resized = a->kernel == Kernel::Nearest ? ResizeNearest(t, a->resizeH, a->resizeW) : ResizeSpans(t, rows, cols, a->resizeH, a->resizeW);
    TF_DeleteTensor(t);
    t = resized;
  }
}

Napi::Value Results(Napi::Env env, RunArgs* a) {
  auto out = Napi::Array::New(env, a->fetched.size());
  for (uint32_t i = 0; i < a->fetched.size(); i++) out.Set(i, TensorToJs(env, a->fetched[i]));
  return out;
}

// The TF session and the runs in flight on it. Closing while a run is on a worker thread (a
// decoder closed while its warm-up run goes on) only marks it: the last run to finish deletes it.
// Touched on the JS thread only (Run, Close, OnOK/OnError).
struct SessionState {
  TF_Session* session = nullptr;
  int running = 0;
  bool closing = false;
  void Delete() {
    if (!session) return;
    StatusPtr st;
    TF_CloseSession(session, st.s);
    TF_DeleteSession(session, st.s);
    session = nullptr;
  }
  void Close() {
    if (running > 0) closing = true;
    else Delete();
  }
  void Finished() {
    if (--running == 0 && closing) Delete();
  }
};

class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, Napi::Object sessionRef, std::shared_ptr<SessionState> s, std::unique_ptr<RunArgs> a)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), state_(std::move(s)), session_(state_->session), args_(std::move(a)) {
    keep_ = Napi::Persistent(sessionRef);
    state_->running++;
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    DoRun(session_, args_.get(), st_.s);
    if (!st_.ok()) SetError(st_.msg());
  }
  void OnOK() override {
    state_->Finished();
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Results(env, args_.get()));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    state_->Finished();
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<SessionState> state_;
  TF_Session* session_;
  std::unique_ptr<RunArgs> args_;
  StatusPtr st_;
  Napi::ObjectReference keep_;
};

class Session : public Napi::ObjectWrap<Session> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    auto f = DefineClass(env, "Session", {
      InstanceMethod("run", &Session::Run),
      InstanceMethod("runSync", &Session::RunSync),
      InstanceMethod("close", &Session::Close),
    });
    exports.Set("Session", f);
  }
  // new Session(graph, configProtoBytes?: Uint8Array)
  explicit Session(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Session>(info) {
    Napi::Env env = info.Env();
    graphRef_ = Napi::Persistent(info[0].As<Napi::Object>());
    graph_ = Graph::Unwrap(info[0].As<Napi::Object>())->graph();
    TF_SessionOptions* opts = TF_NewSessionOptions();
    StatusPtr st;
    if (info.Length() > 1 && info[1].IsTypedArray()) {
      auto cfg = info[1].As<Napi::Uint8Array>();
      TF_SetConfig(opts, cfg.Data(), cfg.ByteLength(), st.s);
      if (!st.ok()) {
        TF_DeleteSessionOptions(opts);
        throw Napi::Error::New(env, "session config: " + st.msg());
      }
    }
    state_->session = TF_NewSession(graph_, opts, st.s);
    TF_DeleteSessionOptions(opts);
    if (!st.ok()) throw Napi::Error::New(env, "new session: " + st.msg());
  }
  ~Session() override { state_->Delete(); }

 private:
  void Check(Napi::Env env) {
    if (!state_->session || state_->closing) throw Napi::Error::New(env, "session is closed");
  }
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Check(info.Env());
    auto* w = new RunWorker(info.Env(), info.This().As<Napi::Object>(), state_, ParseRun(info, graph_));
    auto p = w->Promise();
    w->Queue();
    return p;
  }
  Napi::Value RunSync(const Napi::CallbackInfo& info) {
    Check(info.Env());
    auto a = ParseRun(info, graph_);
    StatusPtr st;
    DoRun(state_->session, a.get(), st.s);
    if (!st.ok()) throw Napi::Error::New(info.Env(), st.msg());
    return Results(info.Env(), a.get());
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    state_->Close();
    return info.Env().Undefined();
  }

  Napi::ObjectReference graphRef_;
  TF_Graph* graph_ = nullptr;
  std::shared_ptr<SessionState> state_ = std::make_shared<SessionState>();
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Graph::Init(env, exports);
  Session::Init(env, exports);
  exports.Set("tfVersion", Napi::String::New(env, TF_Version()));
  exports.Set("onednnEnabled", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), tensorflow::IsMKLEnabled());
  }));
  return exports;
}

}  // namespace

NODE_API_MODULE(fitspec_graph, Init)
