// The graph page: search entities, then draw an entity's neighbourhood as an SVG with a
// small force layout (springs along edges, repulsion between nodes, a pull to the centre).
// Clicking a node shows its properties and sources and adds its neighbours. No library.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";  // a namespace name, not a download
// Fetch up to FETCH relations of a node, draw up to PER_KIND of each relation type (an
// equipment has hundreds of specs; its procedures must still show).
const W = 900, H = 600, FETCH = 300, PER_KIND = 8;
const COLOURS = {
  Equipment: "#1f5fbf", Component: "#6f42c1", Part: "#d9480f", Tool: "#2b8a3e",
  Spec: "#0b7285", Procedure: "#c2255c", Step: "#e67700", Warning: "#b3261e", Interval: "#5c940d",
};

const nodes = new Map();   // id -> {id, label, name, x, y, vx, vy, fixed, expanded}
const edges = new Map();   // "src|type|dst" -> {source, target, type}
let selected = null;
let ticks = 0;
let animating = false;

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

function addNode(entity, near) {
  let node = nodes.get(entity.id);
  if (!node) {
    const angle = nodes.size * 2.4;  // golden-angle spread: no two start on one spot
    const base = near || { x: W / 2, y: H / 2 };
    node = { id: entity.id, label: entity.label, name: entity.name,
             x: base.x + 120 * Math.cos(angle), y: base.y + 120 * Math.sin(angle),
             vx: 0, vy: 0, fixed: false, expanded: false };
    nodes.set(entity.id, node);
  }
  return node;
}

function addEdge(source, target, type) {
  const key = source + "|" + type + "|" + target;
  if (!edges.has(key)) edges.set(key, { source, target, type });
}

// Search; ``drawFirst``: draw the best match at once (a link with ?q=).
async function search(event, drawFirst) {
  if (event) event.preventDefault();
  $("error").textContent = "";
  const q = $("q").value.trim();
  if (!q) return;
  const response = await api("/v1/graph/entities?limit=30&q=" + encodeURIComponent(q));
  const list = $("results");
  list.textContent = "";
  if (!response.ok) { $("error").textContent = await errorText(response); return; }
  const { entities } = await response.json();
  if (!entities.length) list.append(el("li", { class: "muted" }, "Nothing found for " + q + "."));
  for (const e of entities) {
    const extra = e.properties.description || e.properties.equipment || "";
    list.append(el("li", {},
      el("button", { class: "link", type: "button", onclick: () => start(e.id) }, e.name),
      " ", el("span", { class: "muted" }, e.label + (extra ? " · " + extra : ""))));
  }
  if (entities.length && (drawFirst || entities.length === 1)) start(entities[0].id);
}

function start(id) {
  nodes.clear();
  edges.clear();
  expand(id);
}

async function expand(id) {
  $("error").textContent = "";
  const response = await api("/v1/graph/entities/" + encodeURIComponent(id) + "?limit=" + FETCH);
  if (!response.ok) { $("error").textContent = await errorText(response); return; }
  const entity = await response.json();
  const centre = addNode(entity);
  centre.expanded = true;
  const drawn = {};
  for (const n of entity.neighbours) {
    const kind = n.direction + " " + n.relation;
    drawn[kind] = (drawn[kind] || 0) + 1;
    if (drawn[kind] > PER_KIND && !nodes.has(n.entity.id)) continue;
    addNode(n.entity, centre);
    if (n.direction === "out") addEdge(entity.id, n.entity.id, n.relation);
    else addEdge(n.entity.id, entity.id, n.relation);
  }
  selected = entity.id;
  showDetails(entity);
  for (let i = 0; i < 200; i++) step();  // settle first: a readable picture at once
  kick(200);
}

// Run the layout for a while (300 frames from ``from``), one loop at a time.
function kick(from) {
  ticks = from;
  if (!animating) {
    animating = true;
    window.requestAnimationFrame(frame);
  }
}

function frame() {
  step();
  draw();
  if (ticks++ < 300) window.requestAnimationFrame(frame);
  else animating = false;
}

