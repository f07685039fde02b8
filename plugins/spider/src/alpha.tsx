import {
  ApiBlueprint,
  createFrontendPlugin,
  discoveryApiRef,
  fetchApiRef,
  PageBlueprint,
  PluginHeaderActionBlueprint,
} from '@backstage/frontend-plugin-api';
import {
  EntityCardBlueprint,
  EntityContentBlueprint,
} from '@backstage/plugin-catalog-react/alpha';
import { convertLegacyRouteRef } from '@backstage/core-compat-api';
import { ReactRouterV6PageRouter } from '@backstage/frontend-adapter-react-router-v6';
import NetworkCheckIcon from '@material-ui/icons/NetworkCheck';
import { spiderApiRef } from './api/SpiderApi';
import { SpiderClient } from './api/SpiderClient';
import { isSpiderAvailable } from './components/EntityTrafficCapture/conditions';
import {
  attachmentRouteRef,
  controllerRouteRef,
  exchangeRouteRef,
  rootRouteRef,
  whispererRouteRef,
} from './routes';

/** @alpha */
export const spiderApi = ApiBlueprint.make({
  params: defineParams =>
    defineParams({
      api: spiderApiRef,
      deps: { discoveryApi: discoveryApiRef, fetchApi: fetchApiRef },
      factory: ({ discoveryApi, fetchApi }) =>
        new SpiderClient({ discoveryApi, fetchApi }),
    }),
});

/** @alpha */
export const spiderPage = PageBlueprint.make({
  params: {
    path: '/spider',
    title: 'Spider',
    icon: <NetworkCheckIcon fontSize="inherit" />,
    routeRef: convertLegacyRouteRef(rootRouteRef),
    loader: () =>
      import('./components/SpiderPage/SpiderRoutes').then(m => (
        <m.SpiderRoutes />
      )),
  },
});

/** The page header's "Attach" action. @alpha */
export const spiderAttachHeaderAction = PluginHeaderActionBlueprint.make({
  name: 'attach',
  params: {
    loader: () =>
      import('./components/AttachDialog/AttachButton').then(m => (
        <ReactRouterV6PageRouter>
          <m.AttachButton />
        </ReactRouterV6PageRouter>
      )),
  },
});

/** The "Traffic capture" tab on components with Kubernetes annotations. @alpha */
export const spiderEntityContent = EntityContentBlueprint.make({
  name: 'traffic-capture',
  params: {
    path: '/traffic-capture',
    title: 'Traffic capture',
    filter: isSpiderAvailable,
    loader: () =>
      import(
        './components/EntityTrafficCapture/EntityTrafficCaptureContent'
      ).then(m => (
        <ReactRouterV6PageRouter>
          <m.EntityTrafficCaptureContent />
        </ReactRouterV6PageRouter>
      )),
  },
});

/** A small card on the component overview with an Attach button. @alpha */
export const spiderEntityCard = EntityCardBlueprint.make({
  name: 'traffic-capture',
  params: {
    filter: isSpiderAvailable,
    loader: () =>
      import('./components/EntityTrafficCapture/EntityTrafficCaptureCard').then(
        m => (
          <ReactRouterV6PageRouter>
            <m.EntityTrafficCaptureCard />
          </ReactRouterV6PageRouter>
        ),
      ),
  },
});

/**
 * Spider for apps on the new frontend system.
 *
 * @alpha
 */
export default createFrontendPlugin({
  pluginId: 'spider',
  title: 'Spider',
  icon: <NetworkCheckIcon fontSize="inherit" />,
  info: { packageJson: () => import('../package.json') },
  routes: {
    root: convertLegacyRouteRef(rootRouteRef),
    controller: convertLegacyRouteRef(controllerRouteRef),
    whisperer: convertLegacyRouteRef(whispererRouteRef),
    attachment: convertLegacyRouteRef(attachmentRouteRef),
    exchange: convertLegacyRouteRef(exchangeRouteRef),
  },
  extensions: [
    spiderApi,
    spiderPage,
    spiderAttachHeaderAction,
    spiderEntityContent,
    spiderEntityCard,
  ],
});

export { isSpiderAvailable };
