import {
  createApiFactory,
  createComponentExtension,
  createPlugin,
  createRoutableExtension,
  discoveryApiRef,
  fetchApiRef,
} from '@backstage/core-plugin-api';
import { spiderApiRef } from './api/SpiderApi';
import { SpiderClient } from './api/SpiderClient';
import {
  attachmentRouteRef,
  controllerRouteRef,
  exchangeRouteRef,
  rootRouteRef,
  whispererRouteRef,
} from './routes';

/**
 * Spider for apps on the legacy frontend system.
 *
 * @public
 */
export const spiderPlugin = createPlugin({
  id: 'spider',
  apis: [
    createApiFactory({
      api: spiderApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) =>
        new SpiderClient({ discoveryApi, fetchApi }),
    }),
  ],
  routes: {
    root: rootRouteRef,
    controller: controllerRouteRef,
    whisperer: whispererRouteRef,
    attachment: attachmentRouteRef,
    exchange: exchangeRouteRef,
  },
});

/**
 * The Spider page (Controllers, Whisperers, Attachments). Mount it on a route, e.g.
 * `<Route path="/spider" element={<SpiderPage />} />`.
 *
 * @public
 */
export const SpiderPage = spiderPlugin.provide(
  createRoutableExtension({
    name: 'SpiderPage',
    component: () =>
      import('./components/SpiderPage/SpiderPage').then(m => m.SpiderPage),
    mountPoint: rootRouteRef,
  }),
);

/**
 * The "Traffic capture" entity tab content. Use with
 * `<EntityLayout.Route path="/traffic-capture" title="Traffic capture" if={isSpiderAvailable}>`.
 *
 * @public
 */
export const EntityTrafficCaptureContent = spiderPlugin.provide(
  createComponentExtension({
    name: 'EntityTrafficCaptureContent',
    component: {
      lazy: () =>
        import(
          './components/EntityTrafficCapture/EntityTrafficCaptureContent'
        ).then(m => m.EntityTrafficCaptureContent),
    },
  }),
);

/**
 * A small card for an entity's overview page, with an Attach button.
 *
 * @public
 */
export const EntityTrafficCaptureCard = spiderPlugin.provide(
  createComponentExtension({
    name: 'EntityTrafficCaptureCard',
    component: {
      lazy: () =>
        import(
          './components/EntityTrafficCapture/EntityTrafficCaptureCard'
        ).then(m => m.EntityTrafficCaptureCard),
    },
  }),
);
