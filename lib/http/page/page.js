// The before/after page of the local stack. Plain ES module, no build step: it talks only to the origin
// (the restored image at /<key>) and its local API (/_unjpeg/api/...).

const $ = (id) => document.getElementById(id);
const els = {
  health: $("health"),
  file: $("file"),
  drop: $("drop"),
  objects: $("objects"),
  refresh: $("refresh"),
  title: $("title"),
  zoom: $("zoom"),
  viewport: $("viewport"),
  stage: $("stage"),
  before: $("before"),
  after: $("after"),
  handle: $("handle"),
  status: $("status"),
  facts: $("facts"),
};

const state = { key: null, width: 0, height: 0, split: 50, urls: [] };

const encodeKey = (key) => key.split("/").map(encodeURIComponent).join("/");

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

/** Network failures and the like end up in the status line, not in an unhandled rejection. */
function guarded(promise) {
  return promise.catch((error) => setStatus(`something went wrong: ${error?.message ?? error}`, true));
}

function setStatus(text, isError = false) {
  els.status.textContent = text;
  els.status.classList.toggle("error", isError);
}

async function errorText(response) {
  try {
    const body = await response.json();
    return `${response.status} ${body.code}: ${body.message}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

async function loadHealth() {
  try {
    const response = await fetch("/_unjpeg/health");
    const body = await response.json();
    const model = body.model ?? {};
    els.health.textContent = model.model
      ? `model ${model.model} · ${model.loaded ? "loaded" : "loads on first restore"}`
      : `model unavailable${model.error ? `: ${model.error}` : ""}`;
  } catch (error) {
    els.health.textContent = `health check failed: ${error}`;
  }
}

async function loadObjects() {
  const response = await fetch("/_unjpeg/api/objects");
  if (!response.ok) {
    els.objects.innerHTML = "";
    els.objects.append(
      Object.assign(document.createElement("li"), { textContent: await errorText(response) }),
    );
    return;
  }
  const { objects } = await response.json();
  els.objects.innerHTML = "";
  if (objects.length === 0) {
    els.objects.append(
      Object.assign(document.createElement("li"), { className: "muted", textContent: "no JPEGs yet" }),
    );
  }
  for (const object of objects) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.key = object.key;
    button.title = object.key;
    button.className = object.key === state.key ? "current" : "";
    const key = Object.assign(document.createElement("span"), { className: "key", textContent: object.key });
    const size = Object.assign(document.createElement("span"), {
      className: "size",
      textContent: formatBytes(object.size),
    });
    button.append(key, size);
    button.addEventListener("click", () => guarded(show(object.key)));
    const item = document.createElement("li");
    item.append(button);
    els.objects.append(item);
  }
}

async function upload(file) {
  if (!file) return;
  setStatus(`uploading ${file.name}…`);
  const response = await fetch(`/_unjpeg/api/upload?name=${encodeURIComponent(file.name)}`, {
    method: "POST",
    headers: { "content-type": file.type || "image/jpeg" },
    body: file,
  });
  if (!response.ok) {
    setStatus(`upload failed: ${await errorText(response)}`, true);
    return;
  }
  const { key } = await response.json();
  await loadObjects();
  await show(key);
}

function loadImage(img, blob) {
  const url = URL.createObjectURL(blob);
  state.urls.push(url);
  return new Promise((resolve, reject) => {
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`cannot display ${img.alt}`));
    img.src = url;
  });
}

async function show(key) {
  state.key = key;
  for (const url of state.urls.splice(0)) URL.revokeObjectURL(url);
  for (const button of els.objects.querySelectorAll("button")) {
    button.classList.toggle("current", button.dataset.key === key);
  }
  els.title.textContent = key;
  els.facts.hidden = true;
  setStatus("restoring… (the first request runs the model; later ones are served from the bucket)");
  const started = performance.now();
  const [original, restored] = await Promise.all([
    fetch(`/_unjpeg/api/original?key=${encodeURIComponent(key)}`),
    fetch(`/${encodeKey(key)}`, { cache: "no-store" }),
  ]);
  const requestMs = performance.now() - started;
  if (!original.ok) return setStatus(`cannot read the original: ${await errorText(original)}`, true);
  if (!restored.ok) return setStatus(`restoration failed: ${await errorText(restored)}`, true);
  const [beforeBlob, afterBlob] = await Promise.all([original.blob(), restored.blob()]);
  if (state.key !== key) return; // another image was picked meanwhile
  await Promise.all([loadImage(els.before, beforeBlob), loadImage(els.after, afterBlob)]);
  state.width = els.before.naturalWidth;
  state.height = els.before.naturalHeight;
  els.viewport.hidden = false;
  setSplit(50);
  applyZoom();

  const header = (name) => restored.headers.get(name);
  const action = header("x-unjpeg-action") ?? "–";
  const reason = header("x-unjpeg-skip-reason");
  const pending = action === "pending";
  $("after-tag").textContent = pending
    ? "original (still restoring)"
    : reason
      ? "served (not restored)"
      : "restored";
  $("fact-quality").textContent = header("x-unjpeg-quality") ?? "–";
  $("fact-model").textContent = header("x-unjpeg-model") ?? (reason ? "not run" : "–");
  $("fact-action").textContent =
    action === "hit" ? "stored derivative" : reason ? `not restored (${reason})` : action;
  const restoreMs = header("x-unjpeg-restore-ms");
  $("fact-restore").textContent = restoreMs ? `${restoreMs} ms` : "–";
  $("fact-request").textContent = `${requestMs.toFixed(0)} ms`;
  $("fact-size").textContent =
    `${state.width}×${state.height} · ${formatBytes(beforeBlob.size)} → ${formatBytes(afterBlob.size)}`;
  els.facts.hidden = false;
  setStatus(
    pending
      ? "the restoration takes longer than a request waits: the original is shown; pick the image again shortly"
      : reason
        ? `served as it is: ${reason === "high-quality" ? "already of high quality" : reason}`
        : "drag the handle to compare",
  );
}

function setSplit(percent) {
  state.split = Math.min(100, Math.max(0, percent));
  els.stage.style.setProperty("--split", `${state.split}%`);
  els.handle.setAttribute("aria-valuenow", String(Math.round(state.split)));
}

function applyZoom() {
  if (!state.width) return;
  const value = els.zoom.value;
  let scale;
  if (value === "fit") {
    const available = els.viewport.clientWidth || state.width;
    const maxHeight = window.innerHeight * 0.66;
    // Fit fills the viewer, enlarging small images too: artifacts are easier to judge larger.
    scale = Math.min(available / state.width, maxHeight / state.height);
  } else {
    scale = Number(value) / window.devicePixelRatio;
  }
  els.stage.style.width = `${Math.round(state.width * scale)}px`;
  els.stage.style.height = `${Math.round(state.height * scale)}px`;
  els.stage.classList.toggle("pixelated", scale * window.devicePixelRatio >= 2);
}

function splitFromPointer(event) {
  const box = els.stage.getBoundingClientRect();
  setSplit(((event.clientX - box.left) / box.width) * 100);
}

els.stage.addEventListener("pointerdown", (event) => {
  els.stage.setPointerCapture(event.pointerId);
  splitFromPointer(event);
});
els.stage.addEventListener("pointermove", (event) => {
  if (els.stage.hasPointerCapture(event.pointerId)) splitFromPointer(event);
});
els.handle.addEventListener("keydown", (event) => {
  const step = event.shiftKey ? 10 : 2;
  if (event.key === "ArrowLeft") setSplit(state.split - step);
  else if (event.key === "ArrowRight") setSplit(state.split + step);
  else return;
  event.preventDefault();
});
els.zoom.addEventListener("change", applyZoom);
window.addEventListener("resize", applyZoom);
els.file.addEventListener("change", () => guarded(upload(els.file.files?.[0])));
els.refresh.addEventListener("click", () => loadObjects());
for (const type of ["dragenter", "dragover"]) {
  document.addEventListener(type, (event) => {
    event.preventDefault();
    els.drop.classList.add("over");
  });
}
for (const type of ["dragleave", "drop"]) {
  document.addEventListener(type, (event) => {
    event.preventDefault();
    els.drop.classList.remove("over");
  });
}
document.addEventListener("drop", (event) => guarded(upload(event.dataTransfer?.files?.[0])));

loadHealth();
guarded(loadObjects()).then(() => {
  const wanted = new URLSearchParams(location.search).get("key");
  if (wanted) guarded(show(wanted));
});
