/**
 * Dev tool for the GPU check: connects to an agent like a browser does and appends every `attribution`
 * frame (and the connect snapshot's) to a JSON-lines file with its receive time. Bundled with esbuild so it
 * runs where there is no node_modules:  capture_attribution.mjs <agent url> <out.jsonl>
 */
import { appendFileSync } from 'node:fs';
import { io } from 'socket.io-client';

const [url, out] = process.argv.slice(2);
if (!url || !out) {
  process.stderr.write('usage: capture_attribution <agent url> <out.jsonl>\n');
  process.exit(2);
}
const socket = io(url, { transports: ['websocket'], reconnection: true, reconnectionDelay: 200 });
socket.on('connect', () => process.stderr.write(`capture: connected to ${url}\n`));
socket.on('snapshot', (s) => appendFileSync(out, `${JSON.stringify({ receivedMs: Date.now(), snapshot: s.attribution })}\n`));
socket.on('attribution', (frame) => appendFileSync(out, `${JSON.stringify({ receivedMs: Date.now(), frame })}\n`));
process.on('SIGTERM', () => {
  socket.close();
  process.exit(0);
});
