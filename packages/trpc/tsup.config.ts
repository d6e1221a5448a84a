import { defineConfig } from 'tsup';

export default defineConfig({
  // Two entries, so a client never loads server code and a server never loads client code.
  entry: ['src/client.ts', 'src/server.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: false,
  target: 'node20',
  treeshake: true,
});
