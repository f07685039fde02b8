export * from './SpiderRoutes';
export * from './SpiderPage';
