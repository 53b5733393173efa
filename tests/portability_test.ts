// src/ and shaders/ must run in a browser unchanged: no Deno APIs, no node: modules.
import { assertEquals } from "./assert.ts";

async function* files(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* files(p);
    else if (/\.(ts|js|wgsl)$/.test(e.name)) yield p;
  }
}

Deno.test("src/ and shaders/ use only web-standard APIs", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const offenders: string[] = [];
  for (const dir of ["src", "shaders"]) {
    for await (const f of files(`${root}${dir}`)) {
      const text = await Deno.readTextFile(f);
      text.split("\n").forEach((line, i) => {
        if (/\bDeno\.|from\s+["']node:|import\(["']node:|require\(/.test(line)) {
          offenders.push(`${f.slice(root.length)}:${i + 1}: ${line.trim()}`);
        }
      });
    }
  }
  assertEquals(offenders, []);
});

Deno.test("shaders: every function-scope var has an explicit initializer", async () => {
  // Deno 2.9's wgpu does not re-zero a `var x: T;` declared inside a loop body on each
  // iteration (gfx-rs/wgpu#9489); an explicit initializer avoids relying on zero-init at all.
  const root = new URL("..", import.meta.url).pathname;
  const offenders: string[] = [];
  for await (const f of files(`${root}shaders`)) {
    (await Deno.readTextFile(f)).split("\n").forEach((line, i) => {
      if (/^\s+var\s+\w+\s*:[^=]*;/.test(line)) offenders.push(`${f.slice(root.length)}:${i + 1}`);
    });
  }
  assertEquals(offenders, []);
});

Deno.test("shaders: float literals are representable as f32", async () => {
  // Chromium's WGSL compiler rejects a literal above FLT_MAX that Deno's naga silently rounds.
  const root = new URL("..", import.meta.url).pathname;
  const offenders: string[] = [];
  for await (const f of files(`${root}shaders`)) {
    for (const m of (await Deno.readTextFile(f)).matchAll(/\b\d+\.\d*e[+-]?\d+\b/gi)) {
      if (Math.abs(Number(m[0])) > 3.4028234663852886e38) {
        offenders.push(`${f.slice(root.length)}: ${m[0]}`);
      }
    }
  }
  assertEquals(offenders, []);
});

Deno.test("shaders: depthwise_conv2d_sw.wgsl is what its generator writes", async () => {
  const { depthwiseSwSource } = await import("../tools/gen_depthwise_sw.ts");
  const have = await Deno.readTextFile(
    new URL("../shaders/depthwise_conv2d_sw.wgsl", import.meta.url),
  );
  if (have !== depthwiseSwSource()) {
    throw new Error("stale generated shader: run deno run -A tools/gen_depthwise_sw.ts");
  }
});
