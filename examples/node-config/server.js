// node-config: serves a greeting from its validated config (config.yaml, checked by
// airlock against config.schema.json) and its environment (.env). Config edits arrive by
// signal and are swapped in whole; the process keeps serving.
import { createServer } from 'node:http';
import { config, onConfigChange } from '@airlock/runtime/config';
import { serve } from '@airlock/runtime/serve';

onConfigChange((next) => console.log(`config now ${JSON.stringify(next)}`));

const server = createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok\n');
  // One snapshot per request: greeting and excited always come from the same version.
  const { greeting, excited } = config();
  res.end(`${greeting}, ${process.env.AUDIENCE ?? 'you'}${excited ? '!' : ''} (generation ${process.env.AIRLOCK_GENERATION ?? '-'})\n`);
});
const { mode } = await serve(server, { port: 3001 });
console.log(`serving (${mode} socket)`);
