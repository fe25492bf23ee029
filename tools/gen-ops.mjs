#!/usr/bin/env node
// Generates the native op bindings from PyTorch's own operator declarations
// (native_functions.yaml, shipped by Debian's python3-torch and by every pip torch under
// torchgen/packaged/ATen/native/), the way tch-rs generates its bindings (gen/gen.ml).
//
//   npm run gen:ops                      # uses /usr/bin/python3's torch
//   node tools/gen-ops.mjs --yaml FILE   # any other native_functions.yaml
//
// Writes native/src/generated/ops_*.cpp (one N-API callback per overload),
// native/src/generated/ops.h (the registration list) and src/torch/native/ops.generated.ts
// (the typed binding interface). Which operators are bound is listed in tools/ops.txt.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SHARDS = 4;

function findYaml() {
  const i = process.argv.indexOf("--yaml");
  if (i > 0) return process.argv[i + 1];
  const deb = "/usr/lib/python3/dist-packages/torchgen/packaged/ATen/native/native_functions.yaml";
  if (existsSync(deb)) return deb;
  const py = process.env.PYTHON ?? "/usr/bin/python3";
  const dir = execFileSync(py, ["-c", "import torchgen, os; print(os.path.dirname(torchgen.__file__))"], { encoding: "utf8" }).trim();
  return join(dir, "packaged", "ATen", "native", "native_functions.yaml");
}

