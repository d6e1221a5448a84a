export { PIPELINE_DEFAULTS, type PipelineLayer } from './options.js';
export { Pipeline, type PipelineEvent, pipeline } from './pipeline.js';
