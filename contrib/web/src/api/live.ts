/**
 * Live status of one application over the `applicationUpdates` subscription
 * (graphql-transport-ws, wired in api/client.ts). The server sends the status now, then each
 * change; every event calls `refresh`, which reloads what the page shows. No polling.
 */
import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue'
import { clients } from './client'
import type { Realm } from './session'
import { ApplicationUpdatesSubscription } from '../operations/live'

/** Call `refresh` once now and again on each status change; `live` says the feed is connected. */
export function useLiveUpdates(realm: Realm, id: string, refresh: () => Promise<void>): { live: Ref<boolean> } {
  const live = ref(false)
  let stop: (() => void) | undefined
  onMounted(() => {
    void refresh()
    const subscription = clients[realm].subscription(ApplicationUpdatesSubscription, { id }).subscribe((result) => {
      const update = result.data?.applicationUpdates
      live.value = update?.__typename === 'ApplicationUpdate'
      if (live.value) void refresh()
    })
    stop = () => subscription.unsubscribe()
  })
  onBeforeUnmount(() => stop?.())
  return { live }
}
