export * from './useSpiderPaths';
export * from './time';
export * from './status';
export * from './dialogs';
export * from './ErrorView';
export * from './CopyBlock';
export * from './validation';
