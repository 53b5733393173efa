// The safetensors reader against files built here byte by byte: each dtype's values (F16 and U16
// widened to F32 exactly), and malformed headers refused as weights errors.
import { WeightsError } from "../src/errors.ts";
import { readSafetensors } from "../src/io/safetensors.ts";
import { assertEquals, assertThrows } from "./assert.ts";

type Entry = { dtype: string; shape: number[]; bytes: Uint8Array };

/** A safetensors file of `entries` in order, with `header` overrides per tensor name. */
function file(entries: Record<string, Entry>, header: Record<string, unknown> = {}): Uint8Array {
  const h: Record<string, unknown> = { __metadata__: { format: "test" } };
  let off = 0;
  for (const [name, e] of Object.entries(entries)) {
    h[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify({ ...h, ...header }));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const e of Object.values(entries)) {
    out.set(e.bytes, at);
    at += e.bytes.length;
  }
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

Deno.test("safetensors: F32, F16, U16 and I32 values as stored", () => {
  const f32 = Float32Array.from([1.5, -2, 1e-7]);
  // binary16: 1.0, -2.5, 65504 (largest), 2^-24 (smallest subnormal)
  const f16 = Uint16Array.from([0x3c00, 0xc100, 0x7bff, 0x0001]);
  const u16 = Uint16Array.from([0, 1, 40000, 65535]);
  const i32 = Int32Array.from([-7, 2 ** 31 - 1]);
  const st = readSafetensors(file({
    a: { dtype: "F32", shape: [3], bytes: bytesOf(f32) },
    b: { dtype: "F16", shape: [2, 2], bytes: bytesOf(f16) },
    c: { dtype: "U16", shape: [4], bytes: bytesOf(u16) },
    d: { dtype: "I32", shape: [2], bytes: bytesOf(i32) },
  }));
  assertEquals(st.metadata.format, "test");
  assertEquals(Array.from(st.tensors.get("a")!.data), Array.from(f32));
  assertEquals(st.tensors.get("b")!.shape, [2, 2]);
  assertEquals(Array.from(st.tensors.get("b")!.data), [1, -2.5, 65504, 2 ** -24]);
  const c = st.tensors.get("c")!.data;
  assertEquals(c instanceof Float32Array, true);
  assertEquals(Array.from(c), [0, 1, 40000, 65535]);
  assertEquals(Array.from(st.tensors.get("d")!.data), [-7, 2 ** 31 - 1]);
});

Deno.test("safetensors: malformed files are weights errors", () => {
  const u16 = { dtype: "U16", shape: [2], bytes: new Uint8Array(4) };
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(5), "shorter"],
    [file({ x: { ...u16, dtype: "U32" } }), "unsupported dtype"],
    [file({ x: u16 }, { x: { dtype: "U16", shape: [3], data_offsets: [0, 4] } }), "do not hold"],
    [file({ x: u16 }, { x: { dtype: "U16", shape: [2], data_offsets: [2, 6] } }), "do not hold"],
    [file({ x: u16 }, { x: { dtype: "U16", shape: [-2], data_offsets: [0, 4] } }), "malformed"],
  ];
  for (const [bytes, msg] of cases) assertThrows(() => readSafetensors(bytes), WeightsError, msg);
  const long = file({ x: u16 });
  new DataView(long.buffer).setBigUint64(0, 1n << 40n, true);
  assertThrows(() => readSafetensors(long), WeightsError, "exceeds");
});
