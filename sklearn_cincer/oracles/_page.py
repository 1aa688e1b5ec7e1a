"""The annotation page of BrowserOracle: one HTML document, inline CSS and JS.

Kept in a Python module so that it ships with the package without package
data. The script builds every label, name and sentence with ``textContent``;
the only ``innerHTML`` it sets is the example views, which the server escapes
(or which come from the user's own ``render``).
"""

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CINCER: label check</title>
<style nonce="__NONCE__">
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
         background: #f5f6f8; color: #1d2330; }
  header { background: #243b55; color: #fff; padding: 10px 18px; display: flex;
           justify-content: space-between; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  main { padding: 14px 18px; max-width: 1200px; margin: auto; }
  #banner { display: none; background: #fff3cd; border: 1px solid #e0c46c;
            padding: 8px 12px; border-radius: 6px; margin-bottom: 10px; }
  #error { display: none; background: #f8d7da; border: 1px solid #d9828b;
           padding: 8px 12px; border-radius: 6px; margin-bottom: 10px; }
  #why { font-size: 15px; margin: 6px 0 12px; line-height: 1.4; }
  #pair { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
  #pair.single { grid-template-columns: 1fr; }
  /* one column per panel: the example and each counter-example (--panels) */
  #pair.several { grid-template-columns: repeat(var(--panels, 3), minmax(0, 1fr)); }
  .panel { background: #fff; border-radius: 8px; padding: 12px 14px;
           box-shadow: 0 1px 3px rgba(0,0,0,.15); min-width: 0; }
  .panel h2 { font-size: 16px; margin: 0 0 4px; }
  .panel .meta { color: #555; font-size: 13px; margin-bottom: 8px;
                 min-height: 2.6em; }  /* the two panels' views line up */
  .panel.suspicious { border-top: 4px solid #d9534f; }
  .panel.counter { border-top: 4px solid #3c8dbc; }
  /* several counter-examples: Shift + a key labels the active (outlined) one */
  #pair.several .panel.counter { cursor: pointer; }
  #pair.several .panel.counter.active { outline: 3px solid #3c8dbc; }
  #pair.several .panel.counter:not(.active) .labels kbd { visibility: hidden; }
  .view { max-height: 420px; overflow: auto; margin-bottom: 10px; }
  .view .text { white-space: pre-wrap; font-size: 14px; line-height: 1.45; }
  .view img.image { image-rendering: pixelated; border: 1px solid #ccc; }
  table.features { border-collapse: collapse; font-size: 13px; width: 100%; }
  /* a long name or value wraps rather than pushing the values off the panel */
  table.features th, table.features td { overflow-wrap: anywhere; }
  table.features th { text-align: left; font-weight: normal; color: #333;
                      padding: 2px 8px 2px 0; }
  table.features td { text-align: right; font-variant-numeric: tabular-nums;
                      padding: 2px 0; }
  table.features tr.diff { background: #ffe58a; font-weight: bold; }
  p.more { color: #777; font-size: 12px; }
  .labels { display: flex; flex-wrap: wrap; gap: 6px; }
  .labels button { border: 1px solid #9aa5b1; background: #fff; border-radius: 5px;
                   padding: 5px 10px; cursor: pointer; font-size: 14px; }
  .labels button[aria-pressed="true"] { background: #243b55; color: #fff;
                                        border-color: #243b55; }
  .labels button .tag { font-size: 11px; color: #888; margin-left: 4px; }
  .labels button[aria-pressed="true"] .tag { color: #cfd8e3; }
  .labels button kbd { margin-right: 5px; }
  .labels button[aria-pressed="true"] kbd { background: #cfd8e3; color: #1d2330; }
  #will-save { margin: 14px 0 0; font-size: 15px; padding: 8px 12px;
               background: #e8f0fe; border: 1px solid #9ab4e0; border-radius: 6px; }
  #will-save .changed { font-weight: bold; color: #8a1c1c; }
  table.features tr.head th, table.features tr.head td { color: #777;
      font-size: 11px; border-bottom: 1px solid #ddd; }
  table.features td.apart { color: #666; padding-left: 10px; }
  #controls { margin-top: 14px; display: flex; gap: 10px; flex-wrap: wrap; }
  #controls button { font-size: 15px; padding: 7px 16px; border-radius: 6px;
                     border: 1px solid #888; background: #fff; cursor: pointer; }
  #controls button#submit { background: #2e7d32; color: #fff; border-color: #2e7d32; }
  body.saving #submit::after { content: " \2026 saving"; }
  #controls button:disabled { opacity: .45; cursor: default; }
  #waiting { display: none; font-size: 16px; padding: 30px 0; color: #444; }
  kbd { background: #eee; border: 1px solid #bbb; border-radius: 3px;
        padding: 0 4px; font-size: 12px; }
  #help { color: #555; font-size: 13px; margin-top: 12px; }
  details.more-text summary { color: #3c6fa8; cursor: pointer; margin-top: 4px; }
  /* A narrow screen (a phone, a split window): the panels stack, one full
     width each, so that a table keeps room for its values; a panel as wide
     as a quarter of a phone has none. */
  @media (max-width: 760px) {
    #pair, #pair.several { grid-template-columns: minmax(0, 1fr); }
    header { flex-wrap: wrap; gap: 4px 12px; }
    main { padding: 10px; }
    .panel .meta { min-height: 0; }
    .view { max-height: none; }
  }
</style>
</head>
<body>
<header><h1>Is this label right?</h1><span id="progress"></span></header>
<main>
  <div id="error" role="alert"></div>
  <div id="banner" role="status"></div>
  <div id="waiting" role="status">Waiting for the next question&hellip;</div>
  <section id="question" hidden>
    <p id="why"></p>
    <div id="pair">
      <div class="panel suspicious" id="panel-example">
        <h2 id="title-example"></h2><div class="meta" id="meta-example"></div>
        <div class="view" id="view-example"></div>
        <div class="labels" id="labels-example" aria-label="label of the suspicious example"></div>
      </div>
      <div class="panel counter" id="panel-counter">
        <h2 id="title-counter"></h2><div class="meta" id="meta-counter"></div>
        <div class="view" id="view-counter"></div>
        <div class="labels" id="labels-counter" aria-label="label of the counter-example"></div>
      </div>
    </div>
    <p id="will-save" role="status" aria-live="polite"></p>
    <div id="controls">
      <button id="submit" type="button">Submit <kbd>Enter</kbd></button>
      <button id="skip" type="button">Skip <kbd>S</kbd></button>
      <button id="undo" type="button">Undo last answer <kbd>U</kbd></button>
      <button id="cancel" type="button" hidden>Back to the current question <kbd>Esc</kbd></button>
    </div>
    <p id="help">Keys: <span id="help-keys"></span> pick the label of the suspicious
      example; with <kbd>Shift</kbd>, of the
      <span id="help-counter">counter-example</span>. <kbd>Enter</kbd> submits,
      <kbd>S</kbd> skips (keeps every label), <kbd>U</kbd> undoes the last answer,
      <kbd>Esc</kbd> leaves the undo.</p>
  </section>
</main>
<script nonce="__NONCE__">
"use strict";
const BASE = location.pathname.replace(/[^/]*$/, "");
const TOKEN = BASE.split("/")[1];
let version = -1, state = null, choice = { label: null, counters: [] }, busy = false;
// Which counter-example Shift + a key labels (several: Tab or a click moves it).
let active = 0, shownQuestion = null;
const $ = (id) => document.getElementById(id);
$("panel-counter").addEventListener("click", () => activate(0));

function showError(text) {
  const e = $("error");
  e.textContent = text || "";
  e.style.display = text ? "block" : "none";
}

function kbd(text) {
  const k = document.createElement("kbd");
  k.textContent = text;
  return k;
}

// The element ids of the k-th counter-example's panel: the first keeps the
// ids it always had (panel-counter, labels-counter...), the others end in -2, -3...
function cid(name, k) { return k === 0 ? name : name + "-" + (k + 1); }

// One panel per counter-example: the first is in the page, the others copies.
function counterPanels(n) {
  const first = $("panel-counter");
  let k = 1;
  for (; k < Math.max(n, 1); k++) {
    if ($(cid("panel-counter", k))) continue;
    const panel = first.cloneNode(true);
    panel.id = cid("panel-counter", k);
    for (const el of panel.querySelectorAll("[id]")) {
      el.id = cid(el.id, k);
      el.textContent = "";
    }
    const at = k;
    panel.addEventListener("click", () => activate(at));
    $("pair").appendChild(panel);
  }
  while ($(cid("panel-counter", k))) { $(cid("panel-counter", k)).remove(); k++; }
}

function activate(k) {
  const n = state && state.counters ? state.counters.length : 0;
  if (n < 2 || k < 0 || k >= n) return;
  active = k;
  for (let j = 0; j < n; j++) {
    $(cid("panel-counter", j)).classList.toggle("active", j === active);
  }
}

// One button per class. Its key is the class itself for digit classes, else
// a letter; the key is shown on the button unless it is the button's text.
function labelButtons(box, s, current, which, k) {
  box.textContent = "";
  s.classes.forEach((name, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.index = String(i);
    const key = s.keys[i];
    if (key !== null && key !== name) {
      b.appendChild(kbd(which === "counter" ? "\u21e7" + key.toUpperCase() : key));
    }
    b.appendChild(document.createTextNode(name));
    if (key !== null) b.dataset.key = key;
    const tags = [];
    if (i === current) tags.push("current");
    if (i === s.prediction_index) tags.push("model");
    if (tags.length) {
      const t = document.createElement("span");
      t.className = "tag";
      t.textContent = "(" + tags.join(", ") + ")";
      b.appendChild(t);
    }
    b.addEventListener("click", () => pick(which, i, k));
    box.appendChild(b);
  });
}

function pick(which, i, k) {
  if (!state || state.status === "waiting" || state.status === "closed") return;
  if (which === "counter" && !state.counter_editable) return;
  if (i === null || i < 0 || i >= state.classes.length) return;
  k = k || 0;
  if (which === "counter") {
    if (k >= state.counters.length) return;
    choice.counters[k] = i;
  } else {
    choice.label = i;
  }
  const box = $(which === "label" ? "labels-example" : cid("labels-counter", k));
  for (const b of box.children) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.index) === i));
  }
  willSave();
}

// What Submit will save, in words, before it is pressed.
function willSave() {
  const line = $("will-save");
  line.textContent = "Will save: ";
  const part = (what, i, before) => {
    line.appendChild(document.createTextNode(what + " \u2192 "));
    const b = document.createElement("b");
    b.textContent = state.classes[i];
    if (i !== before) b.className = "changed";
    line.appendChild(b);
    line.appendChild(document.createTextNode(
      i === before ? " (unchanged)" : " (was " + labelName(before) + ")"));
  };
  // each example by the one name the page gives it ("#106", "line 268")
  part("example " + state.example.name, choice.label, state.example.label_index);
  if (!state.counter_editable) return;
  state.counters.forEach((ce, k) => {
    line.appendChild(document.createTextNode(" \u00b7 "));
    part("counter-example " + ce.name, choice.counters[k], ce.label_index);
  });
}

function labelName(i) { return i === null ? "?" : state.classes[i]; }

function render(s) {
  state = s;
  document.body.dataset.status = s.status;
  const counts = s.n_answered + " answered" +
    (s.n_skipped ? ", " + s.n_skipped + " skipped" : "");
  $("progress").textContent = (s.progress ? s.progress + " \u00b7 " : "") + counts +
    (s.annotator ? " \u00b7 " + s.annotator : "");
  const banner = $("banner");
  banner.textContent = s.message || "";
  banner.style.display = s.message ? "block" : "none";
  if (s.status === "waiting" || s.status === "closed") {
    $("question").hidden = true;
    $("waiting").style.display = "block";
    $("waiting").textContent = s.status === "closed"
      ? "The session is over. You can close this page."
      : s.waiting_text;
    return;
  }
  $("waiting").style.display = "none";
  $("question").hidden = false;
  document.body.dataset.qid = String(s.qid);
  $("why").textContent = s.why;
  const ex = s.example;
  $("title-example").textContent = ex.title;
  $("meta-example").textContent = "label: " + ex.label + " \u00b7 the model says: " +
    s.prediction + " \u00b7 " + s.sure;
  $("meta-example").title = "margin = P(" + s.prediction + ") \u2212 P(" + ex.label +
    ") = " + s.margin.toFixed(3);
  $("view-example").innerHTML = ex.html;
  labelButtons($("labels-example"), s, ex.label_index, "label");
  const counters = s.counters || [], n = counters.length;
  counterPanels(n);
  $("pair").classList.toggle("single", !n);
  $("pair").classList.toggle("several", n > 1);
  $("pair").style.setProperty("--panels", String(n + 1));
  $("panel-counter").hidden = !n;
  $("labels-counter").textContent = "";
  counters.forEach((ce, k) => {
    $(cid("title-counter", k)).textContent = ce.title;
    $(cid("meta-counter", k)).textContent = "label: " + ce.label +
      (ce.support ? " \u00b7 " + ce.support : "") +
      (s.counter_editable ? "" : " \u00b7 not relabeled with this strategy");
    $(cid("meta-counter", k)).title =
      ce.score === null ? "" : "selector score " + ce.score;
    $(cid("view-counter", k)).innerHTML = ce.html;
    labelButtons($(cid("labels-counter", k)), s, ce.label_index, "counter", k);
  });
  const question = s.status + ":" + s.qid;
  if (question !== shownQuestion) { shownQuestion = question; active = 0; }
  $("panel-counter").classList.add("active");
  activate(Math.min(active, Math.max(n - 1, 0)));
  $("help-counter").textContent = n > 1
    ? "active counter-example (outlined; Tab, or a click on a panel, picks another)"
    : "counter-example";
  const keys = s.keys.filter((k) => k !== null), help = $("help-keys");
  help.textContent = "";
  help.appendChild(kbd(keys[0]));
  if (keys.length > 1) {
    help.appendChild(document.createTextNode(s.digit_keys ? "\u2013" : "\u2026"));
    help.appendChild(kbd(keys[keys.length - 1]));
  }
  help.appendChild(document.createTextNode(s.digit_keys
    ? " (the class itself)" : " (the letter on each button)"));
  const preset = s.preset.counters || [s.preset.counter];
  choice = { label: s.preset.label, counters: preset.slice(0, n) };
  pick("label", s.preset.label);
  if (s.counter_editable) counters.forEach((ce, k) => pick("counter", preset[k], k));
  $("undo").disabled = !s.can_undo || s.status === "revising";
  $("cancel").hidden = s.status !== "revising";
  $("skip").disabled = s.status === "revising";
}

async function post(path, body) {
  if (busy) return null;
  busy = true;
  // An answer is confirmed only once it is written: say so while it is.
  document.body.classList.toggle("saving", path === "answer");
  try {
    const r = await fetch(BASE + path, {
      method: "POST", cache: "no-store",
      headers: { "Content-Type": "application/json", "X-Cincer-Token": TOKEN },
      body: JSON.stringify(body || {}),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) { showError(data.error || ("The session answered " + r.status)); return null; }
    showError("");
    if (data.state) { version = data.state.version; render(data.state); }
    return data;
  } catch (e) {
    showError("Lost contact with the session: is the Python process still running?");
    return null;
  } finally { busy = false; document.body.classList.remove("saving"); }
}

function submit(skip) {
  if (!state || (state.status !== "question" && state.status !== "revising")) return;
  const editable = state.counter_editable && state.counters.length > 0;
  const body = { qid: state.qid, label: choice.label,
                 counter_label: editable ? choice.counters[0] : null,
                 skip: !!skip };
  // several counter-examples: one label each, in order
  if (editable && state.counters.length > 1) body.counter_labels = choice.counters;
  post("answer", body);
}

$("submit").addEventListener("click", () => submit(false));
$("skip").addEventListener("click", () => submit(true));
$("undo").addEventListener("click", () => post("undo"));
$("cancel").addEventListener("click", () => post("cancel"));

// The key of a class: a digit key types that digit class; otherwise the
// letter shown on its button (the character typed, so any keyboard layout).
function keyIndex(ev) {
  let key = null;
  if (state.digit_keys) {
    const m = /^(?:Digit|Numpad)([0-9])$/.exec(ev.code);
    if (m) key = m[1];
  } else if (ev.key.length === 1) {
    key = ev.key.toLowerCase();
  }
  const i = key === null ? -1 : state.keys.indexOf(key);
  return i < 0 ? null : i;
}

document.addEventListener("keydown", (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (!state || state.status === "waiting" || state.status === "closed") return;
  const i = keyIndex(ev);
  if (i !== null) {
    pick(ev.shiftKey ? "counter" : "label", i, active);
    ev.preventDefault();
    return;
  }
  const k = ev.key.toLowerCase();
  if (k === "tab" && state.counters && state.counters.length > 1) {
    const n = state.counters.length;
    activate((active + (ev.shiftKey ? n - 1 : 1)) % n);
    ev.preventDefault();
    return;
  }
  if (k === "enter") { submit(false); ev.preventDefault(); }
  else if (k === "s") { if (state.status === "question") submit(true); }
  else if (k === "u") {
    if (state.can_undo && state.status === "question") post("undo");
  }
  else if (k === "escape") { if (state.status === "revising") post("cancel"); }
});

async function poll() {
  for (;;) {
    try {
      const r = await fetch(BASE + "state?since=" + version, { cache: "no-store" });
      if (!r.ok) { showError("The session refused the request (" + r.status + ")."); await new Promise((f) => setTimeout(f, 2000)); continue; }
      const s = await r.json();
      if (s.version !== version) { version = s.version; render(s); showError(""); }
      if (s.status === "closed") return;
    } catch (e) {
      showError("Lost contact with the session: is the Python process still running?");
      await new Promise((f) => setTimeout(f, 1000));
    }
  }
}
poll();
</script>
</body>
</html>
"""
