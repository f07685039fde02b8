import {
  coreServices,
  createBackendPlugin,
} from '@backstage/backend-plugin-api';
import { catalogServiceRef } from '@backstage/plugin-catalog-node';
import { signalsServiceRef } from '@backstage/plugin-signals-node';
import {
  AGENT_WEBSOCKET_PATH,
  spiderPermissions,
} from '@spider/backstage-plugin-spider-common';
import { applyDatabaseMigrations } from './store/migrations';
import { DatabaseControllersStore } from './store/ControllersStore';
import { DatabaseWhisperersStore } from './store/WhisperersStore';
import { DatabaseAttachmentsStore } from './store/AttachmentsStore';
import { DatabaseSharesStore } from './store/SharesStore';
import { DatabaseInventoryStore } from './store/InventoryStore';
import { DatabaseTrafficStore } from './store/DatabaseTrafficStore';
import { TrafficIngest } from './traffic/TrafficIngest';
import { TrafficSignals } from './traffic/TrafficSignals';
import { scheduleTrafficRetention } from './traffic/TrafficRetentionTask';
import {
  controllerPermissionRules,
  controllerResourceRef,
} from './access/rules';
import { ControllerAccess } from './access/ControllerAccess';
import { AgentGateway } from './agents/AgentGateway';
import { AuditLog } from './audit/AuditLog';
import { SpiderEvents } from './events/SpiderEvents';
import { ExpiryLoop } from './expiry/ExpiryLoop';
import { createRouter } from './service/router';
import { createSpiderServices, SpiderServices } from './service/SpiderServices';
import { loadControllerResources } from './access/controllerResources';
import { readSpiderConfig } from './config';
import { auditRefusals } from './audit/auditRefusals';
import { readAllowedImages } from './access/imageAllowList';

/** The Spider Controls service. */
export const spiderPlugin = createBackendPlugin({
  pluginId: 'spider',
  register(env) {
    env.registerInit({
      deps: {
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        database: coreServices.database,
        httpRouter: coreServices.httpRouter,
        httpAuth: coreServices.httpAuth,
        userInfo: coreServices.userInfo,
        permissions: coreServices.permissions,
        permissionsRegistry: coreServices.permissionsRegistry,
        auditor: coreServices.auditor,
        lifecycle: coreServices.lifecycle,
        discovery: coreServices.discovery,
        scheduler: coreServices.scheduler,
        signals: signalsServiceRef,
        catalog: catalogServiceRef,
      },
      async init(deps) {
        const settings = await readSpiderConfig(deps.config, deps.discovery);
        const db = await applyDatabaseMigrations(deps.database);
        const controllers = new DatabaseControllersStore(db);
        const whisperers = new DatabaseWhisperersStore(db);
        const attachments = new DatabaseAttachmentsStore(db);
        const shares = new DatabaseSharesStore(db);
        const inventory = new DatabaseInventoryStore(db);
        const events = new SpiderEvents(deps.signals, deps.logger);
        const traffic = new DatabaseTrafficStore(db);
        const trafficSignals = new TrafficSignals(deps.signals, deps.logger);
        const trafficIngest = new TrafficIngest({
          store: traffic,
          signals: trafficSignals,
          logger: deps.logger.child({ component: 'traffic-ingest' }),
          findAttachment: async id => {
            const a = await attachments.get(id);
            return (
              a && {
                controllerId: a.controllerId,
                namespace: a.target.namespace,
              }
            );
          },
        });

        deps.permissionsRegistry.addPermissions(spiderPermissions);
        deps.permissionsRegistry.addResourceType({
          resourceRef: controllerResourceRef,
          permissions: spiderPermissions.filter(p => 'resourceType' in p),
          rules: Object.values(controllerPermissionRules),
          getResources: ids =>
            loadControllerResources({ controllers, shares }, ids),
        });
        const access = new ControllerAccess({
          permissions: deps.permissions,
          permissionsRegistry: deps.permissionsRegistry,
          userInfo: deps.userInfo,
          controllers,
          shares,
        });
        const gateway = new AgentGateway({
          logger: deps.logger.child({ component: 'agent-gateway' }),
          controllers,
          attachments,
          inventory,
          events,
          maxConnections: settings.maxConnections,
          traffic: trafficIngest,
          trustedProxy: settings.trustedProxy,
        });
        const audit = new AuditLog(db, deps.auditor);
        // The loop and the attachments service call each other: the loop reports what
        // expired, the service wakes the loop for a new deadline.
        let services: SpiderServices | undefined = undefined;
        const expiry = new ExpiryLoop({
          attachments,
          logger: deps.logger.child({ component: 'expiry' }),
          intervalMs: settings.expiryCheckIntervalMs,
          onExpired: a => {
            services?.attachments
              .expired(a)
              .catch(err =>
                deps.logger.warn(`Could not audit expiry of ${a.id}: ${err}`),
              );
          },
        });

        services = createSpiderServices({
          logger: deps.logger,
          permissions: deps.permissions,
          catalog: deps.catalog,
          controllers,
          whisperers,
          attachments,
          shares,
          inventory,
          traffic,
          access,
          gateway,
          audit,
          events,
          pokeExpiry: at => expiry.poke(at),
          allowedImages: readAllowedImages(deps.config),
          install: settings.install,
          maxTimeToLiveMs: settings.maxTimeToLiveMs,
          attachmentLimits: settings.attachmentLimits,
          requestTimeoutMs: settings.requestTimeoutMs,
        });
        deps.httpRouter.use(
          await createRouter({
            logger: deps.logger,
            httpAuth: deps.httpAuth,
            services,
          }),
        );
        // After the REST router: every refused change is audited, the answer unchanged.
        deps.httpRouter.use(
          auditRefusals({
            audit,
            httpAuth: deps.httpAuth,
            onError: e =>
              deps.logger.warn(`Could not audit a refused request: ${e}`),
          }),
        );
        deps.httpRouter.addWebSocketHandler({
          path: AGENT_WEBSOCKET_PATH,
          authPolicy: 'unauthenticated',
          handler: ({ request, socket, head }) =>
            gateway.handleUpgrade(request, socket, head),
        });

        await scheduleTrafficRetention({
          scheduler: deps.scheduler,
          store: traffic,
          limits: settings.traffic.retention,
          frequency: settings.traffic.retentionCheckInterval,
          logger: deps.logger.child({ component: 'traffic-retention' }),
        });

        deps.lifecycle.addStartupHook(() => {
          gateway.start();
          expiry.start();
        });
        deps.lifecycle.addShutdownHook(async () => {
          expiry.stop();
          await gateway.stop();
          trafficSignals.stop();
        });
      },
    });
  },
});
