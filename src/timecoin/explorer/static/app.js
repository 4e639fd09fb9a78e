// TimeCoin explorer: renders each page from the REST API (/api) and reloads
// its data when the node reports a change (server-sent events on /events).
// Every value is put on the page as text (textContent), never as HTML.
"use strict";

const COIN = 100000000;
const body = document.body;
const page = body.dataset.page;
const subject = body.dataset.subject;
const app = document.getElementById("app");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function link(href, text, cls) {
  return el("a", { href: href, class: cls || "mono" }, text);
}

function amount(units) {
  if (units === null || units === undefined) return "?";
  const sign = units < 0 ? "-" : "";
  const abs = Math.abs(units);
  const whole = Math.floor(abs / COIN);
  const frac = String(abs % COIN).padStart(8, "0");
  return `${sign}${whole}.${frac} TIME`;
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "";
}

function badge(status, id) {
  const attrs = { class: `badge ${status}` };
  if (id) attrs.id = id;
  return el("span", attrs, status);
}

function facts(pairs) {
  const list = el("dl", { class: "facts" });
  for (const [name, value] of pairs) {
    list.append(el("dt", {}, name), el("dd", {}, value));
  }
  return list;
}

function table(headers, rows, optional) {
  const head = el("tr", {}, ...headers.map((h, i) => el("th", (optional || []).includes(i) ? { class: "optional" } : {}, h)));
  const t = el("table", {}, el("thead", {}, head));
  const tbody = el("tbody");
  for (const row of rows) {
    tbody.append(el("tr", {}, ...row.map((cell, i) => el("td", (optional || []).includes(i) ? { class: "optional" } : {}, cell))));
  }
  t.append(tbody);
  return t;
}

async function api(path) {
  const response = await fetch("/api" + path);
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  const type = response.headers.get("Content-Type") || "";
  return type.startsWith("application/json") ? response.json() : response.text();
}

function show(...nodes) {
  app.replaceChildren(...nodes);
}

// ------------------------------------------------------------------ pages

// (time, finalized total) samples of the last FINAL_WINDOW_MS, for the live rate.
const FINAL_WINDOW_MS = 10000;
const finalSamples = [];

function finalizedPerSecond(total) {
  const now = Date.now();
  finalSamples.push([now, total]);
  while (finalSamples.length > 2 && now - finalSamples[0][0] > FINAL_WINDOW_MS) finalSamples.shift();
  const [then, before] = finalSamples[0];
  return now - then >= 1000 ? ((total - before) * 1000 / (now - then)).toFixed(2) : "…";
}

async function renderHome() {
  const [blocks, pool, masternodes, stats] = await Promise.all([
    api("/blocks"), api("/mempool"), api("/masternodes"), api("/stats"),
  ]);
  const latency = stats.finality_latency_ms;
  const tip = blocks[0];
  let perMinute = "", perSecond = "";
  if (blocks.length > 1) {
    const span = Math.max(1, tip.timestamp - blocks[blocks.length - 1].timestamp);
    perMinute = ((blocks.length - 1) * 60 / span).toFixed(1);
    const txs = blocks.slice(0, -1).reduce((n, b) => n + b.tx_count - 1, 0);  // without coinbases
    perSecond = (txs / span).toFixed(2);
  }
  const enabled = masternodes.filter((m) => m.status === "enabled");
  const weight = enabled.reduce((n, m) => n + m.weight, 0);
  const cards = el("div", { class: "cards" },
    card("Tip height", tip ? tip.height : "", "tip-height"),
    card("Blocks per minute", perMinute, "blocks-per-minute"),
    card("Payments per second (recent blocks)", perSecond, "tps"),
    card("Finalized per second (live)", finalizedPerSecond(stats.finalized_total), "finalized-per-second"),
    card("Finality latency p50 / p99", latency.p50 === null ? "no sample yet"
      : `${Math.round(latency.p50)} ms / ${Math.round(latency.p99)} ms`, "finality-latency"),
    card("Mempool (final)", `${pool.count} (${pool.final_count})`, "mempool"),
    card("Masternodes (weight)", `${enabled.length} (${weight})`, "masternodes"));
  const rows = blocks.map((b) => [
    link(`/block/${b.id}`, String(b.height)), when(b.timestamp), String(b.tx_count), String(b.size),
  ]);
  show(el("h1", {}, "Latest blocks"), cards, el("h2", {}, "Blocks"),
    table(["Height", "Time", "Transactions", "Bytes"], rows, [3]));
}

