/** The dashboard's page: plain HTML and CSS, its script from /app.js (the content security policy allows nothing else). */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>airlock</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; background: #fafafa; color: #18181b; }
  header { padding: 12px 20px; background: #18181b; color: #fafafa; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0; }
  main { padding: 16px 20px; display: grid; gap: 20px; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e4e4e7; }
  th { font-weight: 600; color: #52525b; }
  .state-ready { color: #15803d; } .state-down, .state-stopped { color: #b91c1c; } .state-building, .state-starting { color: #a16207; }
  section h2 { font-size: 14px; margin: 0 0 8px; color: #3f3f46; }
  .error { background: #fef2f2; border: 1px solid #fca5a5; padding: 10px; white-space: pre-wrap; font-family: ui-monospace, monospace; }
  .bar { display: flex; align-items: center; gap: 8px; margin: 3px 0; font-size: 12px; }
  .bar .label { width: 210px; flex: none; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .bar .track { display: flex; height: 14px; flex: 1; background: #f4f4f5; }
  .bar .total { width: 160px; flex: none; text-align: right; font-variant-numeric: tabular-nums; }
  .legend span { display: inline-block; margin-right: 12px; font-size: 12px; }
  .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; }
  .plots { display: flex; gap: 16px; flex-wrap: wrap; }
  .plots svg { background: #fff; border: 1px solid #e4e4e7; }
  .plots text { font: 11px system-ui, sans-serif; fill: #3f3f46; }
  .p-detect { background: #a1a1aa; } .p-build { background: #2563eb; } .p-stop { background: #f97316; } .p-start { background: #7c3aed; } .p-ready { background: #16a34a; } .p-swap { background: #0891b2; } .p-drain { background: #fbbf24; }
  button { font: inherit; padding: 2px 10px; }
</style>
</head>
<body>
<header><h1>airlock</h1><span id="connection">connecting…</span></header>
<main>
  <section><h2>Services</h2>
    <table><thead><tr><th>service</th><th>state</th><th>serving</th><th>pid</th><th>uptime</th><th>memory</th><th>share</th><th>handoff</th><th>address</th><th>starting / draining</th><th>rollout</th><th></th></tr></thead><tbody id="services"></tbody></table>
  </section>
  <section id="problems"></section>
  <section><h2>Reloads (newest first; each bar is one reload, its phases in milliseconds)</h2>
    <div class="legend"><span><i class="p-detect"></i>detect</span><span><i class="p-build"></i>build</span><span><i class="p-stop"></i>stop</span><span><i class="p-start"></i>start</span><span><i class="p-ready"></i>ready</span><span><i class="p-swap"></i>swap</span><span><i class="p-drain"></i>drain (of the one before)</span></div>
    <div id="timeline"></div>
  </section>
  <section><h2>Versions (the serving generation beside the one before it)</h2><div id="versions"></div></section>
  <section><h2>Canary</h2><div id="canaries">no rollout since this page opened</div></section>
</main>
<script src="app.js"></script>
</body>
</html>
`;

/** The dashboard's script: the status once, then live over the event stream; actions as POSTs with the token. */
export const DASHBOARD_JS = `(() => {
  const token = new URLSearchParams(location.search).get('token') || '';
  const headers = { 'x-airlock-token': token };
  const $ = (id) => document.getElementById(id);
  const problems = new Map();
  const reloads = [];
  const PHASES = ['detect', 'build', 'stop', 'start', 'ready', 'swap', 'drain'];
  const cell = (text) => { const td = document.createElement('td'); td.textContent = text; return td; };
  const seconds = (ms) => ms === undefined || ms === null ? '' : ms < 60000 ? Math.round(ms / 1000) + ' s' : Math.round(ms / 60000) + ' min';

  async function act(path) {
    const response = await fetch(path, { method: 'POST', headers });
    if (!response.ok) alert(await response.text());
  }

  async function refresh() {
    const response = await fetch('api/status', { headers });
    if (!response.ok) return;
    const body = $('services');
    body.textContent = '';
    const services = (await response.json()).services;
    for (const s of services) {
      const row = document.createElement('tr');
      row.dataset.service = s.name;
      const state = cell(s.state);
      state.className = 'state-' + s.state;
      const others = [...s.starting.map((g) => 'g' + g.generation + ' starting'), ...s.draining.map((g) => 'g' + g.generation + ' draining')].join(', ');
      const rollout = s.rollout ? s.rollout.state + (s.rollout.state === 'running' || s.rollout.state === 'paused' ? ' at ' + s.rollout.share + ' %' : '') : '';
      const memory = s.compare && s.compare.serving.memoryPeakBytes != null ? (s.compare.serving.memoryPeakBytes / 1048576).toFixed(1) + ' MiB peak' : '';
      // The serving generation's share of users: all of them, but for a canary's.
      const share = s.generation === undefined ? '' : s.rollout && (s.rollout.state === 'running' || s.rollout.state === 'paused') ? (100 - s.rollout.share) + ' % (g' + s.rollout.canary + ': ' + s.rollout.share + ' %)' : '100 %';
      row.append(cell(s.name), state, cell(s.generation === undefined ? '' : 'g' + s.generation), cell(s.pid ?? ''), cell(seconds(s.uptimeMs)), cell(memory), cell(share), cell(s.handoff), cell(s.listen ?? ''), cell(others), cell(rollout));
      const actions = document.createElement('td');
      const reload = document.createElement('button');
      reload.textContent = 'reload';
      reload.onclick = () => act('api/reload?service=' + encodeURIComponent(s.name));
      actions.append(reload);
      if (s.rollout && s.rollout.state === 'running') {
        for (const verb of ['promote', 'abort']) {
          const button = document.createElement('button');
          button.textContent = verb;
          button.onclick = () => act('api/rollout?service=' + encodeURIComponent(s.name) + '&action=' + verb);
          actions.append(button);
        }
      }
      row.append(actions);
      body.append(row);
    }
    showVersions(services);
    for (const s of services) if (s.rollout && (s.rollout.state === 'running' || s.rollout.state === 'paused')) note(s.name, s.rollout.canary, s.rollout.stable, s.rollout.share, s.rollout.window);
  }

  const NS = 'http://www.w3.org/2000/svg';
  const canaries = new Map();
  const svgEl = (name, attrs, text) => { const el = document.createElementNS(NS, name); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v)); if (text !== undefined) el.textContent = text; return el; };
  const nice = (v) => { if (!(v > 0)) return 1; const p = Math.pow(10, Math.floor(Math.log10(v))); return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v); };

  /** One plot: time in seconds since the rollout began across, the value in its unit up; a line per series. */
  function plot(title, unit, series) {
    const W = 340, H = 150, L = 48, R = 10, T = 22, B = 28;
    const all = series.flatMap((s) => s.points);
    const tMax = nice(Math.max(1, ...all.map((p) => p[0])));
    const yMax = nice(Math.max(0, ...all.map((p) => p[1])));
    const x = (t) => L + (W - L - R) * t / tMax;
    const y = (v) => H - B - (H - T - B) * v / yMax;
    const svg = svgEl('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title });
    svg.append(svgEl('text', { x: L, y: 14 }, title));
    svg.append(svgEl('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#a1a1aa' }), svgEl('line', { x1: L, y1: T, x2: L, y2: H - B, stroke: '#a1a1aa' }));
    for (const v of [0, yMax / 2, yMax]) svg.append(svgEl('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end' }, (Math.round(v * 100) / 100) + ' ' + unit));
    for (const t of [0, tMax / 2, tMax]) svg.append(svgEl('text', { x: x(t), y: H - B + 14, 'text-anchor': 'middle' }, Math.round(t) + ' s'));
    series.forEach((s, i) => {
      // A share holds until the next decision: drawn as steps, not slopes.
      const points = s.step ? s.points.flatMap((p, j) => (j === 0 ? [p] : [[p[0], s.points[j - 1][1]], p])) : s.points;
      if (points.length > 0) svg.append(svgEl('polyline', { points: points.map((p) => x(p[0]) + ',' + y(p[1])).join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2, 'data-series': s.name }));
      svg.append(svgEl('text', { x: W - R - 70 * (series.length - i), y: 14, fill: s.color }, s.name));
    });
    return svg;
  }

  /** A rollout's figures at one moment: its share, and both sides' error rate and p99 over the window. */
  function note(service, canary, stable, share, window) {
    let c = canaries.get(service);
    if (!c || c.canary !== canary) { c = { canary, stable, start: Date.now(), points: [] }; canaries.set(service, c); }
    c.points.push({ t: (Date.now() - c.start) / 1000, share, window });
    showCanaries();
  }

  function showCanaries() {
    const box = $('canaries');
    box.textContent = '';
    for (const [service, c] of canaries) {
      const title = document.createElement('div');
      title.textContent = service + ': g' + c.canary + ' (canary) against g' + c.stable + ' (stable)';
      const row = document.createElement('div');
      row.className = 'plots';
      row.dataset.service = service;
      const side = (key, pick) => c.points.filter((p) => p.window && p.window[key].requests > 0).map((p) => [p.t, pick(p.window[key])]);
      row.append(
        plot('canary share', '%', [{ name: 'share', color: '#7c3aed', step: true, points: c.points.map((p) => [p.t, p.share]) }]),
        plot('error rate', '%', [{ name: 'canary', color: '#dc2626', points: side('canary', (f) => 100 * f.errorRate) }, { name: 'stable', color: '#2563eb', points: side('stable', (f) => 100 * f.errorRate) }]),
        plot('p99', 'ms', [{ name: 'canary', color: '#dc2626', points: side('canary', (f) => f.p99Ms ?? 0) }, { name: 'stable', color: '#2563eb', points: side('stable', (f) => f.p99Ms ?? 0) }]),
      );
      box.append(title, row);
    }
  }

  function figures(g) {
    if (!g) return ['', '', '', '', ''];
    return [Math.round(g.startupMs) + ' ms', g.memoryPeakBytes == null ? '' : (g.memoryPeakBytes / 1048576).toFixed(1) + ' MiB', g.share2xx == null ? '' : (100 * g.share2xx).toFixed(2) + ' %', g.p99Ms == null ? '' : g.p99Ms.toFixed(1) + ' ms', String(g.requests)];
  }

  function showVersions(services) {
    const box = $('versions');
    box.textContent = '';
    for (const s of services) {
      if (!s.compare) continue;
      const table = document.createElement('table');
      table.dataset.service = s.name;
      const head = document.createElement('tr');
      for (const text of [s.name, 'g' + s.compare.serving.generation + ' (serving)', s.compare.previous ? 'g' + s.compare.previous.generation + ' (before)' : '(none before)']) {
        const th = document.createElement('th');
        th.textContent = text;
        head.append(th);
      }
      table.append(head);
      const now = figures(s.compare.serving);
      const before = figures(s.compare.previous);
      ['start-up', 'memory peak', '2xx', 'p99', 'requests'].forEach((label, i) => {
        const row = document.createElement('tr');
        row.append(cell(label), cell(now[i]), cell(before[i]));
        table.append(row);
      });
      box.append(table);
    }
  }

  function showProblems() {
    const box = $('problems');
    box.textContent = '';
    for (const [key, text] of problems) {
      const div = document.createElement('div');
      div.className = 'error';
      div.dataset.problem = key;
      div.textContent = text;
      box.append(div);
    }
  }

  function showTimeline() {
    const box = $('timeline');
    box.textContent = '';
    const longest = Math.max(1, ...reloads.map((r) => r.totalMs + (r.phases.drain || 0)));
    for (const r of reloads.slice().reverse()) {
      const bar = document.createElement('div');
      bar.className = 'bar';
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = r.service + ' g' + r.generation + ' ← ' + r.reason.join(', ');
      label.title = label.textContent;
      const track = document.createElement('span');
      track.className = 'track';
      for (const phase of PHASES) {
        const ms = r.phases[phase];
        if (!ms) continue;
        const part = document.createElement('span');
        part.className = 'p-' + phase;
        part.style.width = (100 * ms / longest) + '%';
        part.title = phase + ' ' + Math.round(ms) + ' ms';
        track.append(part);
      }
      const total = document.createElement('span');
      total.className = 'total';
      total.textContent = Math.round(r.totalMs) + ' ms' + (r.phases.drain ? ' + ' + Math.round(r.phases.drain) + ' ms drain' : '');
      bar.append(label, track, total);
      box.append(bar);
    }
  }

  const output = new Map();
  let pending;
  const soon = () => { clearTimeout(pending); pending = setTimeout(refresh, 150); };
  const events = new EventSource('api/events?token=' + encodeURIComponent(token));
  events.onopen = () => { $('connection').textContent = 'live'; refresh(); };
  // Uptimes and a canary's window figures move without events.
  setInterval(refresh, 2000);
  events.onerror = () => { $('connection').textContent = 'reconnecting…'; };
  events.onmessage = (message) => {
    const e = JSON.parse(message.data);
    if (e.type === 'build.started') output.set(e.service, []);
    if (e.type === 'build.output') { const lines = output.get(e.service); if (lines && lines.length < 40) lines.push(e.line); }
    if (e.type === 'build.failed') problems.set('build ' + e.service, e.service + ' g' + e.generation + ': ' + e.message + '\\n' + e.locations.join('\\n') + '\\n\\n' + (output.get(e.service) || []).join('\\n'));
    if (e.type === 'reload.failed') problems.set('build ' + e.service, e.service + ' g' + e.generation + ': ' + e.message + ' [' + e.code + ']');
    if (e.type === 'reload.ready') { problems.delete('build ' + e.service); reloads.push({ ...e, phases: { ...e.phases } }); if (reloads.length > 50) reloads.shift(); showTimeline(); }
    // The generation a reload replaced drained: its time ends that reload's bar.
    if (e.type === 'generation.drained') { const r = reloads.find((r) => r.service === e.service && r.generation > e.generation && r.phases.drain === undefined); if (r) { r.phases.drain = e.ms; showTimeline(); } }
    if (e.type === 'config.rejected') problems.set('config ' + e.service, e.service + ': ' + e.file + (e.line ? ':' + e.line + ':' + e.col : '') + ': ' + e.message + ' (the running generation keeps the last good config)');
    if (e.type === 'config.accepted') problems.delete('config ' + e.service);
    if (e.type.startsWith('rollout.')) note(e.service, e.canary, e.stable, e.share, e.window);
    if (e.type === 'airlock-yaml.rejected') problems.set('airlock.yaml', 'airlock.yaml: ' + e.message + '\\n' + e.details.join('\\n'));
    if (e.type === 'airlock-yaml.applied') problems.delete('airlock.yaml');
    showProblems();
    soon();
  };
})();
`;
