export * from './WhisperersPage';
export * from './WhispererPage';
export * from './WhispererFormDialog';
export * from './ttl';
