// vidstyle studio: the page. Plain JavaScript, no build step.
//
// The large view asks the server for one painted frame at a time and, when
// it arrives, asks again only if the controls moved meanwhile: however fast
// a slider moves, the server paints the newest setting next and never works
// through a backlog. The cards follow when a control is let go.

const $ = (id) => document.getElementById(id);
const look = { style: "mosaic", strength: 1, preserve_color: false, stroke_scale: 1 };
let state = { styles: [], clips: [], paintings: [], renders: [], max_upload_mb: 2048, view_size: 640, card_size: 320 };
let clip = null;      // the clip on the page
let frame = 0;        // its frame number
let keyframe = null;  // the painted keyframe chosen as the look, or null
const view = { shown: "", inFlight: false, movedAt: 0 };
let cardsRound = 0;

// ------------------------------------------------------------------ server

async function api(url, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (options.method && options.method !== "GET") headers["X-Studio"] = "1";
  const response = await fetch(url, { ...options, headers });
  if (!response.ok) {
    let text = `${response.status} ${response.statusText}`;
    try { text = (await response.json()).error || text; } catch (_) { /* not JSON */ }
    throw new Error(text);
  }
  return response;
}

function say(text, isError = false) {
  const message = $("message");
  message.textContent = text;
  message.classList.toggle("error", isError);
}

