import {
  LoggerService,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { ImagePattern } from '@spider/backstage-plugin-spider-common';
import { ControllersStore } from '../store/ControllersStore';
import { WhisperersStore } from '../store/WhisperersStore';
import { AttachmentLimits, AttachmentsStore } from '../store/AttachmentsStore';
import { SharesStore } from '../store/SharesStore';
import { InventoryStore } from '../store/InventoryStore';
import { TrafficStore } from '../store/TrafficStore';
import { ControllerAccess } from '../access/ControllerAccess';
import { AgentGateway } from '../agents/AgentGateway';
import { AuditLog } from '../audit/AuditLog';
import { SpiderEvents } from '../events/SpiderEvents';
import { InstallSettings } from '../install/renderInstall';
import { ChangeRecorder } from './ChangeRecorder';
import { ControllersService } from './ControllersService';
import { GrantsService } from './GrantsService';
import { WhisperersService } from './WhisperersService';
import { AttachmentsService } from './AttachmentsService';
import { EntityWorkloadsService } from './EntityWorkloadsService';
import { TrafficService } from './TrafficService';

/** The services the REST API calls, one per concept, assembled once. */
export interface SpiderServices {
  controllers: ControllersService;
  grants: GrantsService;
  whisperers: WhisperersService;
  attachments: AttachmentsService;
  entityWorkloads: EntityWorkloadsService;
  traffic: TrafficService;
}

export function createSpiderServices(deps: {
  logger: LoggerService;
  permissions: PermissionsService;
  catalog?: CatalogService;
  controllers: ControllersStore;
  whisperers: WhisperersStore;
  attachments: AttachmentsStore;
  shares: SharesStore;
  inventory: InventoryStore;
  traffic: TrafficStore;
  access: ControllerAccess;
  gateway: AgentGateway;
  audit: AuditLog;
  events: SpiderEvents;
  pokeExpiry(at: number | null): void;
  allowedImages: readonly ImagePattern[];
  install: InstallSettings;
  maxTimeToLiveMs?: number;
  attachmentLimits: AttachmentLimits;
  requestTimeoutMs: number;
}): SpiderServices {
  const changes = new ChangeRecorder(deps.audit, deps.events);
  const attachments = new AttachmentsService({
    attachments: deps.attachments,
    whisperers: deps.whisperers,
    access: deps.access,
    gateway: deps.gateway,
    changes,
    pokeExpiry: deps.pokeExpiry,
    maxTimeToLiveMs: deps.maxTimeToLiveMs,
    limits: deps.attachmentLimits,
  });
  return {
    controllers: new ControllersService({
      permissions: deps.permissions,
      controllers: deps.controllers,
      attachments: deps.attachments,
      inventory: deps.inventory,
      access: deps.access,
      gateway: deps.gateway,
      changes,
      install: deps.install,
      requestTimeoutMs: deps.requestTimeoutMs,
    }),
    grants: new GrantsService({
      shares: deps.shares,
      access: deps.access,
      changes,
    }),
    whisperers: new WhisperersService({
      permissions: deps.permissions,
      whisperers: deps.whisperers,
      attachments: deps.attachments,
      changes,
      allowedImages: deps.allowedImages,
    }),
    attachments,
    entityWorkloads: new EntityWorkloadsService({
      catalog: deps.catalog,
      inventory: deps.inventory,
      access: deps.access,
    }),
    traffic: new TrafficService({
      traffic: deps.traffic,
      attachments: deps.attachments,
      inventory: deps.inventory,
      access: deps.access,
      catalog: deps.catalog,
      logger: deps.logger,
      readableAttachment: (credentials, id) =>
        attachments.readable(credentials, id),
    }),
  };
}
