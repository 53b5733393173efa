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