function card(title, value, id) {
  return el("div", { class: "card" }, el("div", { class: "muted" }, title), el("div", { class: "value", id: id }, value));
}

const PAGE_TXS = 25;

async function renderBlock() {
  const start = Math.max(0, Math.floor(Number(new URLSearchParams(location.search).get("start")) / PAGE_TXS) * PAGE_TXS || 0);
  const [block, status] = await Promise.all([api(`/block/${subject}`), api(`/block/${subject}/status`)]);
  const first = Math.min(start, Math.max(0, Math.floor((block.tx_count - 1) / PAGE_TXS) * PAGE_TXS));
  const txs = await api(`/block/${subject}/txs/${first}`);
  const prev = block.previousblockhash ? link(`/block/${block.previousblockhash}`, block.previousblockhash) : "none";
  const next = status.next_best ? link(`/block/${status.next_best}`, status.next_best) : "none yet";
  const rows = txs.map((tx) => [
    link(`/tx/${tx.txid}`, tx.txid), String(tx.vin.length), String(tx.vout.length),
    amount(tx.vout.reduce((n, o) => n + o.value, 0)),
  ]);
  const pager = el("p", { id: "pager" });
  if (first > 0) pager.append(link(`/block/${subject}?start=${first - PAGE_TXS}`, "« previous", ""), " ");
  if (first + PAGE_TXS < block.tx_count) pager.append(link(`/block/${subject}?start=${first + PAGE_TXS}`, "next »", ""));
  show(el("h1", {}, `Block ${block.height}`),
    facts([["Hash", el("span", { class: "mono" }, block.id)], ["Time", when(block.timestamp)],
      ["Epoch", String(block.epoch)], ["Transactions", String(block.tx_count)],
      ["Size", `${block.size} bytes`], ["Merkle root", el("span", { class: "mono" }, block.merkle_root)],
      ["Previous", prev], ["Next", next], ["In best chain", status.in_best_chain ? "yes" : "no"]]),
    el("h2", {}, `Transactions ${first + 1} to ${first + txs.length} of ${block.tx_count}`),
    table(["Txid", "Inputs", "Outputs", "Value"], rows, [1, 2]), pager);
}

async function renderTx() {
  const [tx, finality] = await Promise.all([api(`/tx/${subject}`), api(`/tx/${subject}/finality`)]);
  const status = tx.status;
  const state = status.confirmed ? "confirmed" : (status.final ? "final" : finality.status);
  const block = status.confirmed
    ? link(`/block/${status.block_hash}`, `${status.block_height} (${status.block_hash})`)
    : "not yet in a block";
  const votes = finality.quorum_weight
    ? `${finality.vote_weight} of ${finality.total_weight} (quorum ${finality.quorum_weight})` : "";
  const inputs = tx.vin.map((vin) => [
    link(`/tx/${vin.txid}`, `${vin.txid}:${vin.vout}`),
    vin.prevout ? link(`/address/${vin.prevout.scriptpubkey_address}`, vin.prevout.scriptpubkey_address) : "?",
    vin.prevout ? amount(vin.prevout.value) : "?",
  ]);
  const outputs = tx.vout.map((out, index) => [
    String(index), link(`/address/${out.scriptpubkey_address}`, out.scriptpubkey_address), amount(out.value),
  ]);
  const voters = finality.voters.map((key) => [el("span", { class: "mono" }, key)]);
  show(el("h1", {}, "Transaction"),
    facts([["Txid", el("span", { class: "mono", id: "txid" }, tx.txid)],
      ["Finality", badge(state, "finality-status")], ["Block", block],
      ["Vote weight", votes], ["Proof epoch", finality.proof_epoch === null ? "" : String(finality.proof_epoch)],
      ["Fee", amount(tx.fee)], ["Size", `${tx.size} bytes`]]),
    el("h2", {}, `Inputs (${tx.vin.length})`),
    tx.vin.length ? table(["Spends", "From", "Value"], inputs) : el("p", { class: "muted" }, "Coinbase: no inputs"),
    el("h2", {}, `Outputs (${tx.vout.length})`), table(["#", "To", "Value"], outputs),
    el("h2", {}, `Voters in the finality proof (${voters.length})`),
    voters.length ? table(["Operator key"], voters) : el("p", { class: "muted" }, "No proof held"));
}

