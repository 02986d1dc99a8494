/**
 * The script live reload adds to pages (served at PREFIX/client.js). It follows the
 * service over server-sent events: `hello` says which generation serves (a page that
 * reconnects to a newer one reloads: it missed a reload), `reload` comes once a new
 * generation is ready and serving (`css` when only stylesheets changed: they are
 * fetched again and the page keeps its state), `failed` shows the compiler's errors over the page
 * until the next good build reloads it. Plain DOM, no dependencies.
 */
export function clientScript(prefix: string): string {
  return `(() => {
  if (window.__airlockLiveReload) return;
  window.__airlockLiveReload = true;
  let serving;
  const source = new EventSource(${JSON.stringify(`${prefix}events`)});
  source.addEventListener('hello', (event) => {
    const generation = JSON.parse(event.data).generation;
    if (serving !== undefined && generation !== serving) location.reload();
    serving = generation;
  });
  source.addEventListener('reload', () => location.reload());
  source.addEventListener('css', (event) => {
    serving = JSON.parse(event.data).generation;
    for (const link of document.querySelectorAll('link[rel="stylesheet"]')) {
      const url = new URL(link.href, location.href);
      if (url.origin !== location.origin) continue;
      url.searchParams.set('airlock', String(serving));
      link.href = url.href;
    }
  });
  source.addEventListener('failed', (event) => show(JSON.parse(event.data)));
  function show(failure) {
    let overlay = document.getElementById('airlock-build-failed');
    if (!overlay) {
      overlay = document.createElement('div');
      overlay.id = 'airlock-build-failed';
      overlay.setAttribute('role', 'alert');
      overlay.setAttribute('style', 'position:fixed;inset:0;z-index:2147483647;overflow:auto;background:rgba(24,24,27,.96);color:#fafafa;font:14px/1.5 ui-monospace,monospace;padding:24px');
      (document.body || document.documentElement).appendChild(overlay);
    }
    overlay.textContent = '';
    const title = document.createElement('h2');
    title.textContent = 'Build failed: ' + failure.service + ' g' + failure.generation + ' (the page reloads after the next good build)';
    title.setAttribute('style', 'color:#f87171;font-size:16px;margin:0 0 12px');
    const where = document.createElement('ul');
    for (const location of failure.locations) {
      const item = document.createElement('li');
      item.textContent = location;
      where.appendChild(item);
    }
    const output = document.createElement('pre');
    output.textContent = failure.message + '\\n\\n' + failure.output.join('\\n');
    output.setAttribute('style', 'white-space:pre-wrap;margin:12px 0 0');
    overlay.append(title, where, output);
  }
})();
`;
}