async function send(url, file, what) {
  const limit = state.max_upload_mb * 1024 * 1024;
  if (file.size > limit) {
    throw new Error(`${file.name} is larger than the studio's limit of ${state.max_upload_mb} MB (--max-upload)`);
  }
  say(`Sending ${what} ${file.name}…`);
  const response = await api(url, { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
  return response.json();
}

// ------------------------------------------------------------------ frames

function lookQuery(style = look.style) {
  const params = new URLSearchParams({
    style, strength: look.strength, preserve_color: look.preserve_color ? 1 : 0, stroke_scale: look.stroke_scale,
  });
  return params.toString();
}

function viewUrl() {
  return `/api/clips/${clip.id}/frames/${frame}/painted?${lookQuery()}&size=${state.view_size}`;
}

// The painted frame: one request at a time, always for the newest setting.
async function refreshView() {
  if (!clip || view.inFlight) return;
  if (keyframe) { showKeyframe(); return; }
  const wanted = viewUrl();
  if (wanted === view.shown) return;
  view.inFlight = true;
  $("busy").hidden = false;
  const started = view.movedAt || performance.now();
  try {
    const blob = await (await api(wanted)).blob();
    const url = URL.createObjectURL(blob);
    const image = $("after");
    const old = image.src;
    image.src = url;
    await image.decode();
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    view.shown = wanted;
    // For the browser tests: how long the last change took to show.
    document.body.dataset.viewMs = String(Math.round(performance.now() - started));
    document.body.dataset.viewShown = wanted;
  } catch (error) {
    say(error.message, true);
    view.shown = wanted;  // do not retry a failing setting in a loop
  } finally {
    view.inFlight = false;
    $("busy").hidden = true;
  }
  if (keyframe) showKeyframe();  // chosen while a frame was on its way
  else if (viewUrl() !== view.shown) refreshView();
}

function showKeyframe() {
  $("after").src = `/api/paintings/${keyframe.id}`;
  view.shown = "";
  document.body.dataset.viewShown = `keyframe:${keyframe.id}`;
}

function refreshBefore() {
  $("before").src = `/api/clips/${clip.id}/frames/${frame}?size=${state.view_size}`;
  $("frame-download").href = `/api/clips/${clip.id}/frames/${frame}?size=full`;
  $("frame-download").download = `${clip.name.replace(/\.[^.]*$/, "")}_frame${frame}.png`;
  const seconds = clip.fps ? (frame / clip.fps).toFixed(2) : "";
  $("frame-label").textContent = `${frame + 1} / ${clip.frames}${seconds ? ` · ${seconds} s` : ""}`;
}

function lookChanged() {
  view.movedAt = performance.now();
  $("strength-value").textContent = look.strength.toFixed(2);
  $("stroke-value").textContent = look.stroke_scale.toFixed(2);
  refreshView();
}

// ------------------------------------------------------------------ cards

function cardList() {
  const cards = state.styles.map((name) => ({ key: name, label: name, style: name }));
  for (const painting of state.paintings) {
    if (painting.clip === null) cards.push({ key: painting.style, label: painting.name, style: painting.style });
    else if (clip && painting.clip === clip.id) {
      cards.push({ key: `keyframe:${painting.id}`, label: `painted frame ${painting.frame + 1}: ${painting.name}`, keyframe: painting });
    }
  }
  return cards;
}

// Whether the large view shows the current setting: the cards wait for it,
// since the view is what the user is looking at.
function viewSettled() {
  return keyframe !== null || (!view.inFlight && viewUrl() === view.shown);
}

function chosen(card) {
  return card.keyframe ? keyframe && keyframe.id === card.keyframe.id : !keyframe && look.style === card.style;
}

// Every card, one request after another and each only while the large view
// is settled, so that the view never waits behind the sheet; a newer round
// stops an older one.
async function refreshCards() {
  if (!clip) return;
  const round = ++cardsRound;
  const holder = $("cards");
  const cards = cardList();
  holder.replaceChildren(...cards.map((card) => {
    const button = document.createElement("button");
    button.className = "card";
    button.type = "button";
    button.dataset.key = card.key;
    button.setAttribute("aria-pressed", chosen(card) ? "true" : "false");
    button.style.setProperty("--aspect", `${clip.width} / ${clip.height}`);
    const image = document.createElement("img");
    image.alt = card.label;
    const label = document.createElement("span");
    label.textContent = card.label;
    button.append(image, label);
    button.addEventListener("click", () => choose(card));
    return button;
  }));
  for (const [index, card] of cards.entries()) {
    while (!viewSettled()) await new Promise((resolve) => setTimeout(resolve, 25));
    if (round !== cardsRound) return;
    const image = holder.children[index].querySelector("img");
    const url = card.keyframe ? `/api/paintings/${card.keyframe.id}`
      : `/api/clips/${clip.id}/frames/${frame}/painted?${lookQuery(card.style)}&size=${state.card_size}`;
    try {
      const blob = await (await api(url)).blob();
      if (round !== cardsRound) return;
      image.src = URL.createObjectURL(blob);
      await image.decode();
      holder.children[index].dataset.ready = "1";
    } catch (error) {
      holder.children[index].querySelector("span").textContent = `${card.label}: ${error.message}`;
    }
  }
}

function choose(card) {
  keyframe = card.keyframe || null;
  if (!card.keyframe) look.style = card.style;
  $("style-name").textContent = card.label;
  for (const button of $("cards").children) button.setAttribute("aria-pressed", button.dataset.key === card.key ? "true" : "false");
  lookChanged();
}

// ------------------------------------------------------------------ clips

function showClips() {
  const select = $("clip");
  select.replaceChildren(...state.clips.map((item) => new Option(`${item.name} (${item.width}x${item.height}, ${item.frames} frames)`, item.id)));
  if (clip) select.value = clip.id;
}

function openClip(id) {
  clip = state.clips.find((item) => item.id === id) || null;
  if (!clip) return;
  keyframe = null;
  frame = 0;
  $("empty").hidden = true;
  $("view").hidden = false;
  $("scrubber").hidden = false;
  $("view").style.setProperty("--aspect", `${clip.width} / ${clip.height}`);
  $("cards-title").hidden = false;
  $("render").disabled = false;
  $("frame").max = String(clip.frames - 1);
  $("frame").value = "0";
  $("clip").value = clip.id;
  $("style-name").textContent = look.style;
  view.shown = "";
  refreshBefore();
  lookChanged();
  refreshCards();
  say(`${clip.name}: ${clip.width}x${clip.height}, ${clip.frames} frames`);
}

async function uploadClip(file) {
  try {
    const added = await send(`/api/clips?name=${encodeURIComponent(file.name)}`, file, "clip");
    state.clips.push(added);
    showClips();
    openClip(added.id);
  } catch (error) {
    say(error.message, true);
  }
}

async function uploadPainting(file, asKeyframe) {
  try {
    let url = `/api/paintings?name=${encodeURIComponent(file.name)}`;
    if (asKeyframe) {
      if (!clip) throw new Error("open a clip first: a painted keyframe paints one of its frames");
      url += `&clip=${clip.id}&frame=${frame}`;
    }
    const painting = await send(url, file, asKeyframe ? "painted frame" : "painting");
    state.paintings.push(painting);
    say(asKeyframe ? `${painting.name} paints frame ${painting.frame + 1}; chosen as the look` : `${painting.name} is now a style card`);
    const card = asKeyframe
      ? { key: `keyframe:${painting.id}`, label: `painted frame ${painting.frame + 1}: ${painting.name}`, keyframe: painting }
      : { key: painting.style, label: painting.name, style: painting.style };
    refreshCards();  // builds the new card at once, then paints the cards one by one
    choose(card);
  } catch (error) {
    say(error.message, true);
  }
}

// ------------------------------------------------------------------ webcam

let recorder = null;

async function toggleWebcam() {
  if (recorder) { recorder.stop(); return; }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: false });
  } catch (error) {
    say(`no webcam: ${error.message}`, true);
    return;
  }
  const camera = $("camera");
  camera.srcObject = stream;
  camera.hidden = false;
  $("view").hidden = false;
  $("empty").hidden = true;
  await camera.play();
  const pieces = [];
  recorder = new MediaRecorder(stream, { mimeType: "video/webm" });
  recorder.ondataavailable = (event) => pieces.push(event.data);
  recorder.onstop = () => {
    stream.getTracks().forEach((track) => track.stop());
    camera.hidden = true;
    recorder = null;
    $("webcam").textContent = "Record from the webcam";
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
    uploadClip(new File(pieces, `webcam-${stamp}.webm`, { type: "video/webm" }));
  };
  recorder.start();
  $("webcam").textContent = "Stop recording";
  say("Recording from the webcam: press Stop recording when done");
}

