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
  // esbuild simplifies the syntax (names, whitespace and layout kept), as core's, express's and
  // koa's builds do: the same code, smaller.
  minifySyntax: true,
});
