import { retry } from '/work/wt/wp8/packages/core/dist/index.js'; console.log(retry);
