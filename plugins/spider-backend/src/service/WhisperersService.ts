import {
  BackstageCredentials,
  PermissionsService,
} from '@backstage/backend-plugin-api';
import { ConflictError, NotAllowedError } from '@backstage/errors';
import {
  AuthorizeResult,
  BasicPermission,
} from '@backstage/plugin-permission-common';
import {
  CreateWhispererRequest,
  ImagePattern,
  spiderWhispererCreatePermission,
  spiderWhispererManagePermission,
  UpdateWhispererRequest,
  Whisperer,
} from '@spider/backstage-plugin-spider-common';
import { WhisperersStore } from '../store/WhisperersStore';
import { AttachmentsStore } from '../store/AttachmentsStore';
import { requireAllowedImage } from '../access/imageAllowList';
import { ChangeRecorder, actorRef } from './ChangeRecorder';

/** Whisperers: the capture configurations anyone may read and their owners manage. */
export class WhisperersService {
  constructor(
    private readonly deps: {
      permissions: PermissionsService;
      whisperers: WhisperersStore;
      attachments: AttachmentsStore;
      changes: ChangeRecorder;
      /** Images a Whisperer may name (spider.whisperers.allowedImages). */
      allowedImages: readonly ImagePattern[];
    },
  ) {}

  list(): Promise<Whisperer[]> {
    return this.deps.whisperers.list();
  }

  get(id: string): Promise<Whisperer> {
    return this.deps.whisperers.getOrThrow(id);
  }

  async create(
    credentials: BackstageCredentials,
    body: CreateWhispererRequest,
  ): Promise<Whisperer> {
    requireAllowedImage(body.image, this.deps.allowedImages);
    if (!(await this.allowed(credentials, spiderWhispererCreatePermission)))
      throw new NotAllowedError('You may not create Whisperers');
    const w = await this.deps.whisperers.create(body, actorRef(credentials));
    await this.deps.changes.record({
      action: 'whisperer.create',
      actor: credentials,
      resource: { type: 'whisperer', id: w.id },
      details: { name: w.name },
    });
    return w;
  }

  async update(
    credentials: BackstageCredentials,
    id: string,
    body: UpdateWhispererRequest,
  ): Promise<Whisperer> {
    requireAllowedImage(body.image, this.deps.allowedImages);
    await this.requireOwner(credentials, await this.get(id));
    const w = await this.deps.whisperers.update(id, body);
    await this.deps.changes.record({
      action: 'whisperer.update',
      actor: credentials,
      resource: { type: 'whisperer', id },
      details: { fields: Object.keys(body) },
    });
    return w;
  }

  async delete(credentials: BackstageCredentials, id: string): Promise<void> {
    const w = await this.get(id);
    await this.requireOwner(credentials, w);
    const live = await this.deps.attachments.countLiveByWhisperer(id);
    if (live > 0) {
      throw new ConflictError(
        `Whisperer "${w.name}" is attached ${live} time(s); detach those attachments first`,
      );
    }
    await this.deps.whisperers.delete(id);
    await this.deps.changes.record({
      action: 'whisperer.delete',
      actor: credentials,
      resource: { type: 'whisperer', id },
      details: { name: w.name },
    });
  }

  /** Its owner, or whoever the policy lets manage every Whisperer. */
  private async requireOwner(credentials: BackstageCredentials, w: Whisperer) {
    if (w.owner === actorRef(credentials)) return;
    if (await this.allowed(credentials, spiderWhispererManagePermission))
      return;
    throw new NotAllowedError(
      `Only the owner of Whisperer "${w.name}" (${w.owner}) may change or delete it`,
    );
  }

  private async allowed(
    credentials: BackstageCredentials,
    permission: BasicPermission,
  ): Promise<boolean> {
    const [d] = await this.deps.permissions.authorize([{ permission }], {
      credentials,
    });
    return d.result === AuthorizeResult.ALLOW;
  }
}
