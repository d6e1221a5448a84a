export { PIPELINE_DEFAULTS, type PipelineLayer } from './options.js';
export { Pipeline, type PipelineEvent, type PipelineSubstitute, pipeline } from './pipeline.js';
