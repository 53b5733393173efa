/**
 * Running command-line tools: lookup on PATH, execution with captured output, temp folders.
 * @module
 */

const found = new Map<string, boolean>();

/** True when `name` is an executable file in a folder of PATH (cached per name). */
export function hasTool(name: string): boolean {
  const hit = found.get(name);
  if (hit !== undefined) return hit;
  let ok = false;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!dir) continue;
    try {
      const st = Deno.statSync(`${dir}/${name}`);
      if (st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0) {
        ok = true;
        break;
      }
    } catch {
      // not in this folder
    }
  }
  found.set(name, ok);
  return ok;
}

/** Forgets cached PATH lookups (after an install step). */
export function resetToolCache(): void {
  found.clear();
}

/** Output of a finished command. */
export interface RunResult {
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
}

/**
 * Runs a command and waits for it.
 * @throws {Error} with the exit code and the end of stderr when it exits non-zero
 */
export async function runTool(cmd: string, args: string[]): Promise<RunResult> {
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout), stderr = dec.decode(out.stderr);
  if (!out.success) {
    const tail = (stderr.trim() || stdout.trim()).split("\n").slice(-3).join(" | ");
    throw new Error(`${cmd} exited with ${out.code}: ${tail.slice(0, 300)}`);
  }
  return { stdout, stderr };
}

/** Runs `fn` with a fresh temp folder that is removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tessera-eval-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
