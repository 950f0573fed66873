/**
 * The before/after page in a real headless Chromium (Debian's `chromium`, driven by playwright-core; no
 * browser download): upload a JPEG, see original and restoration under the split slider, drag it, zoom,
 * pick another image from the bucket. Screenshots are kept under test-artifacts/ (or $UNJPEG_ARTIFACTS).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { type CdnStack, makeJpeg, startCdnStack } from "../integration/cdn-stack.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = resolve(process.env["UNJPEG_ARTIFACTS"] ?? "test-artifacts");
const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium) to run the page tests`;

describe("before/after page in Chromium", { skip }, () => {
  let stack: CdnStack;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  before(async () => {
    stack = await startCdnStack({ page: true });
    profile = await mkdtemp(join(tmpdir(), "unjpeg-chromium-"));
    // A new empty profile (--user-data-dir) per run: playwright passes it with a persistent context.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 820 },
      deviceScaleFactor: 1,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    await mkdir(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await context?.close();
    await stack?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it("uploads a JPEG and shows original and restoration under a draggable split", async () => {
    const response = await page.goto(`${stack.url}/`);
    assert.equal(response?.url(), `${stack.url}/_unjpeg/`);
    await page.waitForFunction(`document.getElementById("health").textContent.includes("model-random")`);

    await page.setInputFiles("#file", {
      name: "street q10.jpg",
      mimeType: "image/jpeg",
      buffer: Buffer.from(await makeJpeg(10, 320, 200, 11)),
    });
    await page.waitForSelector("#facts:not([hidden])", { timeout: 60_000 });
    assert.equal(await page.textContent("#title"), "uploads/street q10.jpg");
    assert.equal(await page.textContent("#fact-quality"), "10");
    assert.equal(await page.textContent("#fact-model"), "model-random@0.0.0-random");
    assert.equal(await page.textContent("#fact-action"), "restored");
    assert.match((await page.textContent("#fact-restore")) ?? "", /^\d+ ms$/);
    const sizes = await page.evaluate(`["before", "after"].map((id) => {
      const img = document.getElementById(id);
      return [img.complete, img.naturalWidth, img.naturalHeight, img.getBoundingClientRect().width > 0];
    })`);
    assert.deepEqual(sizes, [
      [true, 320, 200, true],
      [true, 320, 200, true],
    ]);
    // The two images differ (the restoration is not the original shown twice).
    const differ = (await page.evaluate(`(() => {
      const pixels = (id) => {
        const img = document.getElementById(id);
        const canvas = new OffscreenCanvas(img.naturalWidth, img.naturalHeight);
        const context = canvas.getContext("2d");
        context.drawImage(img, 0, 0);
        return context.getImageData(0, 0, img.naturalWidth, img.naturalHeight).data;
      };
      const a = pixels("before");
      const b = pixels("after");
      let total = 0;
      for (let i = 0; i < a.length; i++) total += Math.abs(a[i] - b[i]);
      return total / a.length;
    })()`)) as number;
    assert.ok(differ > 0.5, `mean abs difference ${differ}`);
    await page.screenshot({ path: join(ARTIFACTS, "page-split-50.png") });

    // Drag the split from the middle to a quarter of the width.
    const stage = (await page.locator("#stage").boundingBox())!;
    await page.mouse.move(stage.x + stage.width / 2, stage.y + stage.height / 2);
    await page.mouse.down();
    await page.mouse.move(stage.x + stage.width / 4, stage.y + stage.height / 2, { steps: 5 });
    await page.mouse.up();
    const split = Number(await page.getAttribute("#handle", "aria-valuenow"));
    assert.ok(Math.abs(split - 25) <= 1, `split at ${split}`);
    const clip = (await page.evaluate(
      `getComputedStyle(document.getElementById("after")).clipPath`,
    )) as string;
    assert.match(clip, /inset\(0(px)? 0(px)? 0(px)? 25(\.\d+)?%\)/);
    const handle = (await page.locator("#handle").boundingBox())!;
    assert.ok(Math.abs(handle.x - (stage.x + stage.width / 4)) <= 3);
    await page.keyboard.press("Tab"); // keyboard control of the same slider
    await page.focus("#handle");
    await page.keyboard.press("ArrowRight");
    assert.ok(Number(await page.getAttribute("#handle", "aria-valuenow")) > split);
    await page.screenshot({ path: join(ARTIFACTS, "page-split-dragged.png") });
  });

  it("zooms both images together", async () => {
    await page.selectOption("#zoom", "4");
    const width = (await page.evaluate(
      `document.getElementById("stage").getBoundingClientRect().width`,
    )) as number;
    assert.equal(Math.round(width), 1280);
    // The zoomed image scrolls inside the viewer; the page itself does not widen.
    const overflow = (await page.evaluate(
      `document.documentElement.scrollWidth - document.documentElement.clientWidth`,
    )) as number;
    assert.equal(overflow, 0);
    await page.screenshot({ path: join(ARTIFACTS, "page-zoom-400.png") });
    await page.selectOption("#zoom", "fit");
  });

  it("picks a JPEG already in the bucket", async () => {
    await stack.put("photos/harbour.jpg", await makeJpeg(95, 240, 160, 5));
    await page.click("#refresh");
    await page.click('button[data-key="photos/harbour.jpg"]');
    await page.waitForFunction(`document.getElementById("title").textContent === "photos/harbour.jpg"`);
    await page.waitForSelector("#facts:not([hidden])");
    assert.equal(await page.textContent("#fact-action"), "not restored (high-quality)");
    assert.equal(await page.textContent("#fact-quality"), "95");
    assert.equal(await page.evaluate(`document.getElementById("after").naturalWidth`), 240);
    await page.screenshot({ path: join(ARTIFACTS, "page-picked-high-quality.png") });
  });
});
