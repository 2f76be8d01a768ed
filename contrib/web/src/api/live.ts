/**
 * Live status of one application. Until the `applicationUpdates` subscription is in the
 * schema this polls every few seconds; when it lands, subscribe through `clients.guardian`
 * (graphql-ws is wired in api/client.ts) and call `refresh` on each event instead.
 */
import { onBeforeUnmount, onMounted } from 'vue'

export const POLL_MS = 4000

/** Call `refresh` now and then on a timer while the component is mounted. */
export function useLiveRefresh(refresh: () => Promise<void>): void {
  let timer: number | undefined
  onMounted(() => {
    void refresh()
    timer = window.setInterval(() => void refresh(), POLL_MS)
  })
  onBeforeUnmount(() => window.clearInterval(timer))
}
