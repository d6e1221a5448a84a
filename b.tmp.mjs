import { build } from 'esbuild';
const name = process.argv[2];
const r = await build({ stdin: { contents: `export { ${name} } from './dist/index.js';`, resolveDir: process.cwd() }, bundle: true, minify: process.argv[3]!=='raw', format: 'esm', platform: 'node', write: false, logLevel: 'silent' });
console.log(r.outputFiles[0].contents.byteLength); if (process.argv[3]==='raw') console.log(r.outputFiles[0].text);
