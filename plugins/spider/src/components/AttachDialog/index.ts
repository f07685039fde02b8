export * from './AttachDialog';
export * from './AttachButton';
export * from './WorkloadPicker';
