/**
 * Types, validation schemas, the agent protocol and permissions shared by Spider's
 * frontend, backend and cluster agent.
 *
 * @packageDocumentation
 */
export * from './model/duration';
export * from './model/kubernetes';
export * from './model/imageAllowList';
export * from './model/grantChange';
export * from './model/namespaceScope';
export * from './model/signals';
export * from './model/resources';
export * from './rest/schemas';
export * from './protocol/v1';
export * from './protocol/desiredChunks';
export * from './traffic/exchange';
export * from './traffic/exchangeValidator';
export * from './traffic/rest';
export * from './permissions';
export * from './install';
