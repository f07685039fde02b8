/**
 * Spider controller agent, as a library (tests, benchmarks). The process entry is main.ts.
 */
export { Agent, AGENT_VERSION } from './agent';
export { loadKubeTarget } from './kube/kubeTarget';
export type { AgentOptions } from './agent';
export { loadConfig, ConfigError } from './config/config';
export type { AgentConfig } from './config/config';
export { createLogger } from './log/logger';
export type { Logger } from './log/logger';
export type { PodDirectory, PodIdentity } from './cluster/PodDirectory';
export type {
  WhispererRegistry,
  WhispererConfig,
} from './reconcile/WhispererRegistry';
export { planReconcile } from './reconcile/plan';
