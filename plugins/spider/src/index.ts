/**
 * Spider for Backstage: attach traffic-capture whisperers to Kubernetes workloads
 * from the portal. This entry point is for the legacy frontend system; the new one
 * is under `/alpha`.
 *
 * @packageDocumentation
 */
export {
  spiderPlugin,
  SpiderPage,
  EntityTrafficCaptureContent,
  EntityTrafficCaptureCard,
} from './plugin';
export { isSpiderAvailable } from './components/EntityTrafficCapture/conditions';
export {
  rootRouteRef,
  controllerRouteRef,
  whispererRouteRef,
  attachmentRouteRef,
  exchangeRouteRef,
} from './routes';
export { spiderApiRef } from './api/SpiderApi';
export type {
  SpiderApi,
  AttachmentQuery,
  WorkloadQuery,
  InstallQuery,
  InstallInstructions,
  NamespaceList,
  TrafficFilterQuery,
  TrafficPageQuery,
  TrafficMapQuery,
} from './api/SpiderApi';
export { SpiderClient } from './api/SpiderClient';
export { AttachDialog } from './components/AttachDialog/AttachDialog';
export type { AttachDialogInitial } from './components/AttachDialog/AttachDialog';
