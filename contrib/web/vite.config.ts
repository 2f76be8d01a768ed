import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

/** `npm run dev` proxies the API to a local `ruxue serve` (RUXUE_API, default http://127.0.0.1:8000). */
const api = process.env.RUXUE_API ?? 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [vue()],
  build: { chunkSizeWarningLimit: 1200 },
  server: {
    proxy: {
      '/graphql': { target: api, ws: true },
      '/auth': api,
      '/sandbox': api,
    },
  },
})
