export * from './conditions';
export * from './EntityTrafficCaptureContent';
export * from './EntityTrafficCaptureCard';
