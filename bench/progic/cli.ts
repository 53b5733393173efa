/**
 * The command-line flags of the ProGIC benchmarks: `--name value`, `--name=value` and boolean
 * switches, checked against the known names.
 * @module
 */

/** Parsed flags: values as given, switches as `true`. */
export type Flags = Record<string, string | true>;

/**
 * Parses `argv`. `valued` and `switches` list the flag names without dashes; `--help` prints
 * `help` and exits.
 * @throws {Error} for an unknown flag or a missing value
 */
export function parseFlags(
  argv: readonly string[],
  valued: readonly string[],
  switches: readonly string[],
  help: string,
): Flags {
  const flags: Flags = {};
  const rest = [...argv];
  while (rest.length) {
    const arg = rest.shift()!;
    if (arg === "--help" || arg === "-h") {
      console.log(help);
      Deno.exit(0);
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    const name = m?.[1] ?? "";
    if (m && switches.includes(name) && m[2] === undefined) flags[name] = true;
    else if (m && valued.includes(name)) {
      const v = m[2] ?? rest.shift();
      if (v === undefined) throw new Error(`--${name} needs a value\n${help}`);
      flags[name] = v;
    } else throw new Error(`unknown argument "${arg}"\n${help}`);
  }
  return flags;
}

/** A flag's value as a whole number ≥ `min`, or `fallback` when absent. */
export function intFlag(flags: Flags, name: string, fallback: number, min = 0): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new Error(`--${name} must be a whole number ≥ ${min}`);
  return x;
}

/** A valued flag's string, or `fallback`. */
export function strFlag(flags: Flags, name: string, fallback: string): string;
export function strFlag(flags: Flags, name: string): string | undefined;
export function strFlag(flags: Flags, name: string, fallback?: string): string | undefined {
  const v = flags[name];
  return typeof v === "string" ? v : fallback;
}
