// Runs before `npm test`: the browser and alert-rule tests need two system programs. Say how to get them.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const onPath = (name) => (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, name)));
const chromium = process.env.HEADROOM_CHROMIUM ?? '/usr/bin/chromium';
const missing = [];
if (!existsSync(chromium)) missing.push(`chromium (expected at ${chromium}; or set HEADROOM_CHROMIUM)`);
if (!onPath('promtool')) missing.push('promtool (from the prometheus package)');
if (missing.length > 0) {
  console.error(`npm test needs: ${missing.join(', ')}.\nOn Debian/Ubuntu: sudo apt-get install -y chromium prometheus   (bash .ci/run does everything from scratch)`);
  process.exit(1);
}
