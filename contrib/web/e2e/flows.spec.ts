/**
 * Every role's flow in a real Chromium against `ruxue serve` with the sandbox: guardians on a
 * phone-sized screen, staff on a desktop one. Each page is screenshotted and checked by axe-core.
 * The guardian's flow goes from sign-in to the admitted school: the bureau's placement and
 * publication are done in the back office's pages.
 */
import { devices, expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test'
import { checkPage, families, guardianSignIn, staffSignIn, type Family } from './support'

const PHONE = devices['Pixel 7']
const DESKTOP = { viewport: { width: 1280, height: 900 }, locale: 'zh-CN' }
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
)

test.describe.configure({ mode: 'serial' })

const contexts: BrowserContext[] = []
async function open(browser: Browser, phone: boolean): Promise<Page> {
  const { defaultBrowserType: _ignored, ...phoneOptions } = PHONE
  const context = await browser.newContext(phone ? { ...phoneOptions, locale: 'zh-CN' } : DESKTOP)
  contexts.push(context)
  return context.newPage()
}
test.afterAll(async () => {
  for (const c of contexts) await c.close()
})

let guardianPage: Page
let receiptNo = ''
let queryCode = ''

async function fillApplication(page: Page, family: Family, childId = family.childId): Promise<void> {
  await page.locator('#f-child-name').fill(family.childName)
  await page.locator('#f-child-id').fill(childId)
  await page.locator('#f-guardian-name').fill(family.guardianName)
  await page.locator('#f-guardian-id').fill(family.guardianId)
  await page.locator('#f-phone').fill(family.phone)
  const label = { FATHER: '父亲', MOTHER: '母亲', OTHER: '其他' }[family.relationship]
  await page.getByRole('radio', { name: label }).click()
  await page.locator('#f-township').selectOption(family.townshipCode)
  await page.locator('#f-address').fill(family.address)
  const consent = page.getByRole('checkbox', { name: /本人授权核对/ })
  if ((await consent.getAttribute('aria-checked')) !== 'true') await consent.click()
}

async function apply(page: Page, family: Family): Promise<{ receiptNo: string; queryCode: string }> {
  await fillApplication(page, family)
  await page.getByRole('button', { name: '提交报名' }).click()
  await expect(page.getByTestId('submitted')).toBeVisible()
  const receipt = (await page.getByTestId('receipt-no').textContent()) ?? ''
  const code = (await page.getByTestId('query-code').textContent()) ?? ''
  await page.getByRole('button', { name: '查看办理进度' }).click()
  return { receiptNo: receipt, queryCode: code }
}

async function openCase(page: Page, receipt: string, status: string): Promise<void> {
  await page.goto('/staff')
  await page.locator('#w-status').selectOption(status)
  await page.locator('#w-receipt').fill(receipt)
  await page.getByRole('button', { name: '查询', exact: true }).click()
  await page.getByRole('link', { name: receipt }).click()
  await expect(page.getByTestId('status')).toBeVisible()
}

async function decide(page: Page, decision: '通过' | '退回补正' | '不通过', comment = ''): Promise<void> {
  await page.getByRole('radio', { name: new RegExp(`(^|\\s)${decision}$`) }).click()
  if (comment) await page.locator('#r-comment').fill(comment)
  await page.getByRole('button', { name: '提交审核结论' }).click()
  await expect(page.getByTestId('notice')).toContainText(`已${decision}`)
}

