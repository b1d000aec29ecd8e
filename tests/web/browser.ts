/**
 * Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core for the
 * dashboard tests: a fresh profile per launch, every console error, page error and
 * request recorded, and everything removed by `close()`.
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Where Debian installs Chromium (`apt-get install -y chromium`). */
export const CHROMIUM = "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A running browser with one page and what it recorded. */
export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console messages of type error, and uncaught page errors. */
  errors: string[];
  /** Every URL the pages requested. */
  requests: string[];
  /** Opens another page that records into the same lists. */
  newPage(): Promise<Page>;
  /** Saves a screenshot when CA_SCREENSHOTS names a directory (for people, not asserts). */
  screenshot(page: Page, name: string, fullPage?: boolean): Promise<void>;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

function record(page: Page, errors: string[], requests: string[]): Page {
  page.setDefaultTimeout(15_000);
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("request", (r) => requests.push(r.url()));
  return page;
}

/** True when Chromium is installed; the tests say how to install it otherwise. */
export function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** Launches Chromium with a fresh temporary profile and a desktop-size viewport;
 * `extraArgs` are added to the command line (the media tests' WebRTC and autoplay flags). */
export async function launchBrowser(extraArgs: string[] = []): Promise<TestBrowser> {
  if (!haveChromium()) {
    throw new Error(`${CHROMIUM} not found: apt-get update && apt-get install -y chromium`);
  }
  const profile = await Deno.makeTempDir({ prefix: "ca-test-chromium-" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: [...ARGS, ...extraArgs],
      viewport: { width: 1280, height: 860 },
    });
  } catch (err) {
    await Deno.remove(profile, { recursive: true });
    throw err;
  }
  const errors: string[] = [];
  const requests: string[] = [];
  const page = record(context.pages()[0] ?? await context.newPage(), errors, requests);
  const shots = Deno.env.get("CA_SCREENSHOTS");
  return {
    context,
    page,
    errors,
    requests,
    async newPage() {
      return record(await context.newPage(), errors, requests);
    },
    async screenshot(p, name, fullPage = true) {
      if (!shots) return;
      await Deno.mkdir(shots, { recursive: true });
      await p.screenshot({ path: `${shots}/${name}.png`, fullPage });
    },
    async close() {
      try {
        await context.close();
      } finally {
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      }
    },
  };
}

/** The part of the browser's `window` the page functions below use (no DOM lib here). */
export type BrowserWindow = {
  document: {
    querySelector(selector: string): { textContent: string | null } | null;
  };
};

/** Waits until the text of the first element matching `selector` equals `expected`. */
export async function waitForText(page: Page, selector: string, expected: string): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, want]) =>
        (globalThis as unknown as BrowserWindow).document.querySelector(sel)?.textContent
          ?.trim() === want,
      [selector, expected] as const,
    );
  } catch (err) {
    const actual = await page.locator(selector).first().textContent({ timeout: 100 }).catch(
      () => "(no element)",
    );
    throw new Error(
      `${selector}: expected text ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
      { cause: err },
    );
  }
}

/** The trimmed text of the first element matching `selector`. */
export async function textOf(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent()) ?? "").trim();
}

/** Requests to anything but `origin` (the orchestrator under test). */
export function foreignRequests(requests: readonly string[], origin: string): string[] {
  return requests.filter((url) => new URL(url).origin !== origin);
}
