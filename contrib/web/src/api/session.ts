/** Bearer tokens, one per realm: a guardian's unified-identity session, a staff session. */
import { ref, type Ref } from 'vue'

export type Realm = 'guardian' | 'staff'

const KEY: Record<Realm, string> = { guardian: 'ruxue.guardian', staff: 'ruxue.staff' }

function read(realm: Realm): string | null {
  return sessionStorage.getItem(KEY[realm])
}

/** The current token of each realm, reactive so pages re-render on sign-in and sign-out. */
export const tokens: Record<Realm, Ref<string | null>> = {
  guardian: ref(read('guardian')),
  staff: ref(read('staff')),
}

/** Keep a realm's token (null signs out locally). */
export function setToken(realm: Realm, token: string | null): void {
  if (token) sessionStorage.setItem(KEY[realm], token)
  else sessionStorage.removeItem(KEY[realm])
  tokens[realm].value = token
}