test('service guide and lookup pages, anonymous', async ({ browser }) => {
  const page = await open(browser, true)
  await page.goto('/')
  await expect(page.getByRole('heading', { name: '义务教育入学“一件事”' })).toBeVisible()
  await expect(page.getByText('报名中').first()).toBeVisible()
  await expect(page.getByTestId('service-guide')).toContainText('办理流程')
  await checkPage(page, '01-guide')
  await page.getByRole('button', { name: '学区查询' }).click()
  await expect(page.getByRole('heading', { name: '学区查询', level: 2 })).toBeVisible()
  await page.getByRole('button', { name: '查询', exact: true }).click()
  await expect(page.getByText('请选择乡镇（街道）')).toBeVisible()
  await page.locator('#c-township').selectOption(families().local_owner.townshipCode)
  await page.getByRole('button', { name: '查询', exact: true }).click()
  await expect(page.getByTestId('catchment')).toContainText('小学')
  await checkPage(page, '01b-catchment')
  await page.goto('/')
  await page.getByRole('link', { name: '结果查询' }).first().click()
  await page.getByRole('button', { name: '查询', exact: true }).click()
  await expect(page.getByText('请填写办件编号')).toBeVisible()
  await checkPage(page, '02-lookup-empty')
})

test('a guardian signs in, fills the form over two visits, sees typed errors at their fields, applies and follows the status live', async ({ browser }) => {
  const family = families().local_owner
  guardianPage = await open(browser, true)
  const page = guardianPage
  await page.goto('/login')
  await checkPage(page, '03-login')
  await guardianSignIn(page, family)
  await expect(page.locator('#f-guardian-name')).toHaveValue(family.guardianName)
  await checkPage(page, '04-apply')
  // the browser's own checks first
  await page.locator('#f-guardian-name').fill('')
  await page.getByRole('button', { name: '提交报名' }).click()
  await expect(page.getByText('请填写儿童姓名')).toBeVisible()
  await expect(page.getByText('请填写 11 位手机号码')).toBeVisible()
  await checkPage(page, '05-apply-inline-errors')
  // first visit: part of the form, kept as a draft (startApplication)
  await page.locator('#f-guardian-name').fill(family.guardianName)
  await page.locator('#f-child-name').fill(family.childName)
  await page.locator('#f-phone').fill(family.phone)
  await page.getByRole('button', { name: '保存草稿' }).click()
  await expect(page.getByTestId('draft-notice')).toContainText('草稿已保存')
  // second visit: the draft comes back (myDrafts), personal numbers masked
  await page.reload()
  await expect(page.getByTestId('draft-notice')).toContainText('已载入上次保存的草稿')
  await expect(page.locator('#f-child-name')).toHaveValue(family.childName)
  await expect(page.locator('#f-phone')).toHaveAttribute('placeholder', /已保存：1\d\d\*+/)
  await expect(page.locator('#f-phone')).toHaveValue('')
  await checkPage(page, '05b-apply-draft-resumed')
  // then the API's typed error at its field (updateApplication): a wrong check digit
  const last = family.childId.slice(-1)
  const wrong = family.childId.slice(0, -1) + (last === '0' ? '1' : '0')
  await fillApplication(page, family, wrong)
  await page.getByRole('button', { name: '提交报名' }).click()
  const childIdError = page.locator('.van-field', { has: page.locator('#f-child-id') }).locator('.van-field__error-message')
  await expect(childIdError).toBeVisible()
  await checkPage(page, '06-apply-api-error')
  await page.locator('#f-child-id').fill(family.childId)
  await page.getByRole('button', { name: '提交报名' }).click()
  await expect(page.getByTestId('submitted')).toBeVisible()
  receiptNo = (await page.getByTestId('receipt-no').textContent()) ?? ''
  queryCode = (await page.getByTestId('query-code').textContent()) ?? ''
  expect(receiptNo).not.toBe('')
  await checkPage(page, '07-submitted')
  await page.getByRole('button', { name: '查看办理进度' }).click()
  await expect(page.getByTestId('live')).toHaveText('状态变化将实时显示')
  await expect(page.getByTestId('status')).toHaveText('学校审核', { timeout: 60_000 })
  await expect(page.getByTestId('school')).toContainText('小学')
  await checkPage(page, '08-status-school-review')
  await page.goto('/mine')
  await expect(page.getByText(receiptNo)).toBeVisible()
  await checkPage(page, '09-mine')
  await page.getByText(receiptNo).click()
  await expect(page.getByTestId('status')).toHaveText('学校审核')
  await expect(page.getByTestId('live')).toHaveText('状态变化将实时显示')
})

