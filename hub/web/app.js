// The execution map, drill-down and dossier trace (hub/web/index.html). Served as a file of its
// own: the Content-Security-Policy allows no inline script.
"use strict";
const COLUMNS = [
  ["unit_name", "Đơn vị", "text"], ["unit_code", "Mã đơn vị", "text"],
  ["received", "Tiếp nhận"], ["finished_on_time", "Giải quyết đúng hạn"], ["finished_late", "Giải quyết trễ hạn"],
  ["open_within_due", "Đang xử lý trong hạn"], ["open_past_due", "Đang xử lý trễ hạn"], ["paused", "Tạm dừng"],
  ["closed_without_result", "Kết thúc không kết quả"], ["unreported_completions", "Chưa cập nhật kết quả về một cửa"],
  ["not_received_via_onestop", "Không tiếp nhận qua một cửa"], ["supplements", "Yêu cầu bổ sung"], ["apologies", "Phiếu xin lỗi"],
  ["online", "Trực tuyến"], ["online_share", "Tỷ lệ trực tuyến", "pct"], ["on_time_rate", "Tỷ lệ đúng hạn", "pct"],
];
const SUMS = COLUMNS.filter(c => !c[2]).map(c => c[0]);
const SOURCES = {onestop: "Một cửa", land: "Đất đai", tax: "Thuế", civil: "Hộ tịch"};
const ALERTS = {DUE_SOON: "Sắp đến hạn", PROCESSING_LATE: "Đang xử lý trễ hạn", APOLOGY_MISSING: "Thiếu phiếu xin lỗi",
  UNREPORTED_COMPLETION: "Chưa cập nhật kết quả", NOT_RECEIVED_VIA_ONESTOP: "Không qua một cửa", STEP_OVERDUE: "Quá hạn bước xử lý"};
const PAUSES = {supplement: "Chờ bổ sung hồ sơ", financial: "Thực hiện nghĩa vụ tài chính"};
let rows = [], sortKey = "unit_code", sortDir = 1, query = "";
// the query and rows the units table shows: a refresh that brings the same leaves the table as
// it is (no flicker; a row pointed at stays the same element)
let unitsShown = null;

const $ = s => document.querySelector(s);
// views.js (loaded after this file) draws the other views and the charts: called when it is there
const hook = (name, ...args) => typeof Views !== "undefined" ? Views[name](...args) : undefined;
const esc = v => String(v ?? "").replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));
const pct = v => v === null || v === undefined ? "—" : (100 * v).toFixed(1).replace(".", ",") + "%";
function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const p = n => String(n).padStart(2, "0");
  const local = new Date(d.getTime() + 7 * 3600e3);  // Asia/Ho_Chi_Minh, no DST
  return `${p(local.getUTCDate())}/${p(local.getUTCMonth() + 1)}/${local.getUTCFullYear()} ${p(local.getUTCHours())}:${p(local.getUTCMinutes())}`;
}
function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return (d ? d + " ngày " : "") + (h ? h + " giờ " : "") + (d ? "" : m + " phút");
}
function rateClass(r) { return r === null || r === undefined ? "rate-none" : r >= 0.9 ? "rate-ok" : r >= 0.7 ? "rate-warn" : "rate-bad"; }

// --- access: a bearer token kept for the tab's life (sessionStorage), sent on every request ---
const TOKEN_KEY = "motcua.token";
class AuthError extends Error {}
const auth = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  headers() { const t = auth.token(); return t ? {Authorization: "Bearer " + t} : {}; },
  showLogin(message) {
    document.body.classList.add("locked");  // app.css hides the header's search and figures
    $("main").hidden = true;
    $("#login").hidden = false;
    $("#logout-btn").hidden = !auth.token();
    $("#login-msg").textContent = message || "";
    $("#login-token").focus();
  },
  showPage() {
    document.body.classList.remove("locked");
    $("#login").hidden = true;
    $("main").hidden = false;
    $("#logout-btn").hidden = !auth.token();
  },
  login(token) { sessionStorage.setItem(TOKEN_KEY, token); auth.showPage(); start(); },
  logout() { sessionStorage.removeItem(TOKEN_KEY); rows = []; unitsShown = null; auth.showLogin(""); },
};