async function renderAddress() {
  const [info, txs, utxos] = await Promise.all([
    api(`/address/${subject}`), api(`/address/${subject}/txs`), api(`/address/${subject}/utxo`),
  ]);
  const balance = utxos.reduce((n, u) => n + u.value, 0);
  const rows = txs.map((tx) => [
    link(`/tx/${tx.txid}`, tx.txid),
    tx.status.confirmed ? link(`/block/${tx.status.block_hash}`, String(tx.status.block_height)) : "",
    badge(tx.status.confirmed ? "confirmed" : (tx.status.final ? "final" : "pending")),
  ]);
  const coins = utxos.map((u) => [link(`/tx/${u.txid}`, `${u.txid}:${u.vout}`), amount(u.value)]);
  const chain = info.chain_stats, pool = info.mempool_stats;
  show(el("h1", {}, "Address"),
    facts([["Address", el("span", { class: "mono" }, info.address)],
      ["Balance", el("span", { id: "balance" }, amount(balance))],
      ["Received", amount(chain.funded_txo_sum + pool.funded_txo_sum)],
      ["Sent", amount(chain.spent_txo_sum + pool.spent_txo_sum)],
      ["Transactions", String(chain.tx_count + pool.tx_count)]]),
    el("h2", {}, "History"), table(["Txid", "Block", "Status"], rows),
    el("h2", {}, "Unspent outputs"), table(["Output", "Value"], coins));
}

async function renderMasternodes() {
  const list = await api("/masternodes");
  const rows = list.map((m) => [
    el("span", { class: "mono" }, m.id.slice(0, 16) + "…"), m.tier, badge(m.status), String(m.weight),
    m.last_heartbeat_window === null ? "never" : `window ${m.last_heartbeat_window}`, m.network_address,
  ]);
  show(el("h1", {}, `Masternodes (${list.length})`),
    table(["Id", "Tier", "Status", "Weight", "Last heartbeat", "Address"], rows, [5]));
}

const RENDER = {
  home: renderHome, block: renderBlock, tx: renderTx, address: renderAddress, masternodes: renderMasternodes,
};

let rendering = false;
let again = false;

async function render() {
  if (rendering) { again = true; return; }
  rendering = true;
  try {
    await RENDER[page]();
  } catch (error) {
    show(el("p", { class: "error" }, String(error.message || error)));
  } finally {
    rendering = false;
    if (again) { again = false; render(); }
  }
}

function follow() {
  const live = document.getElementById("live");
  const events = new EventSource("/events");
  events.addEventListener("open", () => { live.textContent = "live"; });
  events.addEventListener("error", () => { live.textContent = "reconnecting…"; });
  events.addEventListener("change", (event) => {
    const data = JSON.parse(event.data);
    live.textContent = `live: height ${data.height}`;
    render();
  });
}

render();
follow();