test('the school reviewer returns it, the guardian corrects it, school and bureau approve; the guardian sees each change live', async ({ browser }) => {
  const school = await open(browser, false)
  await staffSignIn(school, 'school')
  await checkPage(school, '10-staff-worklist')
  await openCase(school, receiptNo, 'SCHOOL_REVIEW')
  await checkPage(school, '11-staff-detail')
  await decide(school, '退回补正', '请核对居住地址的门牌号')
  await expect(guardianPage.getByTestId('status')).toHaveText('退回补正', { timeout: 20_000 })
  await expect(guardianPage.getByTestId('return-comment')).toContainText('请核对居住地址的门牌号')
  await checkPage(guardianPage, '11-status-returned')
  await guardianPage.locator('#c-address').fill(families().local_owner.address)
  await guardianPage.getByRole('button', { name: '重新提交核验' }).click()
  await expect(guardianPage.getByTestId('notice')).toContainText('已重新提交核验')
  await expect(guardianPage.getByTestId('status')).toHaveText('学校审核', { timeout: 60_000 })
  await openCase(school, receiptNo, 'SCHOOL_REVIEW')
  await decide(school, '通过', '材料齐全')
  await expect(school.getByTestId('status')).toHaveText('区审核')
  const bureau = await open(browser, false)
  await staffSignIn(bureau, 'bureau')
  await openCase(bureau, receiptNo, 'BUREAU_REVIEW')
  await decide(bureau, '通过')
  await expect(bureau.getByTestId('status')).toHaveText('审核通过')
  await expect(guardianPage.getByTestId('status')).toHaveText('审核通过', { timeout: 20_000 })
  await checkPage(guardianPage, '12-status-approved')
  await checkPage(bureau, '13-staff-detail-approved')
})