const yamlPath = findYaml();
const decls = YAML.parse(readFileSync(yamlPath, "utf8"));
const wanted = new Set(readFileSync(join(root, "tools", "ops.txt"), "utf8")
  .split("\n").map((l) => l.replace(/#.*/, "")).join(" ").split(/\s+/).filter(Boolean));

// ---- schema parsing -------------------------------------------------------------------

function splitTop(s) {
  const out = [];
  let depth = 0, cur = "";
  for (const ch of s) {
    if (ch === "(" || ch === "[") depth++;
    if (ch === ")" || ch === "]") depth--;
    if (ch === "," && depth === 0) { out.push(cur.trim()); cur = ""; } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function parseArg(s, kwOnly) {
  const eq = s.indexOf("=");
  const lhs = eq >= 0 ? s.slice(0, eq) : s;
  const def = eq >= 0 ? s.slice(eq + 1) : undefined;
  const sp = lhs.lastIndexOf(" ");
  const rawType = lhs.slice(0, sp);
  const name = lhs.slice(sp + 1);
  const alias = /\(([a-z])(!?)/.exec(rawType);
  const type = rawType.replace(/\([^)]*\)/, "");
  return { name, type, def, kwOnly, alias: alias ? alias[1] : null, mutable: alias ? alias[2] === "!" : false };
}

function parseSchema(func) {
  const m = /^([\w.]+)\((.*)\) -> (.*)$/.exec(func);
  if (!m) throw new Error(`unparsable schema: ${func}`);
  const [name, overload = ""] = m[1].split(".");
  let kw = false;
  const args = [];
  for (const a of splitTop(m[2])) {
    if (a === "*") { kw = true; continue; }
    args.push(parseArg(a, kw));
  }
  let ret = m[3].trim();
  const rets = ret === "()" ? [] : (ret.startsWith("(") ? splitTop(ret.slice(1, -1)) : [ret]).map((r) => {
    const alias = /\(([a-z])(!?)/.exec(r);
    return { type: r.replace(/\([^)]*\)/, "").split(" ")[0], alias: alias ? alias[1] : null, mutable: alias ? alias[2] === "!" : false };
  });
  return { name, overload, args, rets, tuple: ret.startsWith("(") && ret !== "()" };
}

// ---- type mapping ---------------------------------------------------------------------

// Each entry: how to read a JS value into a C++ local (`conv`), the TS type of the binding
// argument, and how to print a schema default as C++.
function cppDefault(type, def) {
  if (def === undefined) return null;
  const base = type.replace(/\?$/, "").replace(/\[\d*\]$/, "");
  if (def === "None") return "c10::nullopt";
  if (def === "True") return "true";
  if (def === "False") return "false";
  if (def === "Mean") return "at::Reduction::Mean";
  if (def === "Sum") return "at::Reduction::Sum";
  if (def === "contiguous_format") return "at::MemoryFormat::Contiguous";
  if (def === "long") return "at::kLong";
  if (def === "inf") return "std::numeric_limits<double>::infinity()";
  if (def === "-inf") return "-std::numeric_limits<double>::infinity()";
  if (/^".*"$/.test(def) || /^'.*'$/.test(def)) return `std::string(${JSON.stringify(def.slice(1, -1))})`;
  if (/^\[.*\]$/.test(def)) {
    const items = def.slice(1, -1).split(",").map((x) => x.trim()).filter(Boolean);
    if (base === "bool") return `std::array<bool, ${items.length}>{${items.map((x) => (x === "True" ? "true" : "false")).join(", ")}}`;
    return `std::vector<int64_t>{${items.join(", ")}}`;
  }
  if (/^-?\d+(\.\d*)?(e-?\d+)?$/.test(def)) {
    if ((base === "int" || base === "SymInt") && /\[\d*\]/.test(type)) {
      const n = Number(/\[(\d*)\]/.exec(type)[1] || 1);
      return `std::vector<int64_t>(${n}, ${def})`;
    }
    if (base === "float") return def.includes(".") || def.includes("e") ? def : `${def}.0`;
    return def;
  }
  return undefined; // unknown: the overload is skipped
}

function mapArg(a) {
  const t = a.type;
  const opt = t.endsWith("?");
  const core = t.replace(/\?$/, "");
  const list = /^(\w+)\[(\d*)\]$/.exec(core);
  const d = cppDefault(t, a.def);
  if (d === undefined) return null;
  const dflt = d === null ? "" : `, ${d}`;
  const reqd = d === null && !opt;
  const R = reqd ? "" : "_or";
  if (core === "Tensor" && !list) {
    if (opt) return { ts: "Handle | undefined | null", conv: (v) => `auto ${v} = tl::opt_tensor(c, IDX);` };
    // in-place function variants (at::relu_(Tensor&)) take the tensor by non-const reference
    if (a.mutable) return { ts: "Handle", conv: (v) => `at::Tensor& ${v} = tl::mut_tensor(c, IDX);` };
    return { ts: "Handle", conv: (v) => `const at::Tensor& ${v} = tl::tensor(c, IDX);` };
  }
  if (list && list[1] === "Tensor" && !opt) {
    return { ts: "Handle[]", conv: (v) => `std::vector<at::Tensor> ${v}_v = tl::tensor_list(c, IDX);\n  at::TensorList ${v}(${v}_v);` };
  }
  if (t === "Tensor?[]") return { ts: "(Handle | null | undefined)[]", conv: (v) => `auto ${v} = tl::opt_tensor_list(c, IDX);` };
  if (list && (list[1] === "int" || list[1] === "SymInt")) {
    const n = list[2] ? Number(list[2]) : 0;
    if (opt) return { ts: "number | number[] | undefined | null", conv: (v) => `std::vector<int64_t> ${v}_v; at::OptionalIntArrayRef ${v} = tl::opt_int_list(c, IDX, ${v}_v, ${n});` };
    const init = d === null ? "" : ` = ${d}`;
    return { ts: reqd ? "number | number[]" : "number | number[] | undefined", conv: (v) => `std::vector<int64_t> ${v}_v${init};\n  tl::int_list${R}(c, IDX, ${v}_v, ${n});\n  at::IntArrayRef ${v}(${v}_v);` };
  }
  if (list && list[1] === "bool" && list[2] && !opt) {
    const n = Number(list[2]);
    return { ts: "boolean[]" + (reqd ? "" : " | undefined"), conv: (v) => `std::array<bool, ${n}> ${v}${d ? ` = ${d}` : ""};\n  tl::bool_array${R}<${n}>(c, IDX, ${v});` };
  }
  if (t === "float[]?") return { ts: "number[] | undefined | null", conv: (v) => `std::vector<double> ${v}_v; c10::optional<at::ArrayRef<double>> ${v} = tl::opt_float_list(c, IDX, ${v}_v);` };
  if (list) return null;
  const scalarLike = {
    int: ["number", "int64_t", "i64"], SymInt: ["number", "int64_t", "i64"], float: ["number", "double", "f64"],
    bool: ["boolean", "bool", "boolean"], Scalar: ["number | boolean", "at::Scalar", "scalar"],
    ScalarType: ["number", "at::ScalarType", "dtype"], Layout: ["number", "at::Layout", "layout"],
    Device: ["string", "at::Device", "device"], MemoryFormat: ["number", "at::MemoryFormat", "memory_format"],
    str: ["string", "std::string", "string"],
  }[core];
  if (core === "Generator" && opt) return { ts: "number | undefined | null", conv: (v) => `c10::optional<at::Generator> ${v} = tl::opt_generator(c, IDX);` };
  if (!scalarLike) return null;
  const [ts, cpp, fn] = scalarLike;
  if (opt) {
    const ctype = core === "str" ? "c10::optional<c10::string_view>" : `c10::optional<${cpp}>`;
    if (core === "str") {
      return { ts: `${ts} | undefined | null`, conv: (v) => `std::string ${v}_s; ${ctype} ${v} = tl::opt_string(c, IDX, ${v}_s);` };
    }
    // `ScalarType? dtype=long`: absent means the default, not None
    if (d !== null && d !== "c10::nullopt") return { ts: `${ts} | undefined | null`, conv: (v) => `${ctype} ${v} = tl::absent(c, IDX_ONLY) ? ${ctype}(${d}) : tl::opt_${fn}(c, IDX);` };
    return { ts: `${ts} | undefined | null`, conv: (v) => `${ctype} ${v} = tl::opt_${fn}(c, IDX);` };
  }
  if (core === "str") return { ts: reqd ? ts : `${ts} | undefined`, conv: (v) => `std::string ${v}_s = tl::${fn}${R}(c, IDX${dflt});\n  c10::string_view ${v}(${v}_s);` };
  return { ts: reqd ? ts : `${ts} | undefined`, conv: (v) => `${cpp} ${v} = tl::${fn}${R}(c, IDX${dflt});` };
}

function mapRet(rets, args, tuple) {
  if (rets.length === 0) return { ts: "void", code: (call) => `${call};\n  return tl::undefined_value(c);` };
  if (rets.length === 1 && !tuple) {
    const r = rets[0];
    if (r.type === "Tensor" && r.mutable) {
      const i = args.findIndex((a) => a.alias === r.alias);
      if (i < 0) return null;
      return { ts: "Handle", code: (call) => `${call};\n  return c.argv[${i}];` };
    }
    if (r.type === "Tensor") return { ts: "Handle", code: (call) => `return tl::wrap(c, ${call});` };
    if (r.type === "Tensor[]") return { ts: "Handle[]", code: (call) => `return tl::wrap_list(c, ${call});` };
    const prim = { bool: ["boolean", "bool"], int: ["number", "int"], float: ["number", "double"], Scalar: ["number", "scalar"], ScalarType: ["number", "dtype"] }[r.type];
    if (!prim) return null;
    return { ts: prim[0], code: (call) => `return tl::ret_${prim[1]}(c, ${call});` };
  }
  if (rets.every((r) => r.type === "Tensor" && !r.mutable)) {
    return { ts: `[${rets.map(() => "Handle").join(", ")}]`, code: (call) => `return tl::wrap_tuple(c, ${call});` };
  }
  return null;
}

// ---- selection ------------------------------------------------------------------------

const bound = [];
const skipped = [];
const seenNames = new Set();
for (const d of decls) {
  const s = parseSchema(d.func);
  if (!wanted.has(s.name)) continue;
  seenNames.add(s.name);
  const why = (() => {
    if (s.overload.endsWith("out") || s.overload.includes("_out") || s.args.some((a) => a.name === "out" && a.mutable)) return "out= variant";
    if (d.manual_cpp_binding) return "manual C++ binding";
    if (s.args.some((a) => /Dimname/.test(a.type))) return "named dimensions";
    return null;
  })();
  if (why) { skipped.push(`${d.func}  [${why}]`); continue; }
  const variants = (d.variants ?? "function").split(",").map((x) => x.trim());
  const mapped = s.args.map(mapArg);
  const bad = mapped.findIndex((m) => m === null);
  if (bad >= 0) { skipped.push(`${d.func}  [argument type ${s.args[bad].type}${s.args[bad].def !== undefined ? "=" + s.args[bad].def : ""}]`); continue; }
  const ret = mapRet(s.rets, s.args, s.tuple);
  if (!ret) { skipped.push(`${d.func}  [return type]`); continue; }
  const selfIdx = s.args.findIndex((a) => a.name === "self" && a.type === "Tensor");
  const useFunction = variants.includes("function");
  if (!useFunction && selfIdx !== 0) { skipped.push(`${d.func}  [method without self first]`); continue; }
  const jsName = s.overload ? `${s.name}_${s.overload}` : s.name;
  bound.push({ d, s, mapped, ret, useFunction, jsName });
}
for (const n of wanted) if (!seenNames.has(n)) skipped.push(`${n}  [not declared in this native_functions.yaml]`);

// ---- emit C++ -------------------------------------------------------------------------

const banner = (cmd) => `// GENERATED FILE - DO NOT EDIT.
// Generated by ${cmd} from native_functions.yaml (PyTorch's operator declarations)
// and tools/ops.txt. Regenerate with: npm run gen:ops\n`;

// Python's binding never calls ATen's `add.Scalar` & co. for `t + 2`: it wraps the number as a
// 0-dim "wrapped number" tensor (type promotion treats it as a Python scalar) and calls the
// Tensor overload. We do the same, so results and autograd nodes (MulBackward0, not
// MulBackward1) are Python's. Speed is the same either way (~2 us for a tiny tensor here).
const WRAP_SCALAR_OTHER = new Set(["add.Scalar", "add_.Scalar", "sub.Scalar", "sub_.Scalar", "mul.Scalar", "mul_.Scalar", "div.Scalar", "div_.Scalar"]);

function emitOp(b) {
  const { s, mapped, ret, useFunction, jsName } = b;
  const wrapOther = WRAP_SCALAR_OTHER.has(`${s.name}.${s.overload}`);
  const vars = s.args.map((a, i) => (wrapOther && a.name === "other" ? `at::native::wrapped_scalar_tensor(a${i})` : `a${i}`));
  const convs = mapped.map((m, i) => m.conv(`a${i}`).replaceAll("IDX_ONLY", `${i}`).replaceAll("IDX", `${i}, ${JSON.stringify(s.args[i].name)}`));
  const call = useFunction ? `at::${s.name}(${vars.join(", ")})` : `${vars[0]}.${s.name}(${vars.slice(1).join(", ")})`;
  return `// aten::${b.d.func}
static napi_value op_${jsName}(napi_env env, napi_callback_info info) {
  TL_OP_BEGIN(${JSON.stringify(`${s.name}${s.overload ? "." + s.overload : ""}`)}, ${Math.max(1, s.args.length)});
  ${convs.join("\n  ")}
  ${ret.code(call)}
  TL_OP_END;
}
`;
}

const outDir = join(root, "native", "src", "generated");
mkdirSync(outDir, { recursive: true });
const shards = Array.from({ length: SHARDS }, () => []);
bound.forEach((b, i) => shards[i % SHARDS].push(b));
shards.forEach((list, k) => {
  const body = list.map(emitOp).join("\n");
  const reg = list.map((b) => `  {${JSON.stringify(b.jsName)}, op_${b.jsName}},`).join("\n");
  writeFileSync(join(outDir, `ops_${k}.cpp`), `${banner("tools/gen-ops.mjs")}
#include "../convert.h"

namespace {
${body}
}  // namespace

namespace tl {
extern const OpEntry ops_${k}[] = {
${reg}
  {nullptr, nullptr},
};
}  // namespace tl
`);
});
writeFileSync(join(outDir, "ops.h"), `${banner("tools/gen-ops.mjs")}
#pragma once
#include "../convert.h"

namespace tl {
${shards.map((_, k) => `extern const OpEntry ops_${k}[];`).join("\n")}
inline const OpEntry* const op_tables[] = {${shards.map((_, k) => `ops_${k}`).join(", ")}};
}  // namespace tl
`);

// ---- emit TS --------------------------------------------------------------------------

const tsDir = join(root, "src", "torch", "native");
mkdirSync(tsDir, { recursive: true });
const tsLines = bound.map((b) => {
  const params = b.s.args.map((a, i) => {
    const m = b.mapped[i];
    const optional = m.ts.includes("undefined");
    return `${a.name === "function" ? "fn" : a.name}${optional ? "?" : ""}: ${m.ts.replace(/ \| undefined/, "")}`;
  });
  // An optional parameter may not precede a required one in TS: widen instead.
  let seenOptional = false;
  for (let i = params.length - 1; i >= 0; i--) {
    if (!params[i].includes("?:")) seenOptional = true;
    else if (seenOptional) params[i] = params[i].replace("?:", ":") + " | undefined";
  }
  return `  /** aten::${b.d.func.replace(/\*\//g, "* /")} */\n  ${b.jsName}(${params.join(", ")}): ${b.ret.ts};`;
});
writeFileSync(join(tsDir, "ops.generated.ts"), `${banner("tools/gen-ops.mjs").replaceAll("//", "//")}
/** @module torchlight/torch/native/ops.generated: the typed interface of the generated op bindings. */
/** A tensor handle: an index into the addon's tensor table. */
export type Handle = number;

export interface NativeOps {
${tsLines.join("\n")}
}
`);
writeFileSync(join(outDir, "SKIPPED.txt"), `Overloads of tools/ops.txt names that were not bound, and why (from ${yamlPath.includes("dist-packages") ? "Debian python3-torch" : "a custom"} native_functions.yaml):\n${skipped.join("\n")}\n`);
console.log(`gen-ops: bound ${bound.length} overloads of ${seenNames.size} operators in ${SHARDS} files; skipped ${skipped.length} (see native/src/generated/SKIPPED.txt)`);
