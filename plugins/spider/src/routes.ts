import { createRouteRef, createSubRouteRef } from '@backstage/core-plugin-api';

/** Root of the Spider pages (the Controllers list). @public */
export const rootRouteRef = createRouteRef({ id: 'spider' });

/** @public */
export const controllerRouteRef = createSubRouteRef({
  id: 'spider/controller',
  parent: rootRouteRef,
  path: '/controllers/:controllerId',
});

/** @public */
export const whispererRouteRef = createSubRouteRef({
  id: 'spider/whisperer',
  parent: rootRouteRef,
  path: '/whisperers/:whispererId',
});

/** @public */
export const attachmentRouteRef = createSubRouteRef({
  id: 'spider/attachment',
  parent: rootRouteRef,
  path: '/attachments/:attachmentId',
});

/** One captured exchange, shareable. @public */
export const exchangeRouteRef = createSubRouteRef({
  id: 'spider/exchange',
  parent: rootRouteRef,
  path: '/traffic/:exchangeId',
});
