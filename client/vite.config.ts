import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// In dev (`npm run dev:client`), the page talks to a running agent: HEADROOM_AGENT_URL (default the agent's default port).
const agent = process.env.HEADROOM_AGENT_URL ?? 'http://127.0.0.1:8077';

export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/socket.io': { target: agent, ws: true },
      '/api': { target: agent },
    },
  },
});
