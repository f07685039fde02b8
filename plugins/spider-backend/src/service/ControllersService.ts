import {
  BackstageCredentials,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { NotAllowedError } from '@backstage/errors';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import {
  Controller,
  ControllerStatus,
  CreateControllerRequest,
  InstallQuery,
  ListWorkloadsQuery,
  namespaceNameSchema,
  spiderControllerCreatePermission,
  UpdateControllerRequest,
  Workload,
} from '@spider/backstage-plugin-spider-common';
import { ControllersStore } from '../store/ControllersStore';
import { AttachmentsStore } from '../store/AttachmentsStore';
import { InventoryStore } from '../store/InventoryStore';
import {
  ControllerAccess,
  ControllerGrantView,
} from '../access/ControllerAccess';
import { hasAnyNamespace, namespaceAllowed } from '../access/namespaceAccess';
import { AgentGateway } from '../agents/AgentGateway';
import { AgentUnavailableError } from '../agents/AgentSession';
import {
  InstallSettings,
  renderInstall,
  splitNamespaces,
} from '../install/renderInstall';
import { ChangeRecorder, actorRef } from './ChangeRecorder';
import { parseInput } from './validation';

/** A Controller with its agent token, the one time it is shown. */
export type ControllerWithToken = Controller & { token: string };

/** Controllers: registration, tokens, status, install and live workloads. */
export class ControllersService {
  constructor(
    private readonly deps: {
      permissions: PermissionsService;
      controllers: ControllersStore;
      attachments: AttachmentsStore;
      inventory: InventoryStore;
      access: ControllerAccess;
      gateway: AgentGateway;
      changes: ChangeRecorder;
      install: InstallSettings;
      requestTimeoutMs: number;
    },
  ) {}

  async list(credentials: BackstageCredentials): Promise<Controller[]> {
    const views = await this.deps.access.listReadable(credentials);
    const counts = await this.deps.attachments.countLiveByController(
      views.map(v => v.controller.id),
    );
    return Promise.all(views.map(v => this.toController(v, counts)));
  }

  async create(
    credentials: BackstageCredentials,
    body: CreateControllerRequest,
  ): Promise<ControllerWithToken> {
    const [d] = await this.deps.permissions.authorize(
      [{ permission: spiderControllerCreatePermission }],
      { credentials },
    );
    if (d.result !== AuthorizeResult.ALLOW)
      throw new NotAllowedError('You may not register Controllers');
    const { controller, token } = await this.deps.controllers.create({
      ...body,
      owner: actorRef(credentials),
    });
    await this.deps.changes.record({
      action: 'controller.create',
      actor: credentials,
      resource: { type: 'controller', id: controller.id },
      details: { name: controller.name },
    });
    const [view] = await this.deps.access.views(credentials, [controller]);
    return { ...(await this.toController(view)), token };
  }

  async get(credentials: BackstageCredentials, id: string) {
    return this.toController(
      await this.deps.access.require(credentials, id, 'read'),
    );
  }

  async rename(
    credentials: BackstageCredentials,
    id: string,
    body: UpdateControllerRequest,
  ): Promise<Controller> {
    const before = await this.deps.access.require(credentials, id, 'update');
    const updated = await this.deps.controllers.update(id, body);
    await this.deps.changes.record({
      action: 'controller.rename',
      actor: credentials,
      resource: { type: 'controller', id },
      details: { from: before.controller.name, to: updated.name },
    });
    return this.toController({ ...before, controller: updated });
  }

  async delete(credentials: BackstageCredentials, id: string): Promise<void> {
    const view = await this.deps.access.require(credentials, id, 'delete');
    await this.deps.controllers.delete(id);
    this.deps.gateway.revoke(id, 'the Controller was deleted');
    await this.deps.changes.record({
      action: 'controller.delete',
      actor: credentials,
      resource: { type: 'controller', id },
      details: { name: view.controller.name },
    });
  }

  async rotateToken(
    credentials: BackstageCredentials,
    id: string,
  ): Promise<ControllerWithToken> {
    const view = await this.deps.access.require(credentials, id, 'install');
    const { controller, token } = await this.deps.controllers.rotateToken(id);
    this.deps.gateway.revoke(id, 'the Controller token was rotated');
    await this.deps.changes.record({
      action: 'controller.token.rotate',
      actor: credentials,
      resource: { type: 'controller', id },
    });
    return { ...(await this.toController({ ...view, controller })), token };
  }

  /**
   * The agent's last report. A caller who may read only some namespaces sees only the
   * attachments there: all of them (the protocol caps a report at 5,000), never a page.
   */
  async status(
    credentials: BackstageCredentials,
    id: string,
  ): Promise<ControllerStatus> {
    const view = await this.deps.access.require(credentials, id, 'read');
    const record = await this.deps.controllers.get(id, { withStatus: true });
    const readable = view.namespaces('read');
    let status = record?.status ?? null;
    if (
      status &&
      !(readable.include === '*' && readable.exclude.length === 0)
    ) {
      const ids = await this.deps.attachments.visibleIds(
        id,
        readable,
        status.attachments.map(a => a.id),
      );
      status = {
        ...status,
        attachments: status.attachments.filter(a => ids.has(a.id)),
      };
    }
    return {
      controllerId: id,
      connected: record?.connected ?? false,
      lastSeenAt: record?.lastSeenAt ?? null,
      status,
    };
  }

  async install(
    credentials: BackstageCredentials,
    id: string,
    query: InstallQuery,
  ) {
    const view = await this.deps.access.require(credentials, id, 'install');
    const include = splitNamespaces(query.include);
    const exclude = splitNamespaces(query.exclude);
    for (const ns of [...include, ...exclude])
      parseInput(namespaceNameSchema, ns, `namespace "${ns}"`);
    return renderInstall(this.deps.install, {
      controllerName: view.controller.name,
      format: query.format,
      namespace: query.namespace,
      include,
      exclude,
    });
  }

  /** Live workloads the caller may target: from the agent here, or its inventory. */
  async workloads(
    credentials: BackstageCredentials,
    id: string,
    query: ListWorkloadsQuery,
  ): Promise<{ items: Workload[]; truncated: boolean }> {
    const { gateway, inventory } = this.deps;
    const view = await this.deps.access.require(credentials, id, 'use');
    const ns = view.namespaces('use');
    if (query.namespace && !namespaceAllowed(ns, query.namespace)) {
      throw new NotAllowedError(
        `You may not target namespace "${query.namespace}" on Controller "${view.controller.name}"`,
      );
    }
    if (!hasAnyNamespace(ns)) return { items: [], truncated: false };
    const params = {
      namespaces: ns.include === '*' ? ('*' as const) : ns.include,
      namespace: query.namespace,
      kind: query.kind,
      q: query.q,
      limit: query.limit ?? 5000,
    };
    let result: { items: Workload[]; truncated: boolean };
    if (gateway.isConnectedHere(id)) {
      try {
        result = await gateway.request(id, params, this.deps.requestTimeoutMs);
      } catch (e) {
        if (e instanceof AgentUnavailableError)
          throw serviceUnavailable(view.controller.name);
        throw e;
      }
    } else if (view.controller.connected) {
      // The agent holds a socket on another replica: answer from its reported inventory.
      const items = await inventory.list(id, {
        ...params,
        limit: params.limit + 1,
      });
      result = {
        items: items
          .slice(0, params.limit)
          .map(({ controllerId: _c, ...w }) => w),
        truncated: items.length > params.limit,
      };
    } else {
      throw serviceUnavailable(view.controller.name);
    }
    return {
      items: result.items.filter(w => namespaceAllowed(ns, w.namespace)),
      truncated: result.truncated,
    };
  }

  /** Namespaces the agent reported that the caller may use (or read). */
  async namespaces(credentials: BackstageCredentials, id: string) {
    const view = await this.deps.access.require(credentials, id, 'read');
    const use = view.rights.includes('use')
      ? view.namespaces('use')
      : view.namespaces('read');
    const known = await this.deps.inventory.namespaces(id);
    return {
      items: known.filter(ns => namespaceAllowed(use, ns)),
      all: use.include === '*' && use.exclude.length === 0,
    };
  }

  private async toController(
    view: ControllerGrantView,
    counts?: Map<string, number>,
  ): Promise<Controller> {
    const c = view.controller;
    const active =
      counts ?? (await this.deps.attachments.countLiveByController([c.id]));
    return {
      id: c.id,
      name: c.name,
      description: c.description,
      owner: c.owner,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
      connected: c.connected,
      lastSeenAt: c.lastSeenAt,
      agentVersion: c.agentVersion,
      clusterVersion: c.clusterVersion,
      scope: c.scope,
      activeAttachments: active.get(c.id) ?? 0,
      rights: view.rights,
    };
  }
}

/** 503 in Backstage's error shape (the router's error handler maps the name). */
export function serviceUnavailable(name: string): Error {
  const e = new Error(
    `The agent of Controller "${name}" is not connected; install or restart it, then try again`,
  );
  e.name = 'ServiceUnavailableError';
  return e;
}
