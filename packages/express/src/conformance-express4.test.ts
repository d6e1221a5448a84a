// Express 4 is supported as well: the same suite against express@4 (body-parser 1, path-to-regexp 0.1).
import { runHttpConformance } from '@resilience/http-conformance';
import type express from 'express';
import express4 from 'express4';
import { expressAdapter } from './testing/conformance-adapter.js';

runHttpConformance(expressAdapter('express 4', express4 as unknown as typeof express));