// ------------------------------------------------------------------ renders

async function render() {
  if (!clip) return;
  const body = { clip: clip.id, strength: look.strength, preserve_color: look.preserve_color, stroke_scale: look.stroke_scale };
  if (keyframe) body.keyframe = keyframe.id; else body.style = look.style;
  try {
    const job = await (await api("/api/renders", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } })).json();
    say(`Render of ${job.clip_name} queued`);
  } catch (error) {
    say(error.message, true);
  }
}

function clock(seconds) {
  if (seconds === null || seconds === undefined) return "";
  seconds = Math.round(seconds);
  return seconds >= 60 ? `${Math.floor(seconds / 60)} min ${seconds % 60} s` : `${seconds} s`;
}

function describe(job) {
  if (job.status === "queued") return "waiting for the render before it";
  if (job.status === "running") {
    if (!job.done && !job.total) return "starting";
    const stage = job.stage === "learning" ? "learning the painted look" : "painting frames";
    const count = job.total ? `${job.done} of ${job.total}` : `${job.done}`;
    const left = job.seconds_left !== null ? ` · about ${clock(job.seconds_left)} left` : " · estimating the time";
    return `${stage}: ${count}${left}`;
  }
  if (job.status === "done") return `done in ${clock(job.elapsed)}${job.warnings.length ? ` · ${job.warnings.join("; ")}` : ""}`;
  if (job.status === "failed") return `failed: ${job.error}`;
  return "cancelled";
}

