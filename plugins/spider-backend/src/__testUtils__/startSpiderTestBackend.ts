import { createServer } from 'node:net';
import { createBackend } from '@backstage/backend-defaults';
import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import {
  coreServices,
  createServiceFactory,
} from '@backstage/backend-plugin-api';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { Entity } from '@backstage/catalog-model';
import knexFactory, { Knex } from 'knex';
import request from 'supertest';
import { spiderDefaultPolicyModule } from '../access/spiderDefaultPolicyModule';
import { spiderPlugin } from '../plugin';
import permissionBackendPlugin from '@backstage/plugin-permission-backend';
import eventsBackendPlugin from '@backstage/plugin-events-backend';
import signalsBackendPlugin from '@backstage/plugin-signals-backend';

/** Who belongs to which group in tests (ownership refs the policy sees). */
export const TEST_GROUPS: Record<string, string[]> = {
  'user:default/owner': [],
  'user:default/bob': ['group:default/team-b'],
  'user:default/carol': ['group:default/team-c'],
  'user:default/nobody': [],
};

/**
 * Mock identity, except that a plugin acting for a user sends a user token carrying an
 * actor, as real Backstage does: the permission backend refuses conditional requests
 * from users acting directly.
 */
const authFactory = createServiceFactory({
  service: coreServices.auth,
  deps: { plugin: coreServices.pluginMetadata },
  factory: ({ plugin }) => {
    const mock = mockServices.auth({ pluginId: plugin.getId() });
    return Object.assign(Object.create(mock), {
      authenticate: mock.authenticate.bind(mock),
      isPrincipal: mock.isPrincipal.bind(mock),
      getNoneCredentials: mock.getNoneCredentials.bind(mock),
      getOwnServiceCredentials: mock.getOwnServiceCredentials.bind(mock),
      getLimitedUserToken: mock.getLimitedUserToken.bind(mock),
      listPublicServiceKeys: mock.listPublicServiceKeys.bind(mock),
      async getPluginRequestToken(options: any) {
        const p = options.onBehalfOf.principal;
        if (p.type === 'user') {
          return {
            token: mockCredentials.user.token(p.userEntityRef, {
              actor: { subject: `plugin:${plugin.getId()}` },
            }),
          };
        }
        return mock.getPluginRequestToken(options);
      },
    });
  },
});

const userInfoFactory = createServiceFactory({
  service: coreServices.userInfo,
  deps: {},
  factory: () => ({
    async getUserInfo(credentials: any) {
      const ref = credentials.principal.userEntityRef as string;
      return {
        userEntityRef: ref,
        ownershipEntityRefs: [ref, ...(TEST_GROUPS[ref] ?? [])],
      };
    },
  }),
});

/**
 * The given database for Spider, and another for every other plugin: each plugin runs its
 * own migrations, and they must not share one migrations table.
 */
function databaseFactory(spiderKnex: Knex, eventsKnex: Knex | undefined) {
  return createServiceFactory({
    service: coreServices.database,
    deps: {
      plugin: coreServices.pluginMetadata,
      lifecycle: coreServices.lifecycle,
    },
    factory: ({ plugin, lifecycle }) => {
      let knex = plugin.getId() === 'spider' ? spiderKnex : undefined;
      if (!knex && plugin.getId() === 'events') knex = eventsKnex;
      if (!knex) {
        const own = knexFactory({
          client: 'better-sqlite3',
          connection: ':memory:',
          useNullAsDefault: true,
        });
        lifecycle.addShutdownHook(() => own.destroy());
        knex = own;
      }
      const client = knex;
      return { getClient: async () => client, migrations: { skip: false } };
    },
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * Starts a real Backstage backend (the production HTTP stack, so WebSocket upgrades go
 * through httpRouter.addWebSocketHandler as in a portal) with the permission backend,
 * Spider's default policy and the Spider plugin, on the given database. Only identity
 * (mock user tokens), the catalog's content and logging are test doubles.
 */
export async function startSpiderTestBackend(options: {
  knex: Knex;
  config?: Record<string, unknown>;
  entities?: Entity[];
  /**
   * Database of the events backend (its bus, which carries signals between replicas on
   * PostgreSQL). Default: an in-memory SQLite of this backend alone.
   */
  eventsKnex?: Knex;
  /** Fixed port, e.g. to restart a backend where agents expect it. */
  port?: number;
  /** Address to listen on (default 127.0.0.1; 0.0.0.0 for agents in a real node's pods). */
  listenHost?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** `permission.enabled` (default true); false: the framework answers ALLOW to everything. */
  permissionEnabled?: boolean;
}) {
  const port = options.port ?? (await freePort());
  const baseUrl = `http://127.0.0.1:${port}`;
  const backend = createBackend();
  backend.add(
    mockServices.rootConfig.factory({
      data: {
        backend: {
          baseUrl,
          listen: { port, host: options.listenHost ?? '127.0.0.1' },
        },
        permission: { enabled: options.permissionEnabled ?? true },
        // The bus holds a long poll open this long; shutdown waits for it.
        events: { notifyTimeoutMs: 1000 },
        spider: {
          attachments: { expiryCheckIntervalMs: 500 },
          agents: { requestTimeoutMs: 1500 },
          ...(options.config ?? {}),
        },
      },
    }),
  );
  backend.add(
    mockServices.rootLogger.factory({ level: options.logLevel ?? 'warn' }),
  );
  backend.add(authFactory);
  backend.add(mockServices.httpAuth.factory());
  backend.add(databaseFactory(options.knex, options.eventsKnex));
  backend.add(userInfoFactory);
  backend.add(catalogServiceMock.factory({ entities: options.entities ?? [] }));
  backend.add(permissionBackendPlugin);
  backend.add(spiderDefaultPolicyModule);
  // Signals travel over the events backend's bus, which spans replicas on PostgreSQL.
  backend.add(eventsBackendPlugin);
  backend.add(signalsBackendPlugin);
  backend.add(spiderPlugin);
  await backend.start();

  const http = () => request(baseUrl);
  const as = (user: string) => {
    const auth = mockCredentials.user.header(user);
    return {
      get: (path: string) =>
        http().get(`/api/spider${path}`).set('Authorization', auth),
      post: (path: string, body?: unknown) =>
        http()
          .post(`/api/spider${path}`)
          .set('Authorization', auth)
          .send(body as any),
      patch: (path: string, body?: unknown) =>
        http()
          .patch(`/api/spider${path}`)
          .set('Authorization', auth)
          .send(body as any),
      put: (path: string, body?: unknown) =>
        http()
          .put(`/api/spider${path}`)
          .set('Authorization', auth)
          .send(body as any),
      delete: (path: string) =>
        http().delete(`/api/spider${path}`).set('Authorization', auth),
    };
  };
  return {
    backend,
    port,
    baseUrl,
    agentUrl: `ws://127.0.0.1:${port}/api/spider/agent/v1`,
    as,
    stop: () => backend.stop(),
  };
}
