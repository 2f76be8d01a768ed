/** Shared steps: sandbox families, screenshots, the accessibility check, sign-ins. */
import AxeBuilder from '@axe-core/playwright'
import { expect, type Page } from '@playwright/test'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export interface Family {
  username: string; password: string; childName: string; childId: string; guardianName: string
  guardianId: string; phone: string; relationship: 'FATHER' | 'MOTHER' | 'OTHER'; address: string; townshipCode: string
}

export const STAFF_PASSWORD = 'Ruxue-demo-2026'
const SHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url))

/** The sandbox families the server was started with (see e2e/sandbox.py). */
export function families(): Record<'local_owner' | 'wrong_relationship' | 'ambiguous' | 'counter', Family> {
  return JSON.parse(readFileSync(new URL('./.run/families.json', import.meta.url), 'utf-8'))
}

/** Screenshot the page and fail on any serious or critical axe-core violation. */
export async function checkPage(page: Page, name: string): Promise<void> {
  await page.waitForLoadState('networkidle')
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true })
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze()
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(bad.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), name).toEqual([])
}

/** Through the client's login page and the sandbox's unified identity provider. */
export async function guardianSignIn(page: Page, family: Family, next = '/apply'): Promise<void> {
  await page.goto(`/login?next=${encodeURIComponent(next)}`)
  await page.getByRole('button', { name: /统一身份认证登录/ }).click()
  await page.getByLabel('用户名').fill(family.username)
  await page.getByLabel('密码').fill(family.password)
  await page.getByRole('button', { name: '登录' }).click()
  await page.waitForURL((url) => url.pathname === next)
}

export async function staffSignIn(page: Page, username: string): Promise<void> {
  await page.goto('/staff/login')
  await page.getByLabel('用户名').fill(username)
  await page.getByLabel('密码').fill(STAFF_PASSWORD)
  await page.getByRole('button', { name: '登录' }).click()
  await expect(page.getByTestId('staff-who')).toBeVisible()
}