test('the bureau commits and reveals the lottery, runs, compares and publishes; the guardian sees the admission live', async ({ browser }) => {
  const page = await open(browser, false)
  await staffSignIn(page, 'bureau')
  await page.getByRole('link', { name: '派位与公布' }).click()
  await expect(page.getByRole('heading', { name: '学位预警' })).toBeVisible()
  await checkPage(page, '13b-placement')
  await page.getByRole('button', { name: '试运行', exact: true }).click()
  await expect(page.getByTestId('notice')).toContainText('试运行完成')
  await expect(page.getByRole('row', { name: /^试运行 试运行 1 1 0 / })).toBeVisible()
  await page.getByRole('button', { name: '生成派位方案' }).click()
  await expect(page.getByRole('alert')).toContainText('摇号种子尚未公布')
  await page.getByRole('button', { name: '生成种子' }).click()
  await expect(page.locator('#p-seed')).not.toHaveValue('')
  await page.getByRole('button', { name: '公布承诺值' }).click()
  await expect(page.getByTestId('commitment')).toHaveText(/^[0-9a-f]{64}$/)
  await page.getByRole('button', { name: '公布种子' }).click()
  await expect(page.getByTestId('notice')).toContainText('已公布摇号种子')
  await expect(page.getByTestId('seed')).toHaveText(await page.locator('#p-seed').inputValue())
  await page.getByRole('button', { name: '生成派位方案' }).click()
  await expect(page.getByTestId('notice')).toContainText('已生成派位方案')
  await expect(page.getByRole('cell', { name: receiptNo, exact: true })).toBeVisible()
  await page.getByRole('button', { name: '生成派位方案' }).click()
  await expect(page.getByRole('row').filter({ hasText: '待公布' })).toHaveCount(2)
  const ids = await page.locator('#p-first option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value).filter(Boolean))
  const [first = '', second = ''] = ids
  await page.locator('#p-first').selectOption(first)
  await page.locator('#p-second').selectOption(second)
  await page.getByRole('button', { name: '比较', exact: true }).click()
  await expect(page.getByTestId('moves')).toContainText('两个方案结果相同')
  await checkPage(page, '13c-placement-runs')
  await page.getByRole('button', { name: `公布方案 ${first}` }).click()
  await page.getByRole('dialog').getByRole('button', { name: '公布' }).click()
  await expect(page.getByTestId('notice')).toContainText('已公布：录取 1 人')
  await checkPage(page, '13d-placement-published')
  // the guardian's page, open since submission, changes without a reload
  await expect(guardianPage.getByTestId('status')).toHaveText('已录取', { timeout: 20_000 })
  await expect(guardianPage.getByTestId('admitted-school')).toContainText('小学')
  await expect(guardianPage.getByTestId('explanation')).not.toBeEmpty()
  await checkPage(guardianPage, '13e-status-admitted')
  // the admitting school confirms the new pupil came
  const school = await open(browser, false)
  await staffSignIn(school, 'school')
  await openCase(school, receiptNo, 'ADMITTED')
  await school.getByRole('button', { name: '确认报到' }).click()
  await expect(school.getByTestId('notice')).toContainText('已确认报到')
  await expect(school.getByTestId('status')).toHaveText('已报到')
  await expect(guardianPage.getByTestId('status')).toHaveText('已报到', { timeout: 20_000 })
  await expect(guardianPage.getByTestId('explanation')).not.toBeEmpty()
})

test('anyone looks the result up by receipt number and query code', async ({ browser }) => {
  const page = await open(browser, true)
  await page.goto('/lookup')
  await page.locator('#l-receipt').fill(receiptNo)
  await page.locator('#l-code').fill('000000')
  await page.getByRole('button', { name: '查询', exact: true }).click()
  await expect(page.getByTestId('lookup-error').or(page.locator('.van-field__error-message'))).toBeVisible()
  // keyboard only: Tab between the labelled fields, Enter submits
  await page.locator('#l-receipt').fill('')
  await page.locator('#l-code').fill('')
  await page.locator('#l-receipt').focus()
  await page.keyboard.type(receiptNo)
  await page.keyboard.press('Tab')
  await expect(page.locator('#l-code')).toBeFocused()
  await page.keyboard.type(queryCode)
  await page.keyboard.press('Enter')
  await expect(page.getByTestId('lookup-result')).toContainText('已报到')
  await expect(page.getByTestId('lookup-result')).toContainText('小学')
  await checkPage(page, '14-lookup-result')
})

test('a family whose declared relationship the hukou contradicts corrects it', async ({ browser }) => {
  const family = families().wrong_relationship
  const page = await open(browser, true)
  await guardianSignIn(page, family)
  await apply(page, family)
  await expect(page.getByTestId('status')).toHaveText('退回补正', { timeout: 60_000 })
  await expect(page.getByRole('heading', { name: '补正信息' })).toBeVisible()
  await checkPage(page, '15-status-needs-correction')
  const other = family.relationship === 'MOTHER' ? 'FATHER' : 'MOTHER'
  await page.locator('#c-relationship').selectOption(other)
  await page.locator('#c-address').fill(family.address)
  await page.getByRole('button', { name: '重新提交核验' }).click()
  await expect(page.getByTestId('notice')).toContainText('已重新提交核验')
  await expect(page.getByTestId('status')).toHaveText('学校审核', { timeout: 60_000 })
})

test('undecidable data: the guardian uploads what is asked, the counter clerk verifies from the originals', async ({ browser }) => {
  const family = families().ambiguous
  const page = await open(browser, true)
  await guardianSignIn(page, family)
  const ambiguous = await apply(page, family)
  await expect(page.getByTestId('status')).toHaveText('人工核验', { timeout: 60_000 })
  await expect(page.getByRole('heading', { name: '需要提交的材料' })).toBeVisible()
  const input = page.locator('input[type=file]').first()
  await input.setInputFiles({ name: 'hukoubu.png', mimeType: 'image/png', buffer: PNG })
  await page.getByRole('button', { name: /^上传/ }).first().click()
  await expect(page.getByTestId('notice')).toContainText('已上传')
  await checkPage(page, '16-status-manual-review-uploaded')

  const counter = await open(browser, false)
  await staffSignIn(counter, 'counter')
  await openCase(counter, ambiguous.receiptNo, 'MANUAL_REVIEW')
  await expect(counter.getByRole('cell', { name: 'hukoubu.png' })).toBeVisible()
  await expect(counter.getByRole('heading', { name: '窗口登记原件' })).toBeVisible()
  await checkPage(counter, '17-counter-detail')
  // manual verification: which fact, from which original (the upload left no material outstanding)
  const facts = counter.getByRole('group', { name: '凭原件核实的事项' })
  await facts.getByText('户籍', { exact: true }).click()
  await facts.getByText('监护关系', { exact: true }).click()
  await expect(facts.getByRole('checkbox', { checked: true })).toHaveCount(2)
  await counter.locator('#m-paper').selectOption({ index: 1 })
  await counter.getByRole('radio', { name: '核验属实' }).click()
  await checkPage(counter, '17b-manual-verification')
  await counter.getByRole('button', { name: '登记核验结果' }).click()
  await expect(counter.getByTestId('notice')).toContainText('已登记人工核验结果')
  await expect(counter.getByTestId('status')).not.toHaveText('人工核验')
  await expect(page.getByTestId('status')).not.toHaveText('人工核验', { timeout: 20_000 })
})

test('the counter clerk takes a paper application, recording the originals seen', async ({ browser }) => {
  const family = families().counter
  const page = await open(browser, false)
  await staffSignIn(page, 'counter')
  await page.getByRole('link', { name: '窗口受理' }).click()
  await expect(page.getByRole('heading', { name: /按纸质申请表录入/ })).toBeVisible()
  await page.getByRole('button', { name: '受理', exact: true }).click()
  await expect(page.getByText('请填写儿童姓名')).toBeVisible()
  await page.locator('#i-child-name').fill(family.childName)
  await page.locator('#i-child-id').fill(family.childId)
  await page.locator('#i-guardian-name').fill(family.guardianName)
  await page.locator('#i-guardian-id').fill(family.guardianId)
  await page.locator('#i-phone').fill(family.phone)
  await page.locator('#i-relationship').selectOption(family.relationship)
  await page.locator('#i-address').fill(family.address)
  await page.locator('#main').getByRole('checkbox').first().click()
  await page.getByRole('checkbox', { name: '家长已签署纸质授权核对书' }).click()
  await checkPage(page, '18a-counter-intake')
  await page.getByRole('button', { name: '受理', exact: true }).click()
  await expect(page.getByTestId('intake-done')).toBeVisible()
  await expect(page.getByTestId('receipt-no')).not.toBeEmpty()
  await checkPage(page, '18b-counter-intake-done')
  await page.getByRole('link', { name: '查看办件' }).click()
  await expect(page.getByTestId('status')).toBeVisible()
  await expect(page.getByRole('cell', { name: '窗口申报' })).toBeVisible()
})

test('statistics as charts, failed messages and dead jobs', async ({ browser }) => {
  const page = await open(browser, false)
  await staffSignIn(page, 'bureau')
  await page.getByRole('link', { name: '统计' }).click()
  await expect(page.getByTestId('total')).not.toHaveText('0')
  await expect(page.getByRole('img', { name: /按办件状态/ })).toBeVisible()
  await checkPage(page, '18-statistics')
  await page.getByRole('link', { name: '失败短信与任务' }).click()
  await expect(page.getByRole('heading', { name: '发送失败的短信' })).toBeVisible()
  await checkPage(page, '19-operations')
  await page.goto('/staff/login')
  await checkPage(page, '20-staff-login')
})
