import { bundleDashboard } from './bundle.js';

await bundleDashboard();
