/** Display helpers shared by the pages. */
export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString('zh-CN', { hour12: false }) : '—'
}

export const CHANNEL_LABEL: Record<string, string> = { ONLINE: '网上申报', COUNTER: '窗口申报' }
export const DECISION_LABEL: Record<string, string> = { APPROVE: '通过', RETURN: '退回补正', REJECT: '不通过' }
export const RELATIONSHIP_LABEL: Record<string, string> = { FATHER: '父亲', MOTHER: '母亲', OTHER: '其他监护人' }
export const SOURCE_LABEL: Record<string, string> = {
  hukou: '公安·户籍', residence_permit: '公安·居住证', property: '自然资源·不动产登记', social_insurance: '人社·社保',
}

/** Township options derived from the schools list (code → name). */
export function townships(schools: { townshipCode?: string | null; townshipName?: string | null }[]): { value: string; text: string }[] {
  const seen = new Map<string, string>()
  for (const s of schools) if (s.townshipCode) seen.set(s.townshipCode, s.townshipName ?? s.townshipCode)
  return [...seen].map(([value, text]) => ({ value, text })).sort((a, b) => a.value.localeCompare(b.value))
}

/** Chinese labels of the lifecycle states (the API also sends `statusLabel` on each record). */
export const STATUS_LABEL: Record<string, string> = {
  DRAFT: '草稿', SUBMITTED: '已提交', VERIFYING: '自动核验中', NEEDS_CORRECTION: '退回补正',
  MANUAL_REVIEW: '人工核验', SCHOOL_REVIEW: '学校审核', BUREAU_REVIEW: '区审核', APPROVED: '审核通过',
  REJECTED: '审核不通过', ADMITTED: '已录取', COORDINATING: '统筹中', ENROLLED: '已报到',
  NO_SHOW: '未报到', WITHDRAWN: '已撤回', VOIDED: '作废',
}
