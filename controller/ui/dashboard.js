// qroute's dashboard: polls the controller's JSON API every stats interval and draws it.
// Reads: /qroute/v1/topology, /state (pairs, problems, guards), /decisions?since=N.
// Writes (drain, undrain, re-optimise, policy): the control API with the bearer token the user
// types once; the token lives in a variable of this closure only (no cookie, no storage).
(function () {
  "use strict";

  const API = "/qroute/v1/";
  const DEFAULT_INTERVAL_S = 2.0;
  const CHART_SAMPLES = 900;        // points kept per policy series
  const DECISIONS_KEPT = 200;       // as the controller's ring
  const PENDING_INTERVALS = 4;      // a decision is re-read this many stats intervals for its MLU after
  const DRAINED_COLOUR = "#718096";
  const PALETTE = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b", "#744210"];

  let token = "";                   // the API token: memory only
  const view = {
    topology: null,                 // the last /topology (or what /state gives without it)
    controller: null,               // the last /state
    decisions: [],                  // oldest first
    decisionsServed: null,          // false when the controller has no decision log
    decisionsRun: null,             // the controller start the decisions are of (its "run")
    topologyServed: null,
    selectedLink: null,             // [src, dst]
    selectedPair: null,             // [src, dst]
    pickedSource: null,             // a switch clicked first: the pair's source
    updates: 0,
    lastError: "",
    chart: null,
    chartPolicies: [],
    samples: [],                    // {t, mlu, policy}
    hashApplied: false,
    located: true,                  // the switches drawn at their coordinates
    laidOutWith: 0,                 // links drawn when the layout last ran (no coordinates)
  };
  let cy = null;
  let timer = null;
  let polling = false;  // a poll is running
  let again = false;    // another was asked for meanwhile
  const SOON_MS = 300;  // how soon a write's effect is read back

  // --- helpers ------------------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const pct = (x) => (x === null || x === undefined || !isFinite(x)) ? "?" : `${(100 * x).toFixed(0)} %`;
  const num = (x, digits = 2) => (x === null || x === undefined || !isFinite(x)) ? "?" : Number(x).toFixed(digits);
  const mbps = (bps) => (bps === null || bps === undefined) ? "?" : `${(bps / 1e6).toFixed(2)} Mbit/s`;
  const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false });
  const pathText = (path) => path.map((dpid) => switchName(dpid)).join(" → ");
  const linkId = (src, dst) => `${src}-${dst}`;

  function switchName(dpid) {
    const node = cy && cy.getElementById(String(dpid));
    const label = node && node.nonempty() ? node.data("label") : "";
    return label && label !== `s${dpid}` ? `s${dpid} ${label}` : `s${dpid}`;
  }

  // Green when idle, through yellow, red at capacity; grey when unknown.
  function utilColour(utilisation) {
    if (utilisation === null || utilisation === undefined || !isFinite(utilisation)) return "#a0aec0";
    const u = Math.max(0, Math.min(1, utilisation));
    return `hsl(${Math.round(120 * (1 - u))}, 75%, 40%)`;
  }
  const utilWidth = (u) => 2 + 7 * Math.max(0, Math.min(1, isFinite(u) ? u : 0));

  async function getJson(path) {
    const response = await fetch(API + path, { cache: "no-store", credentials: "omit" });
    if (!response.ok) {
      const error = new Error(`${path}: HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  function say(text, kind) {
    const message = $("message");
    message.textContent = text;
    message.className = kind === "error" ? "hint error" : kind === "done" ? "hint done" : "hint";
  }

  async function write(method, path, body) {
    if (!token) {
      say("Enter the API token first (the controller's [qroute] api_token, or its token file).", "error");
      return null;
    }
    const headers = { "Authorization": `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(API + path, {
        method, headers, credentials: "omit", cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      say(`${method} ${API}${path}: ${error.message}`, "error");
      return null;
    }
    let reply = {};
    try { reply = await response.json(); } catch (_) { /* an empty or non-JSON body */ }
    if (!response.ok) {
      say(`${method} ${API}${path}: ${response.status} ${reply.error || response.statusText}`, "error");
      return null;
    }
    say(`${method} ${API}${path}: ${response.status} ${JSON.stringify(reply)}`, "done");
    pollSoon();
    return reply;
  }

  // --- the topology -------------------------------------------------------------------------
  // What /state gives where the controller has no /topology: no coordinates, no drain flags.
  function topologyFromState(state) {
    const links = state.links.map((link) => ({ ...link, drained: false }));
    const mlu = links.reduce((worst, link) => Math.max(worst, link.utilisation || 0), 0);
    return {
      name: state.settings && state.settings.topology || "",
      switches: state.switches.map((dpid) => ({ dpid, label: `s${dpid}`, lat: null, lon: null })),
      links, mlu, policy: state.policy_name, split: state.settings && state.settings.split,
      checkpoint: state.settings && state.settings.checkpoint || "",
      stats_interval: state.settings && state.settings.stats_interval,
    };
  }

  // Coordinates where every switch has them (a flat projection around their mean), else a
  // circle in dpid order that a force-directed layout then untangles (from that circle, with no
  // random start: the same picture on every load).
  function positions(switches) {
    const located = switches.length > 0 && switches.every((s) => isFinite(s.lat) && isFinite(s.lon)
                                                          && s.lat !== null && s.lon !== null);
    const spot = {};
    if (located) {
      const lat0 = switches.reduce((sum, s) => sum + s.lat, 0) / switches.length;
      const squeeze = Math.cos(lat0 * Math.PI / 180);
      const scale = 25;  // pixels per degree before the fit
      for (const s of switches) spot[s.dpid] = { x: (s.lon * squeeze) * scale, y: -s.lat * scale };
      spreadTwins(spot, 36);
    } else {
      const ordered = [...switches].sort((a, b) => a.dpid - b.dpid);
      const radius = Math.max(150, 14 * ordered.length);
      ordered.forEach((s, i) => {
        const angle = -Math.PI / 2 + 2 * Math.PI * i / ordered.length;
        spot[s.dpid] = { x: radius * Math.cos(angle), y: radius * Math.sin(angle) };
      });
    }
    return { spot, located };
  }

  // Switches at one place (two routers in one city) are set around it, in dpid order.
  function spreadTwins(spot, apart) {
    const groups = {};
    for (const [dpid, p] of Object.entries(spot)) {
      const key = `${Math.round(p.x / apart)},${Math.round(p.y / apart)}`;
      (groups[key] = groups[key] || []).push(Number(dpid));
    }
    for (const members of Object.values(groups)) {
      if (members.length < 2) continue;
      members.sort((a, b) => a - b);
      const centre = members.reduce((c, d) => ({ x: c.x + spot[d].x / members.length,
                                                y: c.y + spot[d].y / members.length }), { x: 0, y: 0 });
      members.forEach((dpid, i) => {
        const angle = Math.PI + 2 * Math.PI * i / members.length;
        spot[dpid] = { x: centre.x + apart * Math.cos(angle), y: centre.y + apart * Math.sin(angle) };
      });
    }
  }

  function makeGraph() {
    cy = cytoscape({
      container: $("graph"),
      elements: [],
      layout: { name: "preset" },
      minZoom: 0.2, maxZoom: 4, wheelSensitivity: 0.3,
      boxSelectionEnabled: false, autoungrabify: true,
      style: [
        { selector: "node", style: {
          "background-color": "#2a4365", "width": 22, "height": 22, "label": "data(label)",
          "font-size": 13, "min-zoomed-font-size": 6, "color": "#1a202c", "text-valign": "bottom",
          "text-margin-y": 3,
          "text-outline-color": "#fff", "text-outline-width": 2 } },
        { selector: "node.source", style: { "background-color": "#dd6b20", "border-width": 3, "border-color": "#7b341e" } },
        { selector: "node.destination", style: { "background-color": "#38a169", "border-width": 3, "border-color": "#22543d" } },
        { selector: "edge", style: {
          "curve-style": "bezier", "control-point-step-size": 16, "width": "data(width)",
          "line-color": "data(colour)", "target-arrow-color": "data(colour)",
          "target-arrow-shape": "triangle", "arrow-scale": 0.7 } },
        { selector: "edge.onpath", style: { "underlay-color": "#805ad5", "underlay-opacity": 0.35, "underlay-padding": 5 } },
        { selector: "edge.selected", style: { "underlay-color": "#000", "underlay-opacity": 0.45, "underlay-padding": 4 } },
        { selector: "edge.drained", style: { "line-style": "dashed", "line-dash-pattern": [6, 4] } },
        { selector: "edge.down", style: { "line-style": "dotted", "opacity": 0.35 } },
      ],
    });
    cy.on("tap", "edge", (event) => {
      const edge = event.target;
      selectLink(edge.data("src"), edge.data("dst"));
    });
    cy.on("tap", "node", (event) => pickSwitch(Number(event.target.id())));
    cy.on("tap", (event) => { if (event.target === cy) clearSelection(); });
    cy.on("mouseover", "edge", (event) => {
      const d = event.target.data();
      showHover(`${switchName(d.src)} → ${switchName(d.dst)}: ${mbps(d.load)} of ${mbps(d.capacity)} `
                + `(${pct(d.utilisation)})${d.carrying ? ", drained but carrying (the only way left)" : d.drained ? ", drained" : ""}`);
    });
    cy.on("mouseover", "node", (event) => showHover(switchName(Number(event.target.id()))));
    cy.on("mouseout", () => showHover(""));
  }

  function showHover(text) {
    const hover = $("hover");
    hover.textContent = text;
    hover.style.display = text ? "block" : "none";
  }

  function drawTopology(topology) {
    const known = new Set(cy.nodes().map((n) => Number(n.id())));
    const wanted = topology.switches.map((s) => s.dpid);
    const reshaped = wanted.length !== known.size || wanted.some((dpid) => !known.has(dpid));
    cy.batch(() => {
      if (reshaped) {
        const { spot, located } = positions(topology.switches);
        view.located = located;
        cy.nodes().filter((n) => !wanted.includes(Number(n.id()))).remove();
        for (const s of topology.switches) {
          const node = cy.getElementById(String(s.dpid));
          const label = s.label || `s${s.dpid}`;
          if (node.nonempty()) node.position(spot[s.dpid]).data("label", label);
          else cy.add({ group: "nodes", data: { id: String(s.dpid), label }, position: spot[s.dpid] });
        }
      }
      const present = new Set();
      for (const link of topology.links) {
        const id = linkId(link.src, link.dst);
        present.add(id);
        if (!cy.getElementById(String(link.src)).nonempty() || !cy.getElementById(String(link.dst)).nonempty()) continue;
        const data = { id, source: String(link.src), target: String(link.dst), src: link.src, dst: link.dst,
                       capacity: link.capacity_bps, load: link.load_bps, utilisation: link.utilisation,
                       drained: Boolean(link.drained), carrying: Boolean(link.carrying),
                       // a drained link a failure left the only way is drawn with its load
                       colour: link.drained && !link.carrying ? DRAINED_COLOUR : utilColour(link.utilisation),
                       width: utilWidth(link.utilisation) };
        let edge = cy.getElementById(id);
        if (edge.nonempty()) edge.data(data);
        else edge = cy.add({ group: "edges", data });
        edge.toggleClass("drained", data.drained);
        edge.removeClass("down");
      }
      // a link the controller no longer knows (down) stays drawn, faded, until it comes back
      cy.edges().forEach((edge) => {
        if (!present.has(edge.id())) {
          edge.addClass("down");
          edge.data({ colour: utilColour(null), width: 2, utilisation: null, load: null });
        }
      });
    });
    // without coordinates the layout follows the links: laid out again while links are found
    const cables = cy.edges().length;
    if (!view.located && (reshaped || cables !== view.laidOutWith)) {
      view.laidOutWith = cables;
      cy.layout({ name: "cose", randomize: false, animate: false, fit: true, padding: 40,
                  nodeDimensionsIncludeLabels: true, idealEdgeLength: () => 70,
                  nodeRepulsion: () => 200000, numIter: 1500 }).run();
    } else if (reshaped) {
      cy.fit(undefined, 40);
    }
  }

  // --- selection ----------------------------------------------------------------------------
  function clearSelection() {
    view.selectedLink = null;
    view.selectedPair = null;
    view.pickedSource = null;
    renderSelection();
  }

  function selectLink(src, dst) {
    view.selectedLink = [Number(src), Number(dst)];
    renderSelection();
  }

  function pickSwitch(dpid) {
    if (view.pickedSource === null || view.selectedPair) {
      view.pickedSource = dpid;
      view.selectedPair = null;
    } else if (dpid !== view.pickedSource) {
      view.selectedPair = [view.pickedSource, dpid];
    }
    renderSelection();
  }

  function selectPair(src, dst) {
    view.pickedSource = Number(src);
    view.selectedPair = [Number(src), Number(dst)];
    renderSelection();
  }

  function pairEntry(src, dst) {
    const pairs = view.controller ? view.controller.pairs : [];
    return pairs.find((p) => p.src === src && p.dst === dst) || null;
  }

  function renderSelection() {
    if (!cy) return;
    cy.batch(() => {
      cy.elements().removeClass("source destination onpath selected");
      if (view.pickedSource !== null) cy.getElementById(String(view.pickedSource)).addClass("source");
      if (view.selectedPair) cy.getElementById(String(view.selectedPair[1])).addClass("destination");
      if (view.selectedLink) {
        const [a, b] = view.selectedLink;
        cy.getElementById(linkId(a, b)).addClass("selected");
        cy.getElementById(linkId(b, a)).addClass("selected");
      }
    });
    const box = $("selection");
    box.replaceChildren();
    if (view.selectedLink) box.append(linkDetails(...view.selectedLink));
    if (view.selectedPair) box.append(pairDetails(...view.selectedPair));
    else if (view.pickedSource !== null) {
      box.append(el("p", { class: "hint", text: `Source ${switchName(view.pickedSource)}: click the destination switch.` }));
    }
    if (!box.childElementCount) box.append(el("p", { class: "hint", text: "Nothing selected." }));
    $("drain").disabled = $("undrain").disabled = !view.selectedLink;
    $("pair-list").value = view.selectedPair ? linkId(...view.selectedPair) : "";
  }

  function linkDetails(a, b) {
    const rows = [];
    for (const [src, dst] of [[a, b], [b, a]]) {
      const edge = cy.getElementById(linkId(src, dst));
      if (edge.empty()) continue;
      const d = edge.data();
      rows.push(el("tr", {}, el("td", {}, `${switchName(src)} → ${switchName(dst)}`),
                   el("td", { class: "num" }, mbps(d.load)), el("td", { class: "num" }, mbps(d.capacity)),
                   el("td", { class: "num" }, pct(d.utilisation)),
                   el("td", {}, edge.hasClass("down") ? "down" : d.carrying ? "drained, carrying (the only way left)"
                                   : d.drained ? "drained" : "in use")));
    }
    return el("div", {}, el("h3", { text: `Link s${a}–s${b}` }),
              el("table", {}, el("tr", {}, el("th", {}, "direction"), el("th", { class: "num" }, "load"),
                                  el("th", { class: "num" }, "capacity"), el("th", { class: "num" }, "use"),
                                  el("th", {}, "state")), ...rows));
  }

  function pairDetails(src, dst) {
    const entry = pairEntry(src, dst);
    const title = el("h3", { text: `Pair ${switchName(src)} → ${switchName(dst)}` });
    if (!entry) return el("div", {}, title, el("p", { class: "hint", text: "No tunnels installed for this pair (yet)." }));
    cy.batch(() => {
      for (const tunnel of entry.paths) {
        for (let i = 0; i + 1 < tunnel.path.length; i++) {
          cy.getElementById(linkId(tunnel.path[i], tunnel.path[i + 1])).addClass("onpath");
        }
      }
    });
    const rows = entry.paths.map((tunnel) => el("tr", {},
      el("td", {}, pathText(tunnel.path)), el("td", { class: "num" }, num(tunnel.weight, 3)),
      el("td", { class: "num" }, tunnel.label === null || tunnel.label === undefined ? "?" : tunnel.label),
      el("td", { class: "num" }, mbps(tunnel.bps))));
    return el("div", { class: "pair", "data-pair": linkId(src, dst) }, title,
              el("p", {}, `demand ${mbps(entry.demand_bps)}${entry.installed ? "" : ` · NOT installed: ${entry.not_installed}`}`),
              el("table", {}, el("tr", {}, el("th", {}, "tunnel path"), el("th", { class: "num" }, "weight"),
                                  el("th", { class: "num" }, "VLAN"), el("th", { class: "num" }, "rate")), ...rows));
  }

  function renderPairList() {
    const list = $("pair-list");
    const pairs = view.controller ? view.controller.pairs : [];
    const labels = pairs.map((p) => [linkId(p.src, p.dst),
      `s${p.src} → s${p.dst} (${p.paths.length} tunnel${p.paths.length === 1 ? "" : "s"})`]);
    const shown = [...list.options].slice(1).map((o) => [o.value, o.textContent]);
    if (labels.length === shown.length && labels.every(([v, t], i) => v === shown[i][0] && t === shown[i][1])) return;
    list.replaceChildren(el("option", { value: "" }, "(choose a switch pair)"),
      ...labels.map(([value, text]) => el("option", { value }, text)));
    list.value = view.selectedPair ? linkId(...view.selectedPair) : "";
  }

  // --- panels -------------------------------------------------------------------------------
  function policyText(topology) {
    if (!topology) return "?";
    const split = topology.split === true || topology.split === "true" ? ", split" :
      topology.split === false || topology.split === "false" ? ", one path" : "";
    return `${topology.policy}${split}`;
  }

  function renderPanels() {
    const topology = view.topology;
    const state = view.controller;
    $("network").textContent = `network ${topology.name || "?"}: ${topology.switches.length} switches, ${topology.links.length} links`;
    $("policy-badge").textContent = `policy ${policyText(topology)}`;
    $("mlu-badge").textContent = `MLU ${pct(topology.mlu)}`;
    $("mlu-badge").className = `badge ${topology.mlu >= 1 ? "bad" : topology.mlu >= 0.8 ? "wait" : "ok"}`;
    $("epoch-badge").textContent = `epoch ${state ? state.epoch : "?"}${state && state.rerouting ? " (deciding)" : ""}`;
    $("policy").textContent = state ? state.policy : policyText(topology);
    $("checkpoint").textContent = topology.checkpoint || "(none)";
    $("interval").textContent = `${intervalS()} s`;

    const problems = [];
    const add = (text, kind = "problem") => problems.push(el("li", { class: kind }, text));
    if (state) {
      if (state.policy_problem) add(`policy fallback: ${state.policy_problem}`);
      if (state.last_decision_error) add(`last decision error: ${state.last_decision_error}`);
      if (state.metrics_problem) add(`metrics: ${state.metrics_problem}`, "note");
      const guards = state.guards || {};
      const counts = (obj) => Object.entries(obj || {}).map(([k, n]) => `${k} ${n}`).join(", ");
      if (Object.keys(guards.decisions_abandoned || {}).length) {
        add(`decisions abandoned: ${counts(guards.decisions_abandoned)}${guards.last_abandoned ? ` (last: ${guards.last_abandoned})` : ""}`);
      }
      if (Object.keys(guards.decisions_rejected || {}).length) {
        add(`decisions rejected: ${counts(guards.decisions_rejected)}${guards.last_rejected ? ` (last: ${guards.last_rejected})` : ""}`);
      }
      if (Object.keys(guards.moves_deferred || {}).length) add(`moves deferred: ${counts(guards.moves_deferred)}`, "note");
      if ((guards.pairs_not_installed || []).length) add(`${guards.pairs_not_installed.length} pairs not installed (switch refused rules)`);
      if ((guards.openflow_errors || []).length) {
        add(`OpenFlow errors: ${guards.openflow_errors.map((e) => `${e.code} ×${e.count}`).join(", ")}`, "note");
      }
    }
    if (state && state.decision_log_problem) add(state.decision_log_problem);
    const last = view.decisions[view.decisions.length - 1];
    if (last && last.fallback) add(`last decision by ${last.policy}: ${last.fallback}`);
    const drained = topology.links.filter((l) => l.drained).map((l) => `${l.src}-${l.dst}`);
    if (drained.length) add(`drained: ${drained.join(", ")}`, "note");
    const carrying = topology.links.filter((l) => l.carrying).map((l) => `${l.src}-${l.dst}`);
    if (carrying.length) add(`drained but carrying traffic (a failure left no other way): ${carrying.join(", ")}`);
    $("problems").replaceChildren(...(problems.length ? problems : [el("li", { class: "ok" }, "none")]));
  }

  function decisionSummary(d) {
    const moved = d.moved || {};
    const mlu = `MLU ${num(d.mlu_before)} → ${num(d.mlu_after)}` + (d.predicted_mlu === null || d.predicted_mlu === undefined ? "" : ` (predicted ${num(d.predicted_mlu)})`);
    return el("summary", {},
      `#${d.number} ${clock(d.time)} `, el("span", { class: `kind ${d.kind}` }, d.kind), " ",
      `${(d.reasons || []).join("; ") || "-"} · moved ${moved.rerouted || 0} rerouted, ${moved.reweighted || 0} reweighted, `
      + `${moved.new || 0} new, ${moved.removed || 0} removed · ${num(d.decision_ms, 1)} ms · ${mlu} · ${d.policy}`,
      d.fallback ? el("span", { class: "fallback" }, ` · fallback: ${d.fallback}`) : null,
      (d.aborted || []).length ? el("span", { class: "fallback" },
        ` · plan stopped: no barrier reply from ${d.aborted.map((s) => `s${s}`).join(", ")}`) : null);
  }

  function renderTimeline() {
    const box = $("timeline");
    const newestFirst = [...view.decisions].reverse();
    $("decision-count").textContent = view.decisionsServed === false ? "(this controller keeps no decision log)"
      : `(${view.decisions.length} kept)`;
    if (!newestFirst.length) {
      box.replaceChildren(el("p", { class: "hint", text: view.decisionsServed === false
        ? "This controller does not serve /qroute/v1/decisions." : "No decision recorded yet." }));
      return;
    }
    const open = new Set([...box.querySelectorAll("details[open]")].map((d) => d.dataset.number));
    box.replaceChildren(...newestFirst.map((d) => {
      const changes = (d.changes || []).map((c) => el("li", {},
        `s${c.src} → s${c.dst} ${c.change}: ` + (c.paths || []).map((p, i) =>
          `${pathText(p)} (${num((c.weights || [])[i], 2)})`).join(", ")));
      const item = el("details", { "data-number": String(d.number) }, decisionSummary(d),
        changes.length ? el("ul", {}, ...changes) : el("p", { class: "hint", text: (d.aborted || []).length
          ? "the rest of the plan was not sent; the switches it reached are read back and the next decision goes on from what they hold"
          : "no change" }),
        el("p", { class: "hint", text: `install ${num(d.install_ms, 1)} ms` }));
      if (open.has(String(d.number))) item.open = true;
      return item;
    }));
  }

  // --- chart --------------------------------------------------------------------------------
  function chartSeries() {
    const policies = view.chartPolicies;
    const times = view.samples.map((s) => s.t);
    return [times, ...policies.map((p) => view.samples.map((s) => (s.policy === p ? s.mlu : null)))];
  }

  function renderChart() {
    const box = $("chart");
    const width = Math.max(240, box.clientWidth || 400);
    const policies = [...new Set(view.samples.map((s) => s.policy))];
    const rebuild = !view.chart || policies.length !== view.chartPolicies.length
      || Math.abs(view.chart.width - width) > 2;
    view.chartPolicies = policies;
    if (rebuild) {
      if (view.chart) view.chart.destroy();
      view.chart = new uPlot({
        width, height: 200,
        scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max(1.1, (hi || 0) * 1.05)] } },
        series: [{}, ...policies.map((p, i) => ({ label: p, stroke: PALETTE[i % PALETTE.length], width: 2,
                                                   value: (u, v) => (v === null || v === undefined ? "-" : v.toFixed(2)) }))],
        axes: [{}, { label: "MLU", size: 50 }],
      }, chartSeries(), box);
    } else {
      view.chart.setData(chartSeries());
    }
  }

  // --- polling ------------------------------------------------------------------------------
  function intervalS() {
    const t = view.topology && Number(view.topology.stats_interval);
    return t && isFinite(t) && t > 0 ? t : DEFAULT_INTERVAL_S;
  }

  function decisionsSince() {
    // re-read the recent ones whose measured MLU after is not in yet (it comes one stats
    // interval after the decision; one that never gets it is given up after a few)
    const now = Date.now() / 1000;
    const pending = view.decisions.find((d) => (d.mlu_after === null || d.mlu_after === undefined)
                                           && now - d.seenAt < PENDING_INTERVALS * intervalS());
    if (pending) return pending.number - 1;
    return view.decisions.length ? view.decisions[view.decisions.length - 1].number : -1;
  }

  async function pollDecisions() {
    if (view.decisionsServed === false) return;
    try {
      const since = decisionsSince();
      let reply = await getJson(since >= 0 ? `decisions?since=${since}` : "decisions");
      // a restarted controller numbers its decisions from 1 again, under another run
      const restarted = (view.decisionsRun !== null && reply.run !== undefined && reply.run !== view.decisionsRun)
        || (typeof reply.latest === "number" && since >= 0 && reply.latest < since);
      if (restarted) {
        view.decisions = [];
        if (since >= 0) reply = await getJson("decisions");
      }
      view.decisionsRun = reply.run === undefined ? null : reply.run;
      view.decisionsServed = true;
      const byNumber = new Map(view.decisions.map((d) => [d.number, d]));
      const newest = view.decisions.length ? view.decisions[view.decisions.length - 1].number : -1;
      const fresh = reply.decisions || [];
      if (fresh.length && fresh[fresh.length - 1].number < newest) byNumber.clear();  // a restarted controller
      const now = Date.now() / 1000;
      for (const d of fresh) byNumber.set(d.number, { ...d, seenAt: (byNumber.get(d.number) || {}).seenAt || now });
      view.decisions = [...byNumber.values()].sort((a, b) => a.number - b.number).slice(-DECISIONS_KEPT);
    } catch (error) {
      if (error.status === 404) view.decisionsServed = false;
      else throw error;
    }
  }

  async function pollTopology() {
    const state = await getJson("state");
    view.controller = state;
    if (view.topologyServed !== false) {
      try {
        view.topology = await getJson("topology");
        view.topologyServed = true;
        return;
      } catch (error) {
        if (error.status !== 404) throw error;
        view.topologyServed = false;
      }
    }
    view.topology = topologyFromState(state);
  }

  function applyHash() {
    if (view.hashApplied) return;
    view.hashApplied = true;
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    const pair = (params.get("pair") || "").split("-").map(Number);
    const link = (params.get("link") || "").split("-").map(Number);
    if (link.length === 2 && link.every((n) => n > 0)) view.selectedLink = link;
    if (pair.length === 2 && pair.every((n) => n > 0)) { view.pickedSource = pair[0]; view.selectedPair = pair; }
  }

  async function poll() {
    // one poll at a time: one asked for while another runs is run right after it
    if (polling) { again = true; return; }
    polling = true;
    clearTimeout(timer);
    try {
      await Promise.all([pollTopology(), pollDecisions()]);
      drawTopology(view.topology);
      applyHash();
      view.samples.push({ t: Date.now() / 1000, mlu: view.topology.mlu, policy: policyText(view.topology) });
      if (view.samples.length > CHART_SAMPLES) view.samples.splice(0, view.samples.length - CHART_SAMPLES);
      renderPanels();
      renderPairList();
      renderSelection();
      renderTimeline();
      renderChart();
      view.updates += 1;
      view.lastError = "";
      $("live").textContent = `live · ${clock(Date.now() / 1000)}`;
      $("live").className = "badge ok";
    } catch (error) {
      view.lastError = String(error.message || error);
      $("live").textContent = `no answer: ${view.lastError}`;
      $("live").className = "badge bad";
    } finally {
      polling = false;
    }
    clearTimeout(timer);
    timer = setTimeout(poll, again ? SOON_MS : intervalS() * 1000);
    again = false;
  }

  function pollSoon() {
    if (polling) { again = true; return; }  // the running poll schedules the next one
    clearTimeout(timer);
    timer = setTimeout(poll, SOON_MS);
  }

  // --- controls -----------------------------------------------------------------------------
  function linkPath(action) {
    const [a, b] = view.selectedLink;
    return `links/${a}-${b}/${action}`;
  }

  function wireControls() {
    $("token-set").addEventListener("click", () => {
      token = $("token").value.trim();
      $("token").value = "";
      $("token-state").textContent = token ? "Token set (kept in this page's memory only; reloading forgets it)."
        : "No token: the page can only read.";
    });
    $("token").addEventListener("keydown", (event) => { if (event.key === "Enter") $("token-set").click(); });
    $("token-forget").addEventListener("click", () => {
      token = "";
      $("token-state").textContent = "No token: the page can only read.";
    });
    $("drain").addEventListener("click", () => view.selectedLink && write("POST", linkPath("drain")));
    $("undrain").addEventListener("click", () => view.selectedLink && write("POST", linkPath("undrain")));
    $("reoptimize").addEventListener("click", () => write("POST", "reoptimize"));
    $("policy-apply").addEventListener("click", () => {
      const body = {};
      if ($("policy-name").value) body.policy = $("policy-name").value;
      if ($("policy-split").value) body.split = $("policy-split").value === "true";
      if ($("policy-checkpoint").value.trim()) body.checkpoint = $("policy-checkpoint").value.trim();
      if (!Object.keys(body).length) { say("Choose a policy, a split or a checkpoint first.", "error"); return; }
      write("PUT", "policy", body);
    });
    $("pair-list").addEventListener("change", (event) => {
      const value = event.target.value;
      if (!value) { clearSelection(); return; }
      const [src, dst] = value.split("-").map(Number);
      selectPair(src, dst);
    });
    window.addEventListener("resize", () => { if (view.chart) renderChart(); });
  }

  function start() {
    makeGraph();
    wireControls();
    poll();
  }

  // What the browser test (and a curious user's console) can inspect; never the token.
  window.qroute = {
    get cy() { return cy; },
    get topology() { return view.topology; },
    get controller() { return view.controller; },
    get decisions() { return view.decisions; },
    get updates() { return view.updates; },
    get lastError() { return view.lastError; },
    get selectedLink() { return view.selectedLink; },
    get selectedPair() { return view.selectedPair; },
    get hasToken() { return token !== ""; },
    utilColour, selectLink, selectPair, clearSelection, poll, pollSoon,
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}());
