// otel-genai local dashboard: plain JS over /api/*, uPlot for charts.
// Every value from the store reaches the page as a text node (el() below); nothing is parsed as HTML.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4", "#57606a"];
  const state = { charts: [], timer: null, selected: null, traceFilters: { status: "", q: "" } };

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "class") node.className = value;
      else if (key === "onclick") node.addEventListener("click", value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const fmtInt = (v) => (v === null || v === undefined ? "–" : Math.round(v).toLocaleString("en-US"));
  const fmtMs = (v) => (v === null || v === undefined ? "–" : v < 1000 ? v.toFixed(1) + " ms" : (v / 1000).toFixed(2) + " s");
  const fmtUsd = (v) => (v === null || v === undefined ? "–" : v === 0 ? "$0" : "$" + (Math.abs(v) < 0.01 ? v.toFixed(6) : v.toFixed(4)));
  const fmtPct = (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%");
  const fmtTime = (s) => new Date(s * 1000).toLocaleTimeString();
  const fmtNum = (v) => (v === null || v === undefined ? "–" : Number(v).toPrecision(4));

  function params(extra) {
    const p = new URLSearchParams({ range: $("range").value });
    for (const select of document.querySelectorAll("[data-filter]")) {
      if (select.value) p.set(select.dataset.filter, select.value);
    }
    for (const [k, v] of Object.entries(extra || {})) if (v) p.set(k, v);
    return p.toString();
  }

  async function api(view, extra) {
    const response = await fetch("/api/" + view + "?" + params(extra), { credentials: "same-origin" });
    if (!response.ok) throw new Error(view + ": HTTP " + response.status);
    return response.json();
  }

  function tile(id, label, text, raw) {
    return el("div", { class: "tile", id: "kpi-" + id, "data-value": raw === null || raw === undefined ? "" : raw },
      el("div", { class: "label" }, label), el("div", { class: "value" }, text));
  }

  function table(headers, rows, onRow) {
    const head = el("tr", {}, headers.map(([label, num]) => el("th", num ? { class: "num" } : {}, label)));
    const body = rows.map((cells, i) => {
      const tr = el("tr", onRow ? { class: "click" } : {},
        cells.map((cell, j) => el("td", headers[j][1] ? { class: "num" } : {}, cell)));
      if (onRow) tr.addEventListener("click", () => onRow(i));
      return tr;
    });
    return el("table", {}, el("thead", {}, head), el("tbody", {}, body));
  }

  function empty(...lines) {
    return el("div", { class: "empty" }, lines);
  }

  function chart(title, t, seriesMap, format, wide) {
    const names = Object.keys(seriesMap || {});
    const box = el("div", { class: "panel" }, el("h2", {}, title));
    if (!names.length) {
      box.append(empty("No data in this time range."));
      return box;
    }
    const fmt = format || fmtNum;
    const options = {
      width: Math.max(320, Math.floor(($("view").clientWidth - 40) / (window.innerWidth > 1100 && !wide ? 2 : 1)) - 30),
      height: 200,
      series: [{ value: (u, v) => (v === null ? "–" : fmtTime(v)) },
        ...names.map((name, i) => ({ label: name, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
          points: { show: true, size: 4 }, value: (u, v) => (v === null ? "–" : fmt(v)) }))],
      axes: [{}, { size: 70, values: (u, values) => values.map((v) => fmt(v)) }],
    };
    state.charts.push(new uPlot(options, [t, ...names.map((n) => seriesMap[n])], box));
    return box;
  }

  // Views: each returns nodes for <main>.

  async function overview() {
    const d = await api("overview");
    const rows = d.groups.map((g) => [g.service, g.provider || "–", g.model || "–", fmtInt(g.requests),
      fmtInt(g.input_tokens), fmtInt(g.output_tokens), fmtMs(g.avg_ms), fmtInt(g.errors), fmtUsd(g.cost)]);
    return [
      el("div", { class: "tiles" },
        tile("requests", "Requests", fmtInt(d.requests), d.requests),
        tile("input_tokens", "Input tokens", fmtInt(d.input_tokens), d.input_tokens),
        tile("output_tokens", "Output tokens", fmtInt(d.output_tokens), d.output_tokens),
        tile("avg_ms", "Avg duration", fmtMs(d.avg_ms), d.avg_ms),
        tile("p50_ms", "p50", fmtMs(d.p50_ms), d.p50_ms),
        tile("p90_ms", "p90", fmtMs(d.p90_ms), d.p90_ms),
        tile("p95_ms", "p95", fmtMs(d.p95_ms), d.p95_ms),
        tile("errors", "Errors", fmtInt(d.errors), d.errors),
        tile("cost", "Total cost", fmtUsd(d.cost), d.cost)),
      chart("Requests and errors", d.series.t, d.requests ? { requests: d.series.requests, errors: d.series.errors } : {}, fmtInt, true),
      el("div", { class: "panel", id: "by-group" }, el("h2", {}, "By service, provider and model"),
        rows.length ? table([["Service"], ["Provider"], ["Model"], ["Requests", 1], ["Input tokens", 1],
          ["Output tokens", 1], ["Avg duration", 1], ["Errors", 1], ["Cost", 1]], rows)
          : empty("No GenAI requests in this time range. Run `otel-genai demo`, or point an app at this endpoint.")),
    ];
  }

  async function traffic() {
    const d = await api("traffic");
    return [
      el("div", { class: "grid" },
        chart("Requests per model", d.requests.t, d.requests.series, fmtInt),
        chart("Response time per model", d.duration_ms.t, d.duration_ms.series, fmtMs),
        chart("Time to first chunk (streams)", d.ttft_ms.t, d.ttft_ms.series, fmtMs)),
      el("div", { class: "panel" }, el("h2", {}, "Latency by model"),
        table([["Model"], ["Requests", 1], ["p50", 1], ["p95", 1], ["Time to first chunk", 1]],
          d.latency.map((m) => [m.model, fmtInt(m.requests), fmtMs(m.p50_ms), fmtMs(m.p95_ms), fmtMs(m.ttft_ms)]))),
    ];
  }

  async function errors() {
    const d = await api("errors");
    return [
      el("div", { class: "tiles" }, tile("error_count", "Errors", fmtInt(d.errors), d.errors),
        tile("error_rate", "Error rate", fmtPct(d.requests ? d.errors / d.requests : null), d.requests ? d.errors / d.requests : null)),
      el("div", { class: "grid" }, chart("Error rate", d.t, d.errors ? { "error rate": d.rate } : {}, fmtPct),
        el("div", { class: "panel" }, el("h2", {}, "By error.type"), table([["error.type"], ["Count", 1]], d.by_type.map(([k, v]) => [k, fmtInt(v)])),
          el("h2", {}, "By HTTP class"), table([["Class"], ["Count", 1]], d.by_class.map(([k, v]) => [k, fmtInt(v)])))),
      el("div", { class: "panel" }, el("h2", {}, "Recent errors"),
        d.recent.length ? table([["Time"], ["Span"], ["Model"], ["error.type"], ["Message"]],
          d.recent.map((e) => [fmtTime(e.time), e.name, e.model || "–", e.error_type || "–", e.message || ""]),
          (i) => openTrace(d.recent[i].trace_id)) : empty("No errors in this time range.")),
    ];
  }

  async function cost() {
    const d = await api("cost");
    const nodes = [el("div", { class: "tiles" },
      tile("total_cost", "Total cost", fmtUsd(d.cost), d.cost),
      tile("savings", "Cache savings", fmtUsd(d.savings), d.savings),
      tile("cache_hit_ratio", "Cache hit ratio", fmtPct(d.cache_hit_ratio), d.cache_hit_ratio),
      tile("cache_read", "Cache-read tokens", fmtInt(d.cache_read_tokens), d.cache_read_tokens))];
    if (d.cost === null) {
      nodes.push(empty("No span in this range carries gen_ai.usage.cost. otel-genai records it when it knows the model's price; ",
        "token counts per model are below either way."));
    }
    nodes.push(el("div", { class: "grid" }, chart("Cost over time per model", d.over_time.t, d.over_time.series, fmtUsd)));
    nodes.push(el("div", { class: "panel" }, el("h2", {}, "Per model"),
      table([["Model"], ["Requests", 1], ["Input tokens", 1], ["Output tokens", 1], ["Cache read", 1], ["Cache write", 1], ["Cost", 1], ["Savings", 1]],
        d.models.map((m) => [m.model, fmtInt(m.requests), fmtInt(m.input_tokens), fmtInt(m.output_tokens),
          fmtInt(m.cache_read_tokens), fmtInt(m.cache_write_tokens), fmtUsd(m.cost), fmtUsd(m.savings)]))));
    nodes.push(counters("Cost counters (metrics, by gen_ai.token.type)", d.counters));
    return nodes;
  }

  function counters(title, rows) {
    return rows.length ? el("div", { class: "panel", id: "counters" }, el("h2", {}, title),
      table([["Metric"], ["Attribute"], ["Sum", 1]], rows.map(([name, by, sum]) => [name, by === null ? "–" : by, fmtNum(sum)]))) : null;
  }

  async function guardrails() {
    const d = await api("guardrails");
    const nodes = [el("div", { class: "tiles" },
      tile("executions", "Guarded requests", fmtInt(d.executions), d.executions),
      tile("interventions", "Interventions", fmtInt(d.interventions), d.interventions),
      tile("blocked_input", "Blocked prompts", fmtInt(d.blocked_input), d.blocked_input),
      tile("filtered_output", "Filtered responses", fmtInt(d.filtered_output), d.filtered_output))];
    nodes.push(counters("Guardrail counters (metrics, by gen_ai.guardrail.type)", d.counters));
    if (!d.executions && !d.interventions) {
      nodes.push(empty("No guardrail verdicts in this range. Spans carry gen_ai.guardrail.configured / intervened / activations / blocked ",
        "when a request runs with a guardrail (e.g. Amazon Bedrock guardrailConfig)."));
      return nodes;
    }
    nodes.push(el("div", { class: "grid" }, chart("Interventions", d.t, { interventions: d.interventions_over_time }, fmtInt),
      el("div", { class: "panel", id: "activations" }, el("h2", {}, "Activations by type"),
        table([["Type"], ["Count", 1]], d.activations.map(([k, v]) => [k, fmtInt(v)])))));
    return nodes;
  }

  async function traces() {
    const f = state.traceFilters;
    const d = await api("traces", { status: f.status, q: f.q });
    const search = el("input", { type: "search", id: "trace-q", placeholder: "search names and attributes" });
    search.value = f.q;
    search.addEventListener("change", () => { f.q = search.value; render(); });
    const status = el("select", { id: "trace-status" }, el("option", { value: "" }, "any status"),
      el("option", { value: "error" }, "errors"), el("option", { value: "ok" }, "no errors"));
    status.value = f.status;
    status.addEventListener("change", () => { f.status = status.value; render(); });
    const rows = d.traces.map((t) => [fmtTime(t.start), t.root, t.errors ? el("span", { class: "err" }, "error") : "ok", fmtMs(t.duration_ms),
      fmtInt(t.input_tokens) + " / " + fmtInt(t.output_tokens), fmtUsd(t.cost), t.models, t.operations, t.services,
      fmtInt(t.spans)]);
    return [el("div", { class: "filters" }, search, status),
      el("div", { class: "panel", id: "trace-list" },
        rows.length ? table([["Time"], ["Root span"], ["Status"], ["Duration", 1], ["Tokens in/out", 1], ["Cost", 1],
          ["Model"], ["Operation"], ["Service"], ["Spans", 1]], rows, (i) => openTrace(d.traces[i].trace_id))
          : empty("No traces match."))];
  }

  function openTrace(id) {
    state.selected = null;
    location.hash = "#trace/" + encodeURIComponent(id);
  }

  function kv(object) {
    return el("table", { class: "kv" }, el("tbody", {}, Object.keys(object || {}).sort().map((k) =>
      el("tr", {}, el("td", {}, k), el("td", {}, typeof object[k] === "string" ? object[k] : JSON.stringify(object[k], null, 1))))));
  }

  // Semconv messages ([{role, parts: [{type, content | name, arguments}]}]) as "role: text" lines; else JSON.
  function messages(title, value) {
    if (value === undefined) return null;
    let text = String(value);
    try {
      const list = typeof value === "string" ? JSON.parse(value) : value;
      text = Array.isArray(list) ? list.map((m) => (m.role || "?") + ": " + (m.parts || []).map((p) =>
        typeof p.content === "string" ? p.content : p.type === "tool_call" ? "→ " + p.name + "(" + JSON.stringify(p.arguments) + ")"
          : JSON.stringify(p.content !== undefined ? p.content : p)).join(" ")).join("\n") : JSON.stringify(list, null, 2);
    } catch (e) { /* not JSON: shown as it is */ }
    return [el("h2", {}, title), el("pre", { class: "content" }, text)];
  }

  async function trace(id) {
    const response = await fetch("/api/trace?id=" + encodeURIComponent(id), { credentials: "same-origin" });
    if (!response.ok) return [el("a", { href: "#traces", class: "back" }, "← traces"), empty("Trace not found.")];
    const d = await response.json();
    const t0 = Math.min(...d.spans.map((s) => s.start_ns));
    const total = Math.max(1, Math.max(...d.spans.map((s) => s.end_ns)) - t0);
    const ids = new Set(d.spans.map((s) => s.span_id));
    const children = {};
    for (const s of d.spans) (children[ids.has(s.parent_id) ? s.parent_id : ""] ||= []).push(s);
    const ordered = [];
    const walk = (parent, depth) => (children[parent] || []).forEach((s) => { ordered.push([s, depth]); walk(s.span_id, depth + 1); });
    walk("", 0);
    const selected = d.spans.find((s) => s.span_id === state.selected) || ordered[0][0];
    const detail = el("div", { class: "panel", id: "span-detail" });
    const rows = ordered.map(([s, depth]) => {
      const bar = el("div", { class: "wf-bar" + (s.status === 2 ? " err" : "") });
      bar.style.left = ((s.start_ns - t0) / total) * 100 + "%";
      bar.style.width = ((s.end_ns - s.start_ns) / total) * 100 + "%";
      const name = el("div", { class: "wf-name", title: s.name }, s.name);
      name.style.paddingLeft = depth * 16 + "px";
      const row = el("div", { class: "wf-row" + (s === selected ? " selected" : ""), "data-span": s.span_id },
        name, el("div", { class: "wf-track" }, bar), el("div", { class: "num" }, fmtMs((s.end_ns - s.start_ns) / 1e6)));
      row.addEventListener("click", () => { state.selected = s.span_id; render(); });
      return row;
    });
    const a = selected.attributes;
    const logs = d.logs.filter((l) => l.span_id === selected.span_id);
    detail.append(el("div", {}, el("h2", {}, selected.name), el("div", {}, "status: " + ["unset", "ok", "error"][selected.status] +
      (selected.status_message ? " (" + selected.status_message + ")" : "") + " · service: " + selected.service + " · scope: " + selected.scope),
      messages("Prompt", a["gen_ai.input.messages"]), messages("System instructions", a["gen_ai.system_instructions"]),
      messages("Completion", a["gen_ai.output.messages"]),
      el("h2", {}, "Attributes"), kv(a), el("h2", {}, "Resource"), kv(selected.resource),
      selected.events.length ? [el("h2", {}, "Events"), selected.events.map((e) => [el("div", {}, e.name), kv(e.attributes)])] : null,
      logs.length ? [el("h2", {}, "Log records"), logs.map((l) => [el("div", {}, l.event_name || l.severity || "log"), kv(l.attributes),
        el("pre", {}, typeof l.body === "string" ? l.body : JSON.stringify(l.body, null, 2))])] : null));
    return [el("a", { href: "#traces", class: "back" }, "← traces"),
      el("div", { class: "panel", id: "waterfall" }, el("h2", {}, "Trace " + d.trace_id + " · " + fmtMs(total / 1e6)), rows), detail];
  }

  async function ml() {
    const d = await api("ml");
    if (!d.has_data) {
      return [empty(el("h2", {}, "No ML telemetry yet"),
        "Training curves come from the Keras callback (gauges keras.loss, keras.accuracy, keras.val_loss, ... with attributes model and stage, ",
        "spans \"fit {model}\" with \"epoch\" children). Served-model charts use ml.model.predictions, ml.model.prediction.duration, ",
        "ml.model.confidence, ml.model.errors, ml.model.input.rejected and ml.model.drift. Send them here over OTLP, e.g.:",
        el("pre", {}, "import otel_genai\notel_genai.init()   # OTLP to http://localhost:4318, this dashboard\n# then record ml.model.* metrics or train with the otel-genai Keras callback"))];
    }
    const times = [...new Set(Object.values(d.keras).flat().map((p) => p[0]))].sort((x, y) => x - y);
    const curves = {};
    for (const [name, points] of Object.entries(d.keras)) {
      const at = new Map(points.map((p) => [p[0], p[1]]));
      curves[name] = times.map((t) => (at.has(t) ? at.get(t) : null));
    }
    return [el("div", { class: "tiles" }, tile("predictions", "Predictions", fmtInt(d.totals.predictions), d.totals.predictions),
      tile("ml_errors", "Prediction errors", fmtInt(d.totals.errors), d.totals.errors),
      tile("rejected", "Rejected inputs", fmtInt(d.totals.rejected), d.totals.rejected),
      tile("epochs", "Epoch spans", fmtInt(d.epochs), d.epochs)),
    el("div", { class: "grid" }, chart("Training curves (Keras)", times, curves, fmtNum),
      chart("Predictions", d.t, d.served.predictions, fmtInt),
      chart("Prediction latency", d.t, Object.fromEntries(Object.entries(d.served.duration_s).map(([k, v]) => [k, v.map((x) => (x === null ? null : x * 1000))])), fmtMs),
      chart("Confidence (mean)", d.t, d.served.confidence, fmtNum)),
    el("div", { class: "panel" }, el("h2", {}, "Drift (latest)"), d.drift.length
      ? table([["Model"], ["Feature"], ["PSI", 1]], d.drift.map((r) => [r.model || "–", r.feature || "–", fmtNum(r.value)])) : empty("No ml.model.drift gauge."))];
  }

  const VIEWS = { overview, traffic, errors, cost, guardrails, traces, ml };

  async function filters() {
    const d = await api("filters");
    for (const select of document.querySelectorAll("[data-filter]")) {
      const current = select.value;
      const values = d[select.dataset.filter] || [];
      if (current && !values.includes(current)) values.push(current); // keep a choice the range lacks
      while (select.options.length > 1) select.remove(1);
      for (const v of values) select.append(el("option", { value: v }, v));
      select.value = current;
    }
  }

  let rendering = false;
  let again = false; // a tab change or filter during a render: render once more right after
  async function render() {
    if (rendering) {
      again = true;
      return;
    }
    rendering = true;
    const hash = decodeURIComponent(location.hash.slice(1)) || "overview";
    const tab = hash.startsWith("trace/") ? "traces" : VIEWS[hash] ? hash : "overview";
    for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("active", a.dataset.tab === tab);
    const old = state.charts;
    state.charts = [];
    try {
      const nodes = hash.startsWith("trace/") ? await trace(hash.slice(6)) : await VIEWS[tab]();
      old.forEach((c) => c.destroy());
      const view = $("view");
      view.replaceChildren(...nodes.flat().filter((n) => n));
      view.dataset.view = hash.startsWith("trace/") ? "trace" : tab;
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (error) {
      $("updated").textContent = String(error);
    } finally {
      rendering = false;
      if (again) {
        again = false;
        render();
      }
    }
  }

  function live() {
    clearInterval(state.timer);
    if ($("live").checked) {
      state.timer = setInterval(() => {
        const active = document.activeElement;
        if (!active || !$("view").contains(active) || active.tagName !== "INPUT") { filters().catch(() => {}); render(); }
      }, 3000);
    }
  }

  const url = new URL(location.href);
  if (url.searchParams.has("token")) { // the cookie now holds it; keep it out of the address bar and history
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  $("endpoint").textContent = location.origin + "  (OTEL_EXPORTER_OTLP_ENDPOINT)";
  window.addEventListener("hashchange", render);
  for (const select of document.querySelectorAll("#controls select")) select.addEventListener("change", render);
  $("live").addEventListener("change", live);
  filters().catch(() => {}).then(render);
  live();
})();
