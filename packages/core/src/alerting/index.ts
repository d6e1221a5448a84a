export { Alerting, type AlertingStats, type AlertSnapshotSource, alerting } from './alerting.js';
export { type AlertLogger, describeAlert, logHandler, webhookHandler } from './handlers.js';
export {
  ALERTING_DEFAULTS,
  type Alert,
  type AlertHandler,
  type AlertHandlerOptions,
  type AlertHistoryFilter,
  type AlertingOptions,
  type AlertingStartOptions,
  type AlertOp,
  type AlertSeverity,
  RULE_DEFAULTS,
  type Rule,
  type RuleOptions,
  WEBHOOK_DEFAULTS,
  type WebhookFetch,
  type WebhookOptions,
} from './options.js';
export { defaultRules, rule } from './rule.js';
