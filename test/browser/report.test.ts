/**
 * The eval-pipeline HTML report in headless Chromium (Debian's chromium, driven by
 * playwright-core): it renders, logs no console errors, and the screenshot is not blank.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';

import { runCli, sharedDir, tempDir } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const trec = join(sharedDir, 'data', 'trec-dl-2019');
const dir = tempDir();
afterAll(() => dir.cleanup());

describe('eval-pipeline --report', () => {
  it('renders in headless Chromium without console errors, with charts on screen', async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing (Debian package chromium; scripts/setup.sh installs it)`).toBe(true);
    const report = join(dir.path, 'report.html');
    const run = runCli([
      'eval-pipeline', '--data', trec, '--run', join(trec, 'runs', 'bm25.trec'),
      '--reranker-run', join(trec, 'runs', 'tas-b.trec'), '--report', report,
    ]);
    expect(run.status, run.stderr).toBe(0);
    const html = readFileSync(report, 'utf8');
    expect(html).not.toMatch(/<script|https?:\/\//); // self-contained

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 1400 } });
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`file://${report}`);
      expect(await page.title()).toMatch(/crossrank eval-pipeline/);
      expect(await page.locator('svg').count()).toBe(2);
      expect(await page.locator('svg rect').count()).toBeGreaterThan(43);
      const box = await page.locator('svg').first().boundingBox();
      expect(box!.width).toBeGreaterThan(300);
      const png = PNG.sync.read(await page.screenshot({ fullPage: true }));
      const colors = new Set<number>();
      for (let i = 0; i < png.data.length; i += 4 * 97) colors.add(png.data.readUInt32BE(i));
      expect(colors.size).toBeGreaterThan(10); // text, green and red bars, blue and orange histograms
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
