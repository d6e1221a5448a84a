import { runHttpConformance } from '@resilience/http-conformance';
import express from 'express';
import { expressAdapter } from './testing/conformance-adapter.js';

runHttpConformance(expressAdapter('express 5', express));
