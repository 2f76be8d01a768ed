import { defineConfig } from '@playwright/test'
import { fileURLToPath } from 'node:url'

/**
 * Browser tests against `ruxue serve` (embedded mode, sandbox, built client) in Debian's
 * Chromium. RUXUE_PYTHON is the Python with Ruxue installed (the nox web session sets it).
 */
const port = Number(process.env.RUXUE_WEB_PORT ?? 8765)
const python = process.env.RUXUE_PYTHON ?? 'python3'
const here = fileURLToPath(new URL('.', import.meta.url))

export default defineConfig({
  testDir: './e2e',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  workers: 1,
  fullyParallel: false,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    locale: 'zh-CN',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    command: `${python} e2e/sandbox.py --data-dir e2e/.run/var --port ${port} --families e2e/.run/families.json`,
    cwd: here,
    url: `http://127.0.0.1:${port}/healthz`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: 'pipe',
  },
})
