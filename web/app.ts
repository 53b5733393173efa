/// <reference lib="dom" />
/**
 * The Tessera demo page: pick or drop an image, encode it with the chosen model and rate, watch
 * the progressive decode stage by stage, download the stream and the decoded PNG, or open a
 * `.tsr` file to decode it. Runs the same `src/` modules as the CLI. Web APIs only.
 *
 * `document.body.dataset.state` tells what the page is doing (`loading`, `ready`, `busy`,
 * `done`, `error`, `no-webgpu`); the browser tests wait on it.
 * @module
 */
import { decode, DEFAULT_MODEL, encode, inspect, loadModel, type Model } from "../src/api.ts";
import { TesseraError, WeightsError } from "../src/errors.ts";
import { acquireGpu, type GpuContext } from "../src/graph/device.ts";
import { decodeImage, encodePng, type ImageData8, type RgbImage, toRgb } from "../src/io/image.ts";
import type { ModelEntry } from "./build.ts";
import { fetchWeights } from "./weights.ts";

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};

type State = "loading" | "ready" | "busy" | "done" | "error" | "no-webgpu";

const app = {
  gpu: null as GpuContext | null,
  models: [] as ModelEntry[],
  loaded: new Map<string, Promise<Model>>(),
  /** What the weights line says about each loaded model. */
  loadNote: new Map<string, { text: string; source: string }>(),
  image: null as RgbImage | null,
  imageName: "image",
  urls: [] as string[],
};

function setState(s: State): void {
  document.body.dataset.state = s;
  ($<HTMLButtonElement>("encode")).disabled = s === "busy" || s === "no-webgpu" || !app.image;
}

function status(text: string): void {
  $("status").textContent = text;
}

function showError(e: unknown): void {
  const el = $("error");
  if (e instanceof TesseraError) {
    // The same text the CLI prints after "tessera: ".
    el.textContent = e.message;
    el.dataset.code = e.code;
  } else {
    el.textContent = `internal error: ${(e as Error)?.message ?? e}`;
    el.dataset.code = "INTERNAL";
    console.error(e);
  }
  el.hidden = false;
  status("");
  setState("error");
}

/** Runs one user action: busy state, then `after`, or the error shown. */
async function run(action: () => Promise<void>, after: State = "done"): Promise<void> {
  $("error").hidden = true;
  setState("busy");
  try {
    await action();
    setState(after);
  } catch (e) {
    showError(e);
  }
}

