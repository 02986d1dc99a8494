import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, fmt, median, Proc, workDir } from './lib.ts';

/**
 * Detect latency of one save, however the editor writes it: a plain write, a shell
 * redirect (truncate, then write), `sed -i` and a temp file renamed over the target
 * (JetBrains, vim with backupcopy=no, many formatters). examples/go-hello under `airlock
 * dev` with the default debounce (50 ms); the detect phase of each reload (first event →
 * handed to the build), 8 spaced saves per style.
 */
export interface SaveStyle {
  readonly style: string;
  readonly detectMs: number[];
  /** Handed on early (an isolated save), out of the saves. */
  readonly early: number;
}

const SAVES = 8;

const STYLES: Record<string, (dir: string, text: string) => void> = {
  'write (one write call)': (dir, text) => rewrite(dir, text, (file, source) => writeFileSync(file, source)),
  'shell redirect (truncate, write)': (dir, text) =>
    rewrite(dir, text, (file, source) => execFileSync('sh', ['-c', 'cat > main.go'], { cwd: dir, input: source }) && file),
  'sed -i (temp file, rename)': (dir, text) => execFileSync('sed', ['-i', `s/const greeting = ".*"/const greeting = "${text}"/`, 'main.go'], { cwd: dir }),
  'temp file renamed over it': (dir, text) =>
    rewrite(dir, text, (file, source) => {
      writeFileSync(`${file}.tmp~`, source);
      renameSync(`${file}.tmp~`, file);
    }),
};

function rewrite(dir: string, text: string, save: (file: string, source: string) => unknown): void {
  const file = join(dir, 'main.go');
  save(file, readFileSync(file, 'utf8').replace(/const greeting = ".*"/, `const greeting = "${text}"`));
}

export async function saveStyles(port: number): Promise<SaveStyle[]> {
  const dir = workDir('save-styles', 'go-hello');
  writeFileSync(join(dir, 'airlock.yaml'), `services:\n  hello:\n    go: { main: . }\n    listen: 127.0.0.1:${port}\n    handoff: proxy\n    health: { http: { path: /healthz } }\n`);
  const airlock = new Proc(process.execPath, [CLI, 'dev', '--log-format', 'json'], dir);
  const results: SaveStyle[] = [];
  try {
    await airlock.waitFor(/"type":"reload\.ready"/);
    for (const [style, save] of Object.entries(STYLES)) {
      const detectMs: number[] = [];
      let early = 0;
      for (let i = 0; i < SAVES; i++) {
        await new Promise((r) => setTimeout(r, 700));
        const ready = airlock.waitFor(/"type":"reload\.ready"/);
        save(dir, `${style} ${i}`);
        const event = JSON.parse(await ready) as { phases: { detect: number }; detectParts?: { confirm?: number } };
        detectMs.push(event.phases.detect);
        if (event.detectParts?.confirm !== undefined) early += 1;
      }
      results.push({ style, detectMs, early });
    }
  } finally {
    await airlock.stop();
  }
  return results;
}

export function saveStyleTable(results: readonly SaveStyle[]): string {
  return [
    `Detect latency by how the editor saves (examples/go-hello, default debounce 50 ms, ${SAVES} saves each, \`npm run bench -- saves\`):`,
    '',
    '| save | detect median (ms) | min–max | handed on early |',
    '| --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.style} | **${fmt(median(r.detectMs))}** | ${fmt(Math.min(...r.detectMs))}–${fmt(Math.max(...r.detectMs))} | ${r.early}/${r.detectMs.length} |`),
  ].join('\n');
}
