// The page's charts, drawn as SVG by this file alone: no library, no CDN, no network (the CSP
// allows only the page's own scripts). Presentation attributes (fill, stroke) are not inline
// styles, so the CSP's style-src 'self' lets them through; colours follow app.css's classes.
"use strict";
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";  // a namespace name, never fetched
  function el(name, attrs, parent, text) {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function svg(container, width, height, label) {
    container.replaceChildren();
    return el("svg", {viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label}, container);
  }
  const pctText = v => (100 * v).toFixed(1).replace(".", ",") + "%";
  const rateClass = r => r >= 0.9 ? "ok" : r >= 0.7 ? "warn" : "bad";
  const short = (s, n) => s.length > n ? s.slice(0, n - 1) + "…" : s;
  // a civil-status unit is named like the commune's one-stop unit: say which one it is
  const unitLabel = r => r.unit_code === "land" ? "Đất đai (chưa rõ đơn vị)"
    : (r.unit_name || r.unit_code) + (r.unit_code.startsWith("civil") ? " (hộ tịch)" : "");

  // On-time rate by unit (§7): one horizontal bar per unit with a rate, best first; units with
  // nothing judged yet are listed after them with "chưa có" and no bar.
  function rateBars(container, rows, onPick) {
    const judged = rows.filter(r => r.on_time_rate !== null && r.on_time_rate !== undefined)
      .sort((a, b) => b.on_time_rate - a.on_time_rate || (a.unit_code < b.unit_code ? -1 : 1));
    const none = rows.filter(r => r.on_time_rate === null || r.on_time_rate === undefined);
    const all = judged.concat(none);
    const labelW = 310, barW = 300, rowH = 22, top = 22, width = labelW + barW + 60;
    const s = svg(container, width, top + rowH * all.length + 8, "Tỷ lệ giải quyết đúng hạn theo đơn vị");
    for (const x of [0, 0.5, 0.7, 0.9, 1]) {  // the legend's thresholds as grid lines
      const gx = labelW + barW * x;
      el("line", {x1: gx, x2: gx, y1: top - 4, y2: top + rowH * all.length, class: "grid"}, s);
      el("text", {x: gx, y: top - 8, "text-anchor": "middle", class: "axis"}, s, `${100 * x}%`);
    }
    all.forEach((r, i) => {
      const y = top + i * rowH;
      const name = unitLabel(r);
      const g = el("g", {class: "bar-row", "data-unit": r.unit_code}, s);
      el("title", {}, g, `${name} (${r.unit_code})`);
      el("text", {x: labelW - 6, y: y + 15, "text-anchor": "end", class: "label"}, g, short(name, 52));
      if (r.on_time_rate === null || r.on_time_rate === undefined) {
        el("text", {x: labelW + 4, y: y + 15, class: "axis"}, g, "chưa có");
        return;
      }
      el("rect", {x: labelW, y: y + 3, width: Math.max(1, barW * r.on_time_rate), height: rowH - 6,
        class: `bar ${rateClass(r.on_time_rate)}`, "data-unit": r.unit_code, "data-rate": r.on_time_rate}, g);
      el("text", {x: labelW + barW * r.on_time_rate + 6, y: y + 15, class: "value"}, g, pctText(r.on_time_rate));
    });
    if (onPick) s.addEventListener("click", ev => {
      const g = ev.target.closest("g.bar-row");
      if (g) onPick(g.dataset.unit);
    });
    return s;
  }

  // The province's weekly series (/api/weekly): one line with a point per week for each figure.
  const SERIES = [
    ["received", "Tiếp nhận", "received"], ["finished_on_time", "Giải quyết đúng hạn", "on-time"],
    ["finished_late", "Giải quyết trễ hạn", "finished-late"], ["late", "Đang trễ hạn (cuối tuần)", "late"],
  ];
  function weekly(container, weeks) {
    const left = 42, right = 14, top = 50, bottom = 40, plotH = 200;
    const step = weeks.length > 1 ? Math.max(16, Math.min(80, 620 / (weeks.length - 1))) : 60;
    const width = Math.max(420, left + right + step * Math.max(1, weeks.length - 1) + 20);
    const s = svg(container, width, top + plotH + bottom, "Số hồ sơ theo tuần: tiếp nhận, giải quyết đúng hạn, trễ hạn");
    const max = Math.max(1, ...weeks.flatMap(w => SERIES.map(([k]) => w[k])));
    const tick = Math.max(1, Math.ceil(max / 5));
    const ymax = tick * Math.ceil(max / tick);
    const X = i => left + 10 + i * step, Y = v => top + plotH - plotH * v / ymax;
    for (let v = 0; v <= ymax; v += tick) {
      el("line", {x1: left, x2: width - right, y1: Y(v), y2: Y(v), class: "grid"}, s);
      el("text", {x: left - 6, y: Y(v) + 4, "text-anchor": "end", class: "axis"}, s, String(v));
    }
    const every = Math.ceil(weeks.length / Math.max(1, Math.floor((width - left) / 60)));
    weeks.forEach((w, i) => {
      if (i % every) return;
      const [y, m, d] = w.start.split("-");
      el("text", {x: X(i), y: top + plotH + 16, "text-anchor": "middle", class: "axis"}, s, `${d}/${m}`);
      if (i === 0 || m === "01" && +d <= 7) el("text", {x: X(i), y: top + plotH + 30, "text-anchor": "middle", class: "axis"}, s, y);
    });
    SERIES.forEach(([key, label, cls], n) => {
      const lx = left + (n % 2) * 180, ly = 6 + Math.floor(n / 2) * 18;  // the legend, 2 × 2
      el("rect", {x: lx, y: ly, width: 12, height: 12, class: `swatch ${cls}`}, s);
      el("text", {x: lx + 16, y: ly + 10, class: "label"}, s, label);
      const g = el("g", {class: `series ${cls}`, "data-series": key}, s);
      el("polyline", {points: weeks.map((w, i) => `${X(i)},${Y(w[key])}`).join(" "), class: "line"}, g);
      weeks.forEach((w, i) => {
        const p = el("circle", {cx: X(i), cy: Y(w[key]), r: 3.5, class: "pt", "data-week": w.week, "data-value": w[key]}, g);
        const [, m1, d1] = w.start.split("-"), [y2, m2, d2] = w.end.split("-");
        el("title", {}, p, `${label}, tuần ${d1}/${m1}–${d2}/${m2}/${y2}: ${w[key]}`);
      });
    });
    return s;
  }
  return {rateBars, weekly, SERIES};
})();
