/** Real Chromium for end-to-end tests (playwright-core, the system's /usr/bin/chromium). */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { TEST_OUTPUT } from './paths.ts';

export const CHROMIUM_PATH = process.env.HEADROOM_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** test-output/<name>.png; the folder is created on demand and ignored by git. */
export function screenshotPath(name: string): string {
  mkdirSync(TEST_OUTPUT, { recursive: true });
  return `${TEST_OUTPUT}${name}.png`;
}
