// The browser end-to-end check: a shopper claims the demo drop in the UI, pays on the (emulated)
// Stripe Checkout page, comes back and sees the paid order; an admin sees a consistent ledger.
// Run by scripts/ui-check.sh against a whole local stack. Usage: node e2e.cjs <ui url> <png>
const { chromium } = require("playwright-core");

const [uiUrl, screenshot] = process.argv.slice(2);
const TIMEOUT = 120_000;

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(TIMEOUT);
  const failures = [];
  page.on("response", (r) => { if (r.status() >= 500) failures.push(`${r.status()} ${r.url()}`); });
  try {
    await page.goto(uiUrl);
    await page.selectOption("#who", "alice");
    const aurora = page.locator(".drop", { hasText: "Aurora Runner" });
    const claim = aurora.locator(".btn.primary", { hasText: "Claim" });
    await claim.click();
    await page.locator(".hold .timer").waitFor();
    const timer = await page.textContent(".hold .timer");
    if (!/^(09|10):\d\d$/.test(timer)) throw new Error(`hold countdown shows ${timer}`);

    await page.click(".hold .btn.pay");
    await page.waitForURL(/\/pay\/cs_test_/);
    await page.click("button.pay");
    await page.waitForURL((url) => url.toString().startsWith(uiUrl));
    await page.locator(".order .status.paid").waitFor();
    const button = await aurora.locator(".btn.primary").textContent();
    if (button.trim() !== "Yours") throw new Error(`claim button after buying reads "${button}"`);

    await page.selectOption("#who", "admin");
    await aurora.locator(".btn.ghost").click();
    await page.locator(".audit dd.ok").waitFor();
    const ledger = await page.textContent(".audit");
    if (!/sold\s*1/i.test(ledger)) throw new Error(`ledger does not show the sale: ${ledger}`);
    if (failures.length) throw new Error(`server errors: ${failures.join(", ")}`);
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log("ui-e2e: 1 passed, 0 failed");
  } catch (error) {
    await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
    console.error(`ui-e2e failed: ${error.message} (screenshot: ${screenshot})`);
    console.log("ui-e2e: 0 passed, 1 failed");
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
