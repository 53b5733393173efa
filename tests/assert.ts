// Small assertion helpers for the test suite (JSR's @std/assert is not reachable here).

export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

function fmt(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (ArrayBuffer.isView(x) ? Array.from(x as Uint8Array) : x));
  } catch {
    return String(v);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<number>, y = b as unknown as ArrayLike<number>;
    if (x.length !== y.length || a.constructor !== b.constructor) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}expected ${fmt(expected).slice(0, 400)}, got ${
        fmt(actual).slice(0, 400)
      }`,
    );
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;

function checkError(e: unknown, cls?: ErrorClass, includes?: string): Error {
  if (!(e instanceof Error)) throw new AssertionError(`expected an Error, got ${fmt(e)}`);
  const err: Error = e;
  const seen = `${err.name}: ${err.message}`;
  if (cls && !(err instanceof cls)) throw new AssertionError(`expected ${cls.name}, got ${seen}`);
  if (includes && !err.message.includes(includes)) {
    throw new AssertionError(`expected message containing "${includes}", got "${err.message}"`);
  }
  return err;
}

export function assertThrows(fn: () => unknown, cls?: ErrorClass, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new AssertionError("expected function to throw");
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  cls?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new AssertionError("expected promise to reject");
}

/** Compares float arrays: passes when every element is within atol + rtol·|expected|. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-4, msg = "" } = {},
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError(`${msg} length ${actual.length} != ${expected.length}`);
  }
  let worst = -1, worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= atol + rtol * Math.abs(expected[i]))) {
      if (worst < 0 || err > worstErr || Number.isNaN(err)) {
        worst = i;
        worstErr = err;
      }
    }
  }
  if (worst >= 0) {
    throw new AssertionError(
      `${msg} mismatch at [${worst}]: got ${actual[worst]}, expected ${
        expected[worst]
      } (|err| ${worstErr})`,
    );
  }
}

/** A seeded PRNG (mulberry32) so random test cases are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
