/**
 * A tiny static server for the built demo (`web/dist/`), on 127.0.0.1 only.
 *
 * `deno run -A web/serve.ts [--port N] [--no-build]` builds the demo (unless `--no-build`), then
 * serves it and prints the URL. `--port 0` picks a free port. `deno task web` runs this.
 * @module
 */
import { build } from "./build.ts";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  safetensors: "application/octet-stream",
};

/** Options of {@link serveStatic}. */
export interface ServeOptions {
  /** Folder to serve (default `web/dist/`). */
  readonly root?: URL;
  /** Port (default 8000; 0 picks a free one). */
  readonly port?: number;
  /** Log each request to stderr. */
  readonly verbose?: boolean;
}

/** A running server. */
export interface StaticServer {
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  /** Stops the server. */
  shutdown(): Promise<void>;
}

/** Serves a folder on 127.0.0.1 with `no-cache` headers (the page's service worker caches). */
export function serveStatic(options: ServeOptions = {}): StaticServer {
  const root = options.root ?? new URL("dist/", import.meta.url);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 8000, onListen: () => {} },
    async (req) => {
      const res = await respond(root, req);
      if (options.verbose) {
        console.error(`${req.method} ${new URL(req.url).pathname} ${res.status}`);
      }
      return res;
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    shutdown: () => server.shutdown(),
  };
}

async function respond(root: URL, req: Request): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("method not allowed", { status: 405, headers: { allow: "GET, HEAD" } });
  }
  let path = decodeURIComponent(new URL(req.url).pathname);
  if (path.endsWith("/")) path += "index.html";
  if (path.split("/").some((s) => s === ".." || s.startsWith("."))) {
    return new Response("not found", { status: 404 });
  }
  const file = new URL("." + path, root);
  let f: Deno.FsFile;
  try {
    f = await Deno.open(file);
  } catch {
    return new Response("not found", { status: 404 });
  }
  const stat = await f.stat();
  if (!stat.isFile) {
    f.close();
    return new Response("not found", { status: 404 });
  }
  const headers = {
    "content-type": TYPES[path.slice(path.lastIndexOf(".") + 1)] ?? "application/octet-stream",
    "content-length": String(stat.size),
    "cache-control": "no-cache",
  };
  if (req.method === "HEAD") {
    f.close();
    return new Response(null, { headers });
  }
  return new Response(f.readable, { headers });
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--port");
  const port = i >= 0 ? Number(Deno.args[i + 1]) : Number(Deno.env.get("PORT") ?? 8000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`web/serve.ts: --port needs a port number, got "${Deno.args[i + 1]}"`);
    Deno.exit(64);
  }
  if (!Deno.args.includes("--no-build")) {
    const r = await build({ log: (l) => console.log(`  ${l}`) });
    console.log(`built ${r.outDir.pathname} in ${(r.ms / 1000).toFixed(1)} s`);
  }
  const s = serveStatic({ port, verbose: Deno.args.includes("--verbose") });
  console.log(`Tessera demo: ${s.url}`);
}
