export * from './AttachmentPage';
export * from './AttachmentsPage';
