/**
 * The demo's service worker: keeps the app shell so the page opens offline once loaded.
 *
 * Shell requests go to the network first (a rebuilt demo is picked up at once, and tests never
 * see stale files) and fall back to the cached copy when the network fails. Weights are left to
 * the page, which streams them with progress and caches them itself (web/weights.ts).
 * @module
 */

// Just the parts of the service worker scope used here (the DOM and worker libs conflict).
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(r: Promise<Response>): void;
}
interface WorkerScope {
  addEventListener(type: "install" | "activate", fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: "fetch", fn: (e: FetchEvent) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: { claim(): Promise<void> };
  readonly location: { readonly href: string };
}

const sw = globalThis as unknown as WorkerScope;
const SHELL_CACHE = "tessera-shell-v1";
const SHELL = [
  "./",
  "index.html",
  "app.js",
  "style.css",
  "icon.svg",
  "models.json",
  "selftest.html",
  "selftest.js",
];

sw.addEventListener("install", (e) => {
  e.waitUntil(
    caches.open(SHELL_CACHE)
      .then((c) => c.addAll(SHELL.map((p) => new Request(p, { cache: "no-cache" }))))
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener("activate", (e) => {
  e.waitUntil(sw.clients.claim());
});

sw.addEventListener("fetch", (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== "GET" || url.origin !== new URL(sw.location.href).origin) return;
  if (url.pathname.includes("/weights/")) return;
  e.respondWith(networkFirst(req));
});

async function networkFirst(req: Request): Promise<Response> {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const res = await fetch(req);
    if (res.ok) await cache.put(req, res.clone());
    return res;
  } catch (e) {
    const hit = await cache.match(req, { ignoreSearch: true });
    if (hit) return hit;
    throw e;
  }
}