function showDetails(entity) {
  const box = $("details");
  box.textContent = "";
  box.append(el("h3", {}, entity.name), el("div", { class: "muted" }, entity.id));
  const props = el("dl");
  for (const [k, v] of Object.entries(entity.properties)) {
    props.append(el("dt", {}, k), el("dd", {}, Array.isArray(v) ? v.join(", ") : v));
  }
  box.append(props);
  if (entity.sources.length) {
    box.append(el("strong", {}, "Read from"));
    const list = el("ul");
    for (const s of entity.sources) {
      list.append(el("li", {}, [s.document || s.document_id, pagesOf(s), s.section].filter(Boolean).join(" · ")));
    }
    box.append(list);
  }
  const counts = {};
  for (const n of entity.neighbours) {
    const kind = (n.direction === "out" ? "→ " : "← ") + n.relation;
    counts[kind] = (counts[kind] || 0) + 1;
  }
  const kinds = el("ul");
  for (const [kind, count] of Object.entries(counts)) {
    kinds.append(el("li", {}, kind + " " + count + (count > PER_KIND ? " (" + PER_KIND + " drawn)" : "")));
  }
  box.append(el("strong", {}, "Relations"), entity.neighbours.length ? kinds : el("div", {}, "none"));
  if (entity.truncated) box.append(el("div", { class: "muted" }, "Over " + FETCH + " relations: not all counted."));
}

// One step of the force layout.
function step() {
  const list = [...nodes.values()];
  for (const a of list) {
    for (const b of list) {
      if (a === b) continue;
      const dx = a.x - b.x, dy = a.y - b.y;
      const d2 = Math.max(dx * dx + dy * dy, 25);
      const f = 5000 / d2;
      a.vx += (dx / Math.sqrt(d2)) * f;
      a.vy += (dy / Math.sqrt(d2)) * f;
    }
  }
  for (const e of edges.values()) {
    const a = nodes.get(e.source), b = nodes.get(e.target);
    if (!a || !b) continue;
    const dx = b.x - a.x, dy = b.y - a.y;
    const d = Math.max(Math.sqrt(dx * dx + dy * dy), 1);
    const f = (d - 110) * 0.02;
    a.vx += (dx / d) * f; a.vy += (dy / d) * f;
    b.vx -= (dx / d) * f; b.vy -= (dy / d) * f;
  }
  for (const n of list) {
    n.vx += (W / 2 - n.x) * 0.002;
    n.vy += (H / 2 - n.y) * 0.002;
    if (n.fixed) { n.vx = n.vy = 0; continue; }
    n.x = Math.min(W - 20, Math.max(20, n.x + Math.max(-20, Math.min(20, n.vx))));
    n.y = Math.min(H - 20, Math.max(20, n.y + Math.max(-20, Math.min(20, n.vy))));
    n.vx *= 0.6; n.vy *= 0.6;
  }
}

function draw() {
  const root = $("graph");
  root.textContent = "";
  const layer = svg("g");
  for (const e of edges.values()) {
    const a = nodes.get(e.source), b = nodes.get(e.target);
    if (!a || !b) continue;
    layer.append(svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, "marker-end": "url(#arrow)" }));
    const label = svg("text", { class: "rel", x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });
    label.textContent = e.type;
    layer.append(label);
  }
  for (const n of nodes.values()) {
    const circle = svg("circle", { cx: n.x, cy: n.y, r: n.expanded ? 11 : 8,
                                   fill: COLOURS[n.label] || "#868e96",
                                   class: n.id === selected ? "selected" : "" });
    circle.append(svg("title"));
    circle.firstChild.textContent = n.label + ": " + n.name + (n.expanded ? "" : " (click to expand)");
    circle.addEventListener("pointerdown", (ev) => drag(ev, n));
    layer.append(circle);
    const text = svg("text", { class: "name", x: n.x + 13, y: n.y + 4 });
    text.textContent = n.name.length > 28 ? n.name.slice(0, 27) + "…" : n.name;
    layer.append(text);
  }
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 20, refY: 5,
                                 markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9aa4b5" }));
  defs.append(marker);
  root.append(defs, layer);
}

// Drag a node; a click without a move expands it.
function drag(event, node) {
  const root = $("graph");
  const matrix = root.getScreenCTM().inverse();
  const start = { x: event.clientX, y: event.clientY };
  let moved = false;
  node.fixed = true;
  const move = (ev) => {
    if (Math.abs(ev.clientX - start.x) + Math.abs(ev.clientY - start.y) > 3) moved = true;
    const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(matrix);
    node.x = p.x; node.y = p.y;
    draw();
    kick(250);
  };
  const up = () => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", up);
    node.fixed = moved;
    if (!moved) expand(node.id);
  };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
}

document.addEventListener("DOMContentLoaded", () => {
  $("search").addEventListener("submit", search);
  $("forget-key").addEventListener("click", forgetKey);
  const legend = $("legend");
  for (const [label, colour] of Object.entries(COLOURS)) {
    const dot = el("i");
    dot.style.background = colour;
    legend.append(el("span", {}, dot, label));
  }
  // A link can name what to draw: /graph?id=Part:WP2207A, or /graph?q=WP-2207-A.
  const params = new URLSearchParams(window.location.search);
  if (params.get("id")) start(params.get("id"));
  else if (params.get("q")) { $("q").value = params.get("q"); search(null, true); }
});
