export * from './ControllerPage';
