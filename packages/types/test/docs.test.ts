import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { docsPath, specPath } from "@jobs-api/types/files";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../../../test-support/chromium.js";

interface Spec {
  tags: { name: string }[];
  paths: Record<string, Record<string, { summary: string; tags: string[] }>>;
}
const spec = JSON.parse(readFileSync(specPath, "utf8")) as Spec;
const operations = Object.values(spec.paths).flatMap((item) => Object.values(item));

describe("the published API docs", () => {
  let browser: Browser;

  beforeAll(async () => {
    expect(existsSync(docsPath), `${docsPath} is missing: run \`pnpm generate\``).toBe(true);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("render offline every operation, without console errors", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // A ceiling, not a wait: the whole suite shares two cores with this browser.
    page.setDefaultTimeout(15_000);
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    // Any request off the file proves the page is not self-contained.
    page.on("request", (request) => {
      if (!/^(file|data|blob):/.test(request.url())) problems.push(`request to ${request.url()}`);
    });

    await page.goto(pathToFileURL(docsPath).href);
    expect(await page.title()).toBe("GitLab CI Jobs API");
    // The page is server-rendered, then hydrated: a click before hydration is lost. The search box says
    // "Loading..." until then.
    await page.waitForFunction(
      () => document.querySelector("[data-testid=search-trigger]")?.textContent?.includes("Search") === true,
    );

    // Redoc lists a tag's operations in the menu once the tag is opened; waiting for each one (instead of
    // reading the menu once) leaves the re-render no race to win.
    const menu = page.locator('[data-component-name="Menu/Menu"]').first();
    expect(operations).toHaveLength(14);
    const tagNames = spec.tags.map((tag) => tag.name);
    for (const operation of operations) expect(tagNames).toContain(operation.tags[0]);
    for (const tag of spec.tags) {
      await menu.getByText(tag.name, { exact: true }).click();
      for (const operation of operations.filter((candidate) => candidate.tags.includes(tag.name))) {
        await menu.getByText(operation.summary, { exact: true }).waitFor();
      }
    }

    mkdirSync("test-results", { recursive: true });
    await page.screenshot({ path: "test-results/docs.png" });
    expect(problems).toEqual([]);
  });

  it("show request samples (curl, then TypeScript), queries GitLab takes, and no stray markup", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.setDefaultTimeout(15_000);
    await page.goto(`${pathToFileURL(docsPath).href}#tag/Project-jobs/operation/listProjectJobs`);
    await page.waitForFunction(
      () => document.querySelector("[data-testid=search-trigger]")?.textContent?.includes("Search") === true,
    );

    // The request samples panel: curl first, TypeScript one click away.
    const samples = page
      .locator(".panel-request-samples")
      .filter({ hasText: "GET/projects/{id}/jobs" })
      .first();
    await expect.poll(() => samples.textContent()).toContain("curl --globoff");
    await samples.getByRole("button", { name: "curl" }).click();
    await page.getByRole("menuitem", { name: "TypeScript" }).click();
    await expect.poll(() => samples.textContent()).toContain("await gitlab.listProjectJobs(");

    // The scope parameter shows queries GitLab takes, never Redoc's `scope=["failed"]` for an array example.
    const scope = page.locator('[id$="/t=request&in=query&path=scope"]').first();
    expect(await scope.textContent()).toContain("scope[]=failed");
    // biome-ignore lint/performance/useDomNodeTextContent: what the reader sees, not the page's script
    expect(await page.locator("body").innerText()).not.toMatch(/scope=\[/);

    // Server descriptions are plain text in Redoc: no Markdown backticks may show.
    await page.goto(pathToFileURL(docsPath).href);
    await page.getByText("The jobs-api reference server", { exact: false }).first().waitFor();
    await page.getByText("Show 1 variable").first().click();
    await page.getByText("Host name of the GitLab instance", { exact: false }).first().waitFor();
    // biome-ignore lint/performance/useDomNodeTextContent: what the reader sees, not the page's script
    expect(await page.locator("body").innerText()).not.toContain("`");

    // The "API docs by" badge shows an image with something in it (Redoc's own is on a CDN).
    const logo = page.locator('img[alt="redocly logo"]').first();
    await logo.waitFor();
    expect(await logo.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(1);
    await page.close();
  });
});
