// The page's views beyond the map (hub/web/index.html): the responsibility of a unit's
// departments and officers (rules.md §8), the audit findings (§9) and the trace's findings, the
// charts (charts.js), the dd/mm/yyyy period picker, the downloads, and the side panels the
// details open in. It uses app.js's helpers ($, esc, when, getJSON, query, rows, loadUnits),
// which a classic script shares with the scripts after it.
"use strict";
const Views = (() => {
  const FINDINGS = {
    DUE_DATE_EXTENDED: "Gia hạn ngày hẹn trả không có phiếu xin lỗi",
    PAUSE_AFTER_DUE: "Tạm dừng sau khi đã quá hạn",
    APOLOGY_AFTER_DUE: "Phiếu xin lỗi gửi sau hạn trả",
  };
  const PAUSE_KINDS = {supplement: "chờ bổ sung", financial: "nghĩa vụ tài chính"};
  const FIGURES = [
    ["steps", "Số bước xử lý"], ["steps_overdue", "Bước quá hạn"], ["still_overdue", "Còn quá hạn"],
    ["overrun_working_days", "Ngày làm việc vượt hạn"], ["late_at_breach", "Hồ sơ trễ hạn khi phát sinh"],
    ["held_late_now", "Đang giữ hồ sơ trễ hạn"],
  ];
  const NO_DEPT = "(không rõ phòng ban)", NO_OFFICER = "(không ghi cán bộ)";
  const state = {resp: null, audit: false, loadedQuery: null, z: 20};

  // --- dates: shown and entered as dd/mm/yyyy, sent as YYYY-MM-DD ---------------------------
  const p2 = n => String(n).padStart(2, "0");
  const day = isoDate => { const [y, m, d] = isoDate.split("-"); return `${d}/${m}/${y}`; };
  function parseDay(text) {  // "dd/mm/yyyy" -> "YYYY-MM-DD"; null: not a real date
    const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s*$/.exec(text);
    if (!m) return null;
    const [d, mo, y] = [+m[1], +m[2], +m[3]];
    const t = new Date(Date.UTC(y, mo - 1, d));
    if (y < 1900 || y > 2199 || t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return null;
    return `${y}-${p2(mo)}-${p2(d)}`;
  }
  // the API's query for the two fields, or null after showing what is wrong
  function rangeQuery() {
    const msg = $("#range-msg"), fields = [["from", "Từ ngày"], ["to", "Đến ngày"]];
    const got = {};
    msg.textContent = "";
    for (const [id, label] of fields) {
      const input = $("#" + id), text = input.value.trim();
      input.classList.remove("invalid");
      if (!text) continue;
      const iso = parseDay(text);
      if (!iso) {
        input.classList.add("invalid");
        msg.textContent = `${label} "${text}" không phải ngày hợp lệ (dd/mm/yyyy).`;
        return null;
      }
      got[id] = iso;
    }
    if (!got.from && !got.to) { msg.textContent = "Nhập ít nhất một ngày (dd/mm/yyyy)."; return null; }
    if (got.from && got.to && got.from > got.to) {
      $("#to").classList.add("invalid");
      msg.textContent = "Ngày kết thúc phải sau ngày bắt đầu.";
      return null;
    }
    return "?" + new URLSearchParams(got).toString();
  }
  function periodLabel(q) {
    const p = new URLSearchParams(q);
    if (p.has("from") || p.has("to")) {
      return `từ ${p.get("from") ? day(p.get("from")) : "đầu"} đến ${p.get("to") ? day(p.get("to")) : "nay"}`;
    }
    return {today: "hôm nay", month: "tháng này", year: "năm nay"}[p.get("period")] || "toàn bộ thời gian";
  }
  function withQuery(path, extra) {  // the map's period plus the view's own parameters
    const p = new URLSearchParams(query);
    for (const [k, v] of Object.entries(extra || {})) if (v !== null && v !== undefined && v !== "") p.set(k, v);
    const s = p.toString();
    return s ? `${path}?${s}` : path;
  }

  // --- panels: details open at the side, over the map, the latest on top --------------------
  function open(sel) {
    const panel = $(sel);
    panel.hidden = false;
    panel.classList.add("panel");
    panel.dataset.z = String(++state.z);
    panel.setAttribute("data-top", "1");
    document.querySelectorAll(".panel").forEach(p => p.classList.toggle("top", p === panel));
    placePanels();
  }
  function close(panel) {
    panel.hidden = true;
    if (panel.id === "resp") state.resp = null;
    if (panel.id === "audit") state.audit = false;
    // the address no longer names what is shown: the same link opens it again
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    const left = [...document.querySelectorAll(".panel:not([hidden])")].sort((a, b) => b.dataset.z - a.dataset.z);
    document.querySelectorAll(".panel").forEach(p => p.classList.toggle("top", p === left[0]));
    placePanels();
  }
  function placePanels() {
    // the stacking order as a class per rank (no inline styles under the CSP), below the header
    const shown = [...document.querySelectorAll(".panel:not([hidden])")].sort((a, b) => a.dataset.z - b.dataset.z);
    shown.forEach((p, i) => { for (let k = 0; k < 6; k++) p.classList.toggle("z" + k, k === Math.min(i, 5)); });
    document.documentElement.style.setProperty("--header-h", $("header").offsetHeight + "px");
  }
  function addCloser(panel) {
    if (panel.querySelector(":scope > button.close")) return;
    const b = document.createElement("button");
    b.type = "button"; b.className = "close"; b.textContent = "Đóng ✕"; b.title = "Đóng (Esc)";
    b.addEventListener("click", () => close(panel));
    panel.prepend(b);
  }

  // --- downloads: fetched with the token (a plain link could not carry it) ------------------
  function exportLinks(names) {
    return names.map(([file, label]) => `<a class="dl" data-export="${esc(file)}">${esc(label)}</a>`).join(" ");
  }
  async function download(file, extra) {
    const res = await fetch(withQuery("/api/export/" + file, extra), {cache: "no-store", headers: auth.headers()});
    if (!res.ok) { alert("Không tải được tệp: " + res.status); return; }
    const cd = res.headers.get("Content-Disposition") || "";
    const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/.exec(cd);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(await res.blob());
    a.download = m ? decodeURIComponent(m[1]) : "motcua-" + file;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // --- the map's hooks: a responsibility link per unit row, the charts ----------------------
  function unitsRendered() {
    const head = $("#units thead tr");
    if (head && !head.querySelector("th.resp-col")) head.insertAdjacentHTML("beforeend", '<th class="text resp-col">Trách nhiệm</th>');
    document.querySelectorAll("#units tbody tr").forEach(tr => {
      if (!tr.querySelector("td.resp-col")) tr.insertAdjacentHTML("beforeend",
        `<td class="text resp-col"><a class="resp-link" data-resp="${esc(tr.dataset.unit)}">Phòng ban, cán bộ</a></td>`);
    });
    const foot = $("#units tfoot tr");
    if (foot && !foot.querySelector("td.resp-col")) foot.insertAdjacentHTML("beforeend", '<td class="resp-col"></td>');
  }
  async function unitsLoaded(unitRows) {
    Charts.rateBars($("#chart-rates"), unitRows, unit => { location.hash = "resp=" + encodeURIComponent(unit); });
    $("#charts-period").textContent = periodLabel(query);
    $("#map-exports").innerHTML = exportLinks([["units.csv", "Bảng đơn vị (CSV)"], ["units.xlsx", "(XLSX)"],
      ["procedures.csv", "Theo thủ tục (CSV)"], ["procedures.xlsx", "(XLSX)"], ["report.xlsx", "Báo cáo tổng hợp (XLSX)"]]);
    const changed = state.loadedQuery !== query;
    state.loadedQuery = query;
    try {
      const w = await getJSON(withQuery("/api/weekly"));
      Charts.weekly($("#chart-weekly"), w.weeks);
      $("#chart-weekly-msg").textContent = w.weeks.length ? "" : "Chưa có số liệu trong kỳ.";
    } catch (e) {
      if (!(e instanceof AuthError)) $("#chart-weekly-msg").innerHTML = `<span class="err">${esc(e.message)}</span>`;
    }
    if (changed && state.resp && !$("#resp").hidden) openResp(state.resp);
    if (changed && state.audit && !$("#audit").hidden) openAudit();
  }

  // --- responsibility (§8) -------------------------------------------------------------------
  // an officer's overdue steps open under its row (link: true)
  const figureCells = (r, link) => FIGURES.map(([k]) => `<td data-key="${k}">${link && k === "steps_overdue" && r[k]
    ? `<a class="steps-link" title="Xem các bước quá hạn">${esc(r[k])} ▸</a>` : esc(r[k])}</td>`).join("");
  const figureHead = () => FIGURES.map(([, label]) => `<th>${esc(label)}</th>`).join("");
  async function openResp(unit) {
    state.resp = unit;
    open("#resp");
    const u = rows.find(r => r.unit_code === unit);
    $("#resp-title").textContent = `Trách nhiệm: ${u && u.unit_name ? u.unit_name + " (" + unit + ")" : unit}`;
    $("#resp-period").textContent = "Kỳ: " + periodLabel(query);
    $("#resp-exports").innerHTML = exportLinks([["departments.csv", "Phòng ban (CSV)"],
      ["departments.xlsx", "(XLSX)"], ["responsibility.csv", "Cán bộ (CSV)"], ["responsibility.xlsx", "(XLSX)"]]);
    $("#resp-exports").dataset.unit = unit;
    $("#resp-msg").textContent = "Đang tải…";
    let d;
    try { d = await getJSON(withQuery("/api/responsibility", {unit})); }
    catch (e) { if (!(e instanceof AuthError)) $("#resp-msg").innerHTML = `<span class="err">${esc(e.message)}</span>`; return; }
    if (state.resp !== unit) return;  // another unit was asked for meanwhile
    const depts = d.departments.filter(r => r.unit === unit), officers = d.rows.filter(r => r.unit === unit);
    $("#resp-departments thead tr").innerHTML = `<th class="text">#</th><th class="text">Phòng ban</th>${figureHead()}`;
    $("#resp-departments tbody").innerHTML = depts.map((r, i) => `<tr class="dept-row" data-department="${esc(r.department ?? "")}">
      <td class="text">${i + 1}</td><td class="text">${esc(r.department ?? NO_DEPT)}</td>${figureCells(r)}</tr>`).join("");
    $("#resp-officers thead tr").innerHTML = `<th class="text">#</th><th class="text">Phòng ban</th><th class="text">Cán bộ</th>${figureHead()}`;
    $("#resp-officers tbody").innerHTML = officers.map((r, i) => `<tr class="officer-row${r.still_overdue ? " overrun-row" : ""}"
      data-department="${esc(r.department ?? "")}" data-officer="${esc(r.officer ?? "")}">
      <td class="text">${i + 1}</td><td class="text">${esc(r.department ?? NO_DEPT)}</td><td class="text">${esc(r.officer ?? NO_OFFICER)}</td>
      ${figureCells(r, true)}</tr>`).join("");
    $("#resp-msg").textContent = officers.length
      ? "Xếp theo số ngày làm việc vượt hạn, rồi số bước quá hạn. Bấm vào số bước quá hạn để xem hồ sơ."
      : "Không có bước xử lý nào trong kỳ.";
  }
  async function toggleSteps(tr) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("steps-row")) { next.remove(); return; }
    const unit = state.resp, department = tr.dataset.department, officer = tr.dataset.officer;
    const cols = tr.children.length;
    tr.insertAdjacentHTML("afterend", `<tr class="steps-row"><td colspan="${cols}" class="text muted">Đang tải…</td></tr>`);
    const cell = tr.nextElementSibling.firstElementChild;
    let d;
    try { d = await getJSON(withQuery("/api/responsibility/steps", {unit, department, officer})); }
    catch (e) { cell.innerHTML = `<span class="err">${esc(e.message)}</span>`; return; }
    cell.classList.remove("muted");
    cell.innerHTML = `<table class="steps"><thead><tr><th class="text">Hồ sơ</th><th class="text">Nhận bước</th>
      <th class="text">Hạn bước</th><th class="text">Chuyển tiếp lúc</th><th>Ngày làm việc vượt hạn</th></tr></thead><tbody>
      ${d.steps.map(x => `<tr class="step-row"><td class="text"><a data-code="${esc(x.dossier_code)}">${esc(x.dossier_code)}</a></td>
        <td class="text">${when(x.at)}</td><td class="text">${when(x.deadline)}</td>
        <td class="text">${x.still_overdue ? '<span class="overrun">chưa chuyển (còn quá hạn)</span>' : when(x.followed_at)}</td>
        <td class="overrun">${esc(x.overrun_working_days)}</td></tr>`).join("")}</tbody></table>`;
  }

  // --- audit (§9) ------------------------------------------------------------------------------
  function findingDetail(f) {
    if (f.kind === "DUE_DATE_EXTENDED" && f.detail) return "Ngày hẹn mới: " + when(f.detail);
    if (f.kind === "PAUSE_AFTER_DUE") return "Tạm dừng: " + (PAUSE_KINDS[f.detail] || f.detail || "");
    return "";
  }
  const findingLabel = k => FINDINGS[k] || k;
  async function openAudit() {
    state.audit = true;
    open("#audit");
    const unit = $("#audit-unit").value;
    const known = new Set([...$("#audit-unit").options].map(o => o.value));
    for (const r of rows) if (!known.has(r.unit_code)) $("#audit-unit").insertAdjacentHTML("beforeend",
      `<option value="${esc(r.unit_code)}">${esc(r.unit_name ? r.unit_name + " (" + r.unit_code + ")" : r.unit_code)}</option>`);
    $("#audit-period").textContent = "Kỳ: " + periodLabel(query);
    $("#audit-exports").innerHTML = exportLinks([["audit.csv", "Tải CSV"], ["audit.xlsx", "Tải XLSX"]]);
    $("#audit-msg").textContent = "Đang tải…";
    let d;
    try { d = await getJSON(withQuery("/api/audit", {unit})); }
    catch (e) { if (!(e instanceof AuthError)) $("#audit-msg").innerHTML = `<span class="err">${esc(e.message)}</span>`; return; }
    const names = Object.fromEntries(rows.map(r => [r.unit_code, r.unit_name]));
    $("#audit-findings tbody").innerHTML = d.findings.map(f => `<tr class="finding-row" data-kind="${esc(f.kind)}">
      <td class="text"><span class="badge bad">${esc(findingLabel(f.kind))}</span></td>
      <td class="text"><a data-code="${esc(f.dossier_code)}">${esc(f.dossier_code)}</a></td>
      <td class="text">${esc(f.unit_name || names[f.unit] || f.unit)}</td><td class="text">${when(f.at)}</td>
      <td class="text">${when(f.due_date)}</td><td class="text">${esc(f.department ?? NO_DEPT)}</td>
      <td class="text">${esc(f.officer ?? NO_OFFICER)}</td><td class="text">${esc(findingDetail(f))}</td></tr>`).join("");
    const counts = {};
    for (const f of d.findings) counts[f.kind] = (counts[f.kind] || 0) + 1;
    $("#audit-msg").textContent = d.findings.length
      ? Object.entries(counts).map(([k, n]) => `${findingLabel(k)}: ${n}`).join("; ")
      : "Không có phát hiện nào trong kỳ.";
  }
  // the trace's own findings (app.js calls this once the trace is drawn)
  function traceLoaded(t) {
    const list = t.findings || [];
    $("#trace-findings tbody").innerHTML = list.length ? list.map(f => `<tr class="finding-row">
      <td class="text"><span class="badge bad">${esc(findingLabel(f.kind))}</span></td><td class="text">${when(f.at)}</td>
      <td class="text">${when(f.due_date)}</td><td class="text">${esc([f.department, f.officer].filter(Boolean).join(", ") || "—")}</td>
      <td class="text">${esc(f.message || findingDetail(f))}</td></tr>`).join("")
      : '<tr><td class="text muted" colspan="5">Không có</td></tr>';
  }

  function route(h) {
    if (h.startsWith("resp=")) { openResp(h.slice(5)); return true; }
    if (h === "audit") { openAudit(); return true; }
    return false;
  }

  // --- wiring ----------------------------------------------------------------------------------
  for (const id of ["drill", "trace", "resp", "audit"]) addCloser($("#" + id));
  $("#units").addEventListener("click", ev => {  // before app.js's handler opens the drill-down
    const a = ev.target.closest("a.resp-link");
    if (!a) return;
    ev.stopPropagation();
    const h = "resp=" + encodeURIComponent(a.dataset.resp);
    if (location.hash === "#" + h) openResp(a.dataset.resp); else location.hash = h;
  });
  $("#resp").addEventListener("click", ev => {
    const a = ev.target.closest("a.steps-link");
    if (a) toggleSteps(a.closest("tr"));
  });
  document.addEventListener("click", ev => {
    const a = ev.target.closest("a[data-export]");
    if (!a) return;
    const unit = a.closest("#resp") ? state.resp : a.closest("#audit") ? $("#audit-unit").value : null;
    download(a.dataset.export, {unit});
  });
  $("#audit-btn").addEventListener("click", () => {
    if (location.hash === "#audit") openAudit(); else location.hash = "audit";
  });
  $("#audit-unit").addEventListener("change", () => openAudit());
  document.addEventListener("keydown", ev => {
    if (ev.key !== "Escape") return;
    const top = document.querySelector(".panel.top:not([hidden])");
    if (top) close(top);
  });
  window.addEventListener("resize", placePanels);
  return {rangeQuery, parseDay, unitsRendered, unitsLoaded, traceLoaded, opened: open, route};
})();