async function getJSON(url) {
  const res = await fetch(url, {cache: "no-store", headers: auth.headers()});
  if (res.status === 401) {
    auth.showLogin(auth.token() ? "Mã truy cập không hợp lệ hoặc đã hết hiệu lực." : "");
    throw new AuthError("cần đăng nhập");
  }
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  const asOf = res.headers.get("X-Motcua-As-Of");
  if (asOf) $("#as-of").textContent = when(asOf);
  return body;
}
function header(table, cols, sortable) {
  $(table + " thead tr").innerHTML = cols.map(([k, label, kind]) =>
    `<th data-key="${k}" class="${kind === "text" ? "text" : ""}${sortable && k === sortKey ? (sortDir > 0 ? " sorted-asc" : " sorted-desc") : ""}">${esc(label)}</th>`).join("");
}
function cells(r, cols) {
  return cols.map(([k, , kind]) => kind === "pct" ? `<td data-key="${k}">${pct(r[k])}</td>`
    : `<td data-key="${k}" class="${kind === "text" ? "text" : ""}">${esc(r[k] ?? (k === "unit_name" ? "—" : ""))}</td>`).join("");
}
function renderUnits() {
  header("#units", COLUMNS, true);
  const sorted = rows.slice().sort((a, b) => {
    const x = a[sortKey], y = b[sortKey];
    if (x === y) return a.unit_code < b.unit_code ? -1 : 1;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sortDir;
  });
  $("#units tbody").innerHTML = sorted.map(r =>
    `<tr class="${rateClass(r.on_time_rate)}" data-unit="${esc(r.unit_code)}">${cells(r, COLUMNS)}</tr>`).join("");
  const t = {unit_name: "Toàn tỉnh", unit_code: `${rows.length} đơn vị`};
  for (const k of SUMS) t[k] = rows.reduce((s, r) => s + (r[k] || 0), 0);
  t.online_share = t.received ? t.online / t.received : 0;
  const judged = t.finished_on_time + t.finished_late + t.open_past_due;
  t.on_time_rate = judged ? t.finished_on_time / judged : null;
  $("#units tfoot").innerHTML = `<tr class="total" id="units-total">${cells(t, COLUMNS)}</tr>`;
  $("#units-msg").textContent = rows.length ? "Bấm vào tiêu đề cột để sắp xếp, vào một đơn vị để xem chi tiết." : "Chưa có hồ sơ nào trong kỳ.";
  hook("unitsRendered");
}
async function loadUnits() {
  try {
    rows = await getJSON("/api/units" + query);
    const shown = query + "\n" + JSON.stringify(rows);
    if (shown !== unitsShown) { unitsShown = shown; renderUnits(); }
    hook("unitsLoaded", rows);
  }
  catch (e) {
    if (!(e instanceof AuthError)) $("#units-msg").innerHTML = `<span class="err">Không tải được số liệu: ${esc(e.message)}</span>`;
  }
}
async function openUnit(unit) {
  const d = await getJSON(`/api/units/${encodeURIComponent(unit)}` + query);
  const u = d.unit;
  $("#drill").hidden = false;
  hook("opened", "#drill");
  $("#drill-title").textContent = `Chi tiết đơn vị: ${u && u.unit_name ? u.unit_name + " (" + unit + ")" : unit}`;
  const pcols = [["procedure_code", "Mã thủ tục", "text"], ...COLUMNS.slice(2)];
  header("#drill-procedures", pcols, false);
  $("#drill-procedures tbody").innerHTML = (u ? u.procedures : []).map(p =>
    `<tr class="${rateClass(p.on_time_rate)}">${cells(p, pcols)}</tr>`).join("");
  $("#drill-late tbody").innerHTML = d.late.map(x => `<tr class="late-row" data-code="${esc(x.code)}">
    <td class="text"><a data-code="${esc(x.code)}">${esc(x.code)}</a></td><td class="text">${esc(x.procedure_name || x.procedure_code || "—")}</td>
    <td class="text">${esc(x.holder_unit || "—")}</td><td class="text">${esc(x.holder_officer || "—")}</td>
    <td>${when(x.due_current)}</td><td class="overrun">${esc(x.days_late)}</td>
    <td class="text">${x.open_alerts.map(a => `<span class="badge bad">${esc(ALERTS[a] || a)}</span>`).join(" ")}</td></tr>`).join("");
  $("#drill-msg").textContent = d.late.length ? "" : "Không có hồ sơ đang xử lý trễ hạn.";
  $("#drill").scrollIntoView({behavior: "smooth"});
}
async function openDossier(code) {
  code = code.trim();
  if (!code) return;
  $("#trace").hidden = false;
  hook("opened", "#trace");
  $("#trace-title").textContent = `Hồ sơ ${code}`;
  let t;
  try { t = await getJSON(`/api/dossiers/${encodeURIComponent(code)}`); }
  catch (e) { $("#trace-facts").innerHTML = `<span class="err">${esc(e.message)}</span>`;
    for (const id of ["handovers", "pauses", "alerts", "findings", "events"]) $(`#trace-${id} tbody`).innerHTML = ""; return; }
  const stateClass = t.state === "open_past_due" || t.state === "finished_late" ? "bad" : t.state.startsWith("finished") ? "ok" : "warn";
  const facts = [
    ["Trạng thái", `<span class="badge ${stateClass}" id="trace-state">${esc(t.state_label)}</span>${t.paused ? ' <span class="badge warn">Đang tạm dừng</span>' : ""}`],
    ["Đơn vị tiếp nhận", esc((t.unit_name || "—") + " (" + t.unit_code + ")")],
    ["Thủ tục", esc((t.procedure_name || "—") + (t.procedure_code ? " [" + t.procedure_code + "]" : ""))],
    ["Kênh", t.channel === "2" ? "Trực tuyến" : t.channel ? "Trực tiếp" : "—"],
    ["Tiếp nhận", when(t.received_at)],
    ["Hẹn trả ban đầu", `<span id="trace-due-original">${when(t.due_original)}</span>`],
    ["Hạn hiện tại", `<span id="trace-due-current">${when(t.due_current)}</span>`],
    ["Kết thúc", t.closed_at ? `${when(t.closed_at)} (${esc(SOURCES[t.closed_by] || t.closed_by)}${t.finished ? ", có kết quả" : ", không có kết quả"})` : "—"],
    ["Đang ở", esc([t.holder.unit, t.holder.officer].filter(Boolean).join(", ") || "—")],
    ["Số lần yêu cầu bổ sung", t.supplement_requests],
  ];
  $("#trace-facts").innerHTML = facts.map(([k, v]) => `<div><b>${k}:</b> ${v}</div>`).join("");
  $("#trace-handovers tbody").innerHTML = t.handovers.map(h => `<tr class="${h.overrun ? "overrun-row" : ""}">
    <td class="text">${when(h.from)}</td><td class="text">${h.ongoing ? "đang giữ" : when(h.until)}</td><td class="text">${esc(SOURCES[h.source])}</td>
    <td class="text">${esc(h.unit || "—")}</td><td class="text">${esc(h.officer || "—")}</td><td>${duration(h.duration_s)}</td>
    <td class="text">${when(h.step_deadline)}</td><td class="text">${h.overrun ? '<span class="overrun">Quá hạn bước</span>' : h.step_deadline ? "Trong hạn" : ""}</td></tr>`).join("");
  $("#trace-pauses tbody").innerHTML = t.pauses.length ? t.pauses.map(p => `<tr><td class="text">${esc(PAUSES[p.kind] || p.kind)}</td>
    <td class="text">${when(p.start)}</td><td class="text">${p.end ? when(p.end) : "đang tạm dừng"}</td></tr>`).join("")
    : '<tr><td class="text muted" colspan="3">Không có</td></tr>';
  $("#trace-alerts tbody").innerHTML = t.alerts.length ? t.alerts.map(a => `<tr><td class="text"><span class="badge ${a.resolved_at ? "" : "bad"}">${esc(ALERTS[a.type] || a.type)}</span></td>
    <td class="text">${when(a.raised_at)}</td><td class="text">${a.resolved_at ? when(a.resolved_at) : "đang mở"}</td><td class="text">${esc(a.message)}</td></tr>`).join("")
    : '<tr><td class="text muted" colspan="4">Không có</td></tr>';
  $("#trace-events tbody").innerHTML = t.events.map(e => `<tr><td class="text">${when(e.time)}</td><td class="text">${esc(SOURCES[e.source])}</td>
    <td class="text">${esc(e.label)}</td><td class="text">${esc(e.status ?? e.civil_status ?? "")}</td><td class="text">${esc(e.holder_unit || "")}</td>
    <td class="text">${esc(e.holder_officer || "")}</td><td class="text">${e.step_deadline ? when(e.step_deadline) : ""}</td><td class="text">${esc(e.note || "")}</td></tr>`).join("");
  hook("traceLoaded", t);
  $("#trace").scrollIntoView({behavior: "smooth"});
}
document.addEventListener("click", ev => {
  const th = ev.target.closest("#units th");
  if (th) { const k = th.dataset.key; sortDir = k === sortKey ? -sortDir : 1; sortKey = k; renderUnits(); return; }
  const a = ev.target.closest("a[data-code]");
  if (a) { location.hash = "dossier=" + encodeURIComponent(a.dataset.code); return; }
  const tr = ev.target.closest("#units tbody tr");
  if (tr) { location.hash = "unit=" + encodeURIComponent(tr.dataset.unit); return; }
  const b = ev.target.closest("button[data-period]");
  if (b) { document.querySelectorAll("button[data-period]").forEach(x => x.classList.toggle("on", x === b));
    query = b.dataset.period === "all" ? "" : "?period=" + b.dataset.period; loadUnits(); }
});
$("#range-btn").addEventListener("click", () => {
  const q = hook("rangeQuery");  // the dd/mm/yyyy fields as the API's dates; null: shown wrong
  if (!q) return;
  document.querySelectorAll("button[data-period]").forEach(x => x.classList.remove("on"));
  query = q;
  loadUnits();
});
$("#search-form").addEventListener("submit", ev => { ev.preventDefault(); location.hash = "dossier=" + encodeURIComponent($("#search-input").value.trim()); });
$("#search-input").addEventListener("input", async ev => {
  const q = ev.target.value.trim();
  if (q.length < 3) return;
  const codes = await getJSON("/api/search?q=" + encodeURIComponent(q)).catch(() => []);
  $("#search-list").innerHTML = codes.map(c => `<option value="${esc(c)}">`).join("");
});
function route() {
  const h = decodeURIComponent(location.hash.slice(1));
  if (h.startsWith("dossier=")) { const c = h.slice(8); $("#search-input").value = c; openDossier(c); }
  else if (h.startsWith("unit=")) openUnit(h.slice(5));
  else hook("route", h);
}
window.addEventListener("hashchange", route);
$("#login-form").addEventListener("submit", ev => {
  ev.preventDefault();
  const t = $("#login-token").value.trim();
  $("#login-token").value = "";
  if (t) auth.login(t);
});
$("#logout-btn").addEventListener("click", () => auth.logout());
// the first load tells whether a token is needed: a 401 shows the login instead of the page
async function start() { await loadUnits(); if ($("#login").hidden) { auth.showPage(); route(); } }
start();
setInterval(() => { if (!document.hidden && $("#login").hidden) loadUnits(); }, 30000);
