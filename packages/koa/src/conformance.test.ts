import { runHttpConformance } from '@resilience/http-conformance';
import { koaAdapter } from './testing/conformance-adapter.js';

runHttpConformance(koaAdapter);