const ms = (t: number) => (t < 1000 ? `${t.toFixed(0)} ms` : `${(t / 1000).toFixed(2)} s`);
const size = (n: number) => (n < 10240 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`);

// ---------------------------------------------------------------------------------------------
// Models and weights

async function loadModels(): Promise<void> {
  const res = await fetch("models.json", { cache: "no-cache" });
  if (!res.ok) throw new WeightsError(`models.json: HTTP ${res.status}`);
  app.models = await res.json();
  const sel = $<HTMLSelectElement>("model");
  sel.replaceChildren();
  for (const m of app.models) {
    const o = new Option(
      m.url ? `${m.name} (${size(m.bytes)})` : `${m.name} (weights missing)`,
      m.name,
    );
    o.disabled = !m.url;
    sel.add(o);
  }
  const first = app.models.find((m) => m.default && m.url) ?? app.models.find((m) => m.url);
  if (first) sel.value = first.name;
  const def = app.models.find((m) => m.name === DEFAULT_MODEL);
  $("model-note").textContent = def && !def.url
    ? `The default model ${DEFAULT_MODEL} has no weights in this build (weights/${DEFAULT_MODEL}` +
      `.safetensors is missing — it may still be training). ` +
      (first ? `Using ${first.name} instead.` : "No model can run.")
    : "";
  if (first?.name === "progic-test") {
    $("model-note").textContent +=
      " progic-test has random weights: it exercises the codec, its pictures are not meant to look good.";
  }
}

/** The loaded model of that name (weights fetched with progress, then cached). */
function model(name: string): Promise<Model> {
  let p = app.loaded.get(name);
  if (!p) {
    p = loadOne(name);
    p.catch(() => app.loaded.delete(name));
    app.loaded.set(name, p);
  }
  return p;
}

async function loadOne(name: string): Promise<Model> {
  const entry = app.models.find((m) => m.name === name);
  if (!entry?.url) {
    throw new WeightsError(
      `the weights of model "${name}" are not in this build (weights/${name}.safetensors is ` +
        `missing)`,
    );
  }
  if (!app.gpu) throw new TesseraError("WEBGPU_UNAVAILABLE", "WebGPU is not available");
  const bar = $<HTMLProgressElement>("weights-progress");
  const label = $("weights-status");
  const t0 = performance.now();
  const w = await fetchWeights(name, entry.url, entry.sha256, (p) => {
    bar.max = p.total || entry.bytes || 1;
    bar.value = p.loaded;
    label.textContent = `${name}: ${size(p.loaded)} of ${size(p.total || entry.bytes)}` +
      (p.fromCache ? " (cache)" : "");
  });
  const m = await loadModel({ bytes: w.bytes, gpu: app.gpu });
  app.loadNote.set(name, {
    text: `${name}: ${size(w.bytes.length)} ${
      w.fromCache ? "from the offline cache" : "downloaded"
    } in ${ms(performance.now() - t0)}`,
    source: w.fromCache ? "cache" : "network",
  });
  showLoadNote();
  bar.value = bar.max;
  return m;
}

/** The weights line describes the selected model once it is loaded (loads may finish in any order). */
function showLoadNote(): void {
  const note = app.loadNote.get($<HTMLSelectElement>("model").value);
  if (!note) return;
  const label = $("weights-status");
  label.textContent = note.text;
  label.dataset.source = note.source;
}

// ---------------------------------------------------------------------------------------------
// Images

async function readImage(file: Blob): Promise<RgbImage> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let img: ImageData8;
  try {
    img = decodeImage(bytes); // PNG and JPEG exactly as the CLI reads them
  } catch {
    // Other formats: let the browser decode.
    const bmp = await createImageBitmap(file);
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext("2d")!;
    ctx.drawImage(bmp, 0, 0);
    img = { ...ctx.getImageData(0, 0, bmp.width, bmp.height), channels: 4 };
  }
  return toRgb(img, { background: [255, 255, 255] });
}

function draw(canvas: HTMLCanvasElement, img: RgbImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.classList.toggle("pixelated", img.width < 256);
  const rgba = new ImageData(img.width, img.height);
  for (let i = 0, n = img.width * img.height; i < n; i++) {
    rgba.data[i * 4] = img.data[i * 3];
    rgba.data[i * 4 + 1] = img.data[i * 3 + 1];
    rgba.data[i * 4 + 2] = img.data[i * 3 + 2];
    rgba.data[i * 4 + 3] = 255;
  }
  canvas.getContext("2d")!.putImageData(rgba, 0, 0);
}

function blobUrl(data: Uint8Array, type: string): string {
  const url = URL.createObjectURL(new Blob([data as Uint8Array<ArrayBuffer>], { type }));
  app.urls.push(url);
  return url;
}

function setDownload(id: string, data: Uint8Array, type: string, name: string): void {
  const a = $<HTMLAnchorElement>(id);
  a.href = blobUrl(data, type);
  a.download = name;
  a.setAttribute("aria-disabled", "false");
}

function resetOutputs(): void {
  for (const u of app.urls.splice(0)) URL.revokeObjectURL(u);
  $("progressive").replaceChildren();
  for (const id of ["download-tsr", "download-png"]) {
    $<HTMLAnchorElement>(id).removeAttribute("href");
    $(id).setAttribute("aria-disabled", "true");
  }
  $<HTMLImageElement>("decoded").removeAttribute("src");
  for (const id of ["size", "bpp", "stages", "dims", "encode", "decode", "model"]) {
    $(`stat-${id}`).textContent = "–";
  }
}

// ---------------------------------------------------------------------------------------------
// Encode and decode

async function onImage(file: File): Promise<void> {
  resetOutputs();
  app.image = await readImage(file);
  app.imageName = file.name.replace(/\.[^.]*$/, "") || "image";
  draw($<HTMLCanvasElement>("original"), app.image);
  $("original-caption").textContent =
    `original: ${file.name}, ${app.image.width}×${app.image.height}`;
  $("stat-dims").textContent = `${app.image.width}×${app.image.height}`;
  const slow = app.gpu?.adapter.software && app.image.width * app.image.height > 256 * 256;
  status(
    slow
      ? "Software WebGPU adapter: a large image will take a long time; small ones are best."
      : "Ready to encode.",
  );
}

async function onEncode(): Promise<void> {
  const img = app.image;
  if (!img) return;
  resetOutputs();
  const m = await model($<HTMLSelectElement>("model").value);
  const mode = document.querySelector<HTMLInputElement>('input[name="mode"]:checked')!.value;
  const n = (id: string) => Number($<HTMLInputElement>(id).value);
  status(`Encoding ${img.width}×${img.height} with ${m.name}…`);
  const t0 = performance.now();
  const r = await encode(img, {
    model: m,
    ...(mode === "bytes" ? { maxBytes: n("max-bytes") } : { stages: n("stages") }),
    onProgress: (msg) => status(msg),
  });
  const tEnc = performance.now() - t0;
  $("stat-encode").textContent = ms(tEnc) +
    (r.codedWidth !== img.width ? ` (coded at ${r.codedWidth}×${r.codedHeight})` : "");
  setDownload("download-tsr", r.bytes, "application/octet-stream", `${app.imageName}.tsr`);
  await progressive(r.bytes, m);
}

async function onTsr(file: File): Promise<void> {
  resetOutputs();
  const bytes = new Uint8Array(await file.arrayBuffer());
  app.imageName = file.name.replace(/\.[^.]*$/, "") || "image";
  const info = inspect(bytes); // BitstreamError for foreign files, as in the CLI
  $("original-caption").textContent = `opened ${file.name} (no original)`;
  const c = $<HTMLCanvasElement>("original");
  c.width = c.height = 1;
  setDownload("download-tsr", bytes, "application/octet-stream", file.name);
  await progressive(bytes, await model(info.model));
}

/** Decodes stages 1, 1–2, … of a stream, showing each as it is ready. */
async function progressive(bytes: Uint8Array, m: Model): Promise<void> {
  const info = inspect(bytes);
  $("stat-size").textContent = `${size(info.bytes)} (${info.bytes} bytes)`;
  $("stat-bpp").textContent = `${info.bpp.toFixed(4)} bpp`;
  $("stat-stages").textContent = `${info.stagesPresent} of ${info.stages}`;
  $("stat-dims").textContent = `${info.width}×${info.height}`;
  $("stat-model").textContent = `${m.name} (weights ${m.sha256.slice(0, 12)}…)`;
  const list = $("progressive");
  const times: string[] = [];
  let last = null as RgbImage | null;
  let header = info.bytes - info.segmentBytes.reduce((a, b) => a + b, 0);
  for (let k = 1; k <= info.stagesPresent; k++) {
    status(`Decoding stage ${k} of ${info.stagesPresent}…`);
    const t0 = performance.now();
    const d = await decode(bytes, { model: m, stages: k });
    const t = performance.now() - t0;
    times.push(ms(t));
    header += info.segmentBytes[k - 1];
    // Decoding all stages includes the refinement codes that follow them.
    const refined = d.refinementCodes > 0;
    if (refined) header += info.segmentBytes[k];
    const li = document.createElement("li");
    const canvas = document.createElement("canvas");
    draw(canvas, d.image);
    const cap = document.createElement("span");
    cap.textContent = `${k} stage${k > 1 ? "s" : ""}${refined ? " + refinement" : ""}: ${
      size(header)
    }, ${(header * 8 / (info.width * info.height)).toFixed(3)} bpp, ${ms(t)}`;
    li.append(canvas, cap);
    list.append(li);
    last = d.image;
    $("stat-decode").textContent = times.join(" · ");
  }
  const png = encodePng(last!);
  setDownload("download-png", png, "image/png", `${app.imageName}.decoded.png`);
  const img = $<HTMLImageElement>("decoded");
  img.classList.toggle("pixelated", last!.width < 256);
  await new Promise<void>((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error("the decoded PNG did not display"));
    img.src = $<HTMLAnchorElement>("download-png").href;
  });
  $("decoded-caption").textContent = `decoded: ${info.stagesPresent} stage(s), ${size(info.bytes)}`;
  status(`Done: ${info.width}×${info.height} in ${size(info.bytes)}.`);
}

// ---------------------------------------------------------------------------------------------
// Wiring

/** Opens a picked or dropped file: an image to encode, or a stream to decode. */
function openFile(f: File | undefined, kind: "image" | "tsr" | "auto"): void {
  if (!f) return;
  const tsr = kind === "tsr" || (kind === "auto" && !f.type.startsWith("image/"));
  if (tsr) void run(() => onTsr(f));
  else void run(() => onImage(f), "ready");
}

function wire(): void {
  for (const kind of ["image", "tsr"] as const) {
    const input = $<HTMLInputElement>(`${kind}-file`);
    input.addEventListener("change", () => {
      openFile(input.files?.[0], kind);
      input.value = "";
    });
  }
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    openFile(e.dataTransfer?.files[0], "auto");
  });
  $("encode").addEventListener("click", () => void run(onEncode));
  $("model").addEventListener("change", () => {
    const name = $<HTMLSelectElement>("model").value;
    void model(name).then(showLoadNote, showError);
  });
}

async function start(): Promise<void> {
  wire();
  const params = new URLSearchParams(location.search);
  if ("serviceWorker" in navigator && !params.has("nosw")) {
    navigator.serviceWorker.register("sw.js").catch((e) => console.warn("no offline cache:", e));
  }
  try {
    await loadModels();
  } catch (e) {
    showError(e);
    return;
  }
  try {
    app.gpu = await acquireGpu();
  } catch (e) {
    $("adapter").textContent = "No WebGPU adapter.";
    $("no-webgpu-reason").textContent = globalThis.isSecureContext
      ? "The page could not get a WebGPU adapter from this browser."
      : "This page is not a secure context, so the browser hides WebGPU.";
    $("no-webgpu-detail").textContent = `Details: ${(e as Error).message}`;
    $("no-webgpu").hidden = false;
    setState("no-webgpu");
    return;
  }
  const a = app.gpu.adapter;
  const desc = [a.vendor, a.architecture, a.description].filter(Boolean).join(" / ") ||
    "unnamed adapter";
  $("adapter").textContent = `WebGPU adapter: ${desc}${a.software ? " (software)" : ""}`;
  $("stat-adapter").textContent = desc + (a.software ? " (software)" : "");
  setState("ready");
  const name = $<HTMLSelectElement>("model").value;
  if (name) void model(name).catch(showError);
}

void start();