function showRenders(renders) {
  state.renders = renders;
  $("renders").replaceChildren(...[...renders].reverse().map((job) => {
    const item = document.createElement("li");
    item.className = job.status;
    item.dataset.id = job.id;
    item.dataset.status = job.status;
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = `${job.clip_name} · ${job.style}`;
    const status = document.createElement("div");
    status.className = "status";
    status.textContent = describe(job);
    item.append(title, status);
    if (job.status === "running" || job.status === "queued") {
      const bar = document.createElement("progress");
      bar.max = job.total || 1;
      if (job.total) bar.value = job.done; else bar.removeAttribute("value");
      item.append(bar);
    }
    const command = document.createElement("code");
    command.textContent = job.command;
    command.title = "the same render from a terminal";
    item.append(command);
    const actions = document.createElement("div");
    actions.className = "actions";
    if (job.status === "running" || job.status === "queued") {
      const cancel = document.createElement("button");
      cancel.type = "button";
      cancel.textContent = "Cancel";
      cancel.addEventListener("click", () => api(`/api/renders/${job.id}/cancel`, { method: "POST" }).catch((e) => say(e.message, true)));
      actions.append(cancel);
    }
    if (job.file) {
      const link = document.createElement("a");
      link.className = "button";
      link.href = `/api/renders/${job.id}/file`;
      link.download = job.file;
      link.textContent = `Download ${job.file}`;
      actions.append(link);
    }
    item.append(actions);
    return item;
  }));
}

// ------------------------------------------------------------------ wiring

function wire() {
  $("clip").addEventListener("change", (event) => openClip(event.target.value));
  $("clip-file").addEventListener("change", (event) => { if (event.target.files[0]) uploadClip(event.target.files[0]); event.target.value = ""; });
  $("painting-file").addEventListener("change", (event) => { if (event.target.files[0]) uploadPainting(event.target.files[0], false); event.target.value = ""; });
  $("keyframe-file").addEventListener("change", (event) => { if (event.target.files[0]) uploadPainting(event.target.files[0], true); event.target.value = ""; });
  $("webcam").addEventListener("click", toggleWebcam);
  $("render").addEventListener("click", render);

  $("frame").addEventListener("input", (event) => { frame = Number(event.target.value); refreshBefore(); lookChanged(); });
  $("frame").addEventListener("change", refreshCards);
  $("strength").addEventListener("input", (event) => { look.strength = Number(event.target.value); lookChanged(); });
  $("stroke").addEventListener("input", (event) => { look.stroke_scale = Number(event.target.value); lookChanged(); });
  $("preserve-color").addEventListener("change", (event) => { look.preserve_color = event.target.checked; lookChanged(); refreshCards(); });
  for (const id of ["strength", "stroke"]) $(id).addEventListener("change", refreshCards);

  $("split").addEventListener("input", (event) => {
    const percent = Number(event.target.value);
    $("after-clip").style.clipPath = `inset(0 0 0 ${percent}%)`;
    $("divider").style.left = `${percent}%`;
  });

  document.addEventListener("keydown", (event) => {
    if (!clip || event.target.matches("input, select, textarea")) return;
    const step = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
    if (!step) return;
    frame = Math.min(Math.max(frame + step * (event.shiftKey ? 10 : 1), 0), clip.frames - 1);
    $("frame").value = String(frame);
    refreshBefore();
    lookChanged();
    refreshCards();
  });

  // Drop a video anywhere to open it; a picture on the painting zone to use it as a style.
  document.addEventListener("dragover", (event) => { event.preventDefault(); document.body.classList.add("over"); });
  document.addEventListener("dragleave", () => document.body.classList.remove("over"));
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("over");
    const file = event.dataTransfer.files[0];
    if (!file) return;
    if (file.type.startsWith("image/")) uploadPainting(file, false); else uploadClip(file);
  });
  const drop = $("drop");
  drop.addEventListener("dragover", () => drop.classList.add("over"));
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", () => drop.classList.remove("over"));

  const events = new EventSource("/api/events");
  events.onmessage = (event) => showRenders(JSON.parse(event.data));
}

async function start() {
  wire();
  try {
    state = await (await api("/api/state")).json();
  } catch (error) {
    say(`the studio does not answer: ${error.message}`, true);
    return;
  }
  showClips();
  showRenders(state.renders);
  if (state.clips.length) openClip(state.clips[0].id);
  document.body.dataset.ready = "1";
}

start();
