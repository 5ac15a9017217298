/**
 * The console tests' browser: Debian's chromium (installed by scripts/ensure-chromium.sh when missing) driven by
 * playwright-core, with every request and CSP complaint recorded and screenshots written to .artifacts/console/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as OTPAuth from 'otpauth';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const ROOT = new URL('../../../../', import.meta.url).pathname;
export const SHOTS = join(ROOT, '.artifacts/console');
const CHROMIUM = '/usr/bin/chromium';

/** Install Debian's chromium when missing (root, like Postgres and Redis in scripts/ensure-services.sh). */
function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const run = spawnSync('bash', [join(ROOT, 'scripts/ensure-chromium.sh')], { stdio: 'inherit', timeout: 600_000 });
  if (run.status !== 0 || !existsSync(CHROMIUM)) throw new Error('chromium is not installed and could not be');
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** TOTP codes are single-use per 30 s step (window ±1): hand out the next unused step, waiting when none is left. */
export function totpCodes(secret: string) {
  const totp = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(secret),
    digits: 6,
    period: 30,
    algorithm: 'SHA1',
  });
  let last = 0;
  return async (): Promise<string> => {
    for (let i = 0; i < 70; i++) {
      const now = Math.floor(Date.now() / 30_000);
      const step = Math.max(last + 1, now - 1);
      if (step <= now + 1) {
        last = step;
        return totp.generate({ timestamp: step * 30_000 });
      }
      await sleep(1000);
    }
    throw new Error('no TOTP step free within 70 s');
  };
}

export interface ConsoleBrowser {
  /** A fresh browser profile at `width` px (844 px high below 500, else 900). */
  open(width: number, options?: { clipboard?: boolean }): Promise<Page>;
  /** A full-page screenshot to .artifacts/console/<name>.png. */
  shot(page: Page, name: string): Promise<Buffer>;
  /** Every URL any page requested. */
  requests: string[];
  /** Every console message about the Content Security Policy. */
  cspViolations: string[];
  close(): Promise<void>;
}

/** Launch headless chromium; each `open` is its own profile (cookies, storage), recorded. */
export async function launchConsoleBrowser(): Promise<ConsoleBrowser> {
  ensureChromium();
  mkdirSync(SHOTS, { recursive: true });
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  const contexts: BrowserContext[] = [];
  const requests: string[] = [];
  const cspViolations: string[] = [];
  return {
    requests,
    cspViolations,
    async open(width, options = {}) {
      const context = await browser.newContext({ viewport: { width, height: width < 500 ? 844 : 900 } });
      contexts.push(context);
      if (options.clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write']);
      context.on('request', (request) => requests.push(request.url()));
      const page = await context.newPage();
      page.on('console', (message) => {
        if (/content security policy/i.test(message.text())) cspViolations.push(message.text());
      });
      return page;
    },
    shot: (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }),
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
    },
  };
}

/** Sign in on the console's sign-in page; resolves once the navigation shows. */
export async function signIn(page: Page, username: string, password: string, totp?: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  if (totp) await page.getByLabel('Authenticator code (TOTP)').fill(totp);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Console' }).waitFor();
}

/** How far the page scrolls sideways (0 or less: it does not). Evaluated in the page as a string: this file is typed for Node. */
export const sidewaysOverflow = (page: Page) =>
  page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
