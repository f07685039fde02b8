import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { InputError } from '@backstage/errors';
import {
  Grant,
  PutSharesRequest,
} from '@spider/backstage-plugin-spider-common';
import { SharesStore } from '../store/SharesStore';
import { ControllerAccess } from '../access/ControllerAccess';
import { normalizeEntityRef } from '../catalog/normalizeEntityRef';
import { requireGrantChange } from '../access/grantChange';
import { ChangeRecorder } from './ChangeRecorder';

/** Sharing: the grants a Controller's owner gives users and groups. */
export class GrantsService {
  constructor(
    private readonly deps: {
      shares: SharesStore;
      access: ControllerAccess;
      changes: ChangeRecorder;
    },
  ) {}

  async list(credentials: BackstageCredentials, id: string): Promise<Grant[]> {
    await this.deps.access.require(credentials, id, 'share');
    return this.deps.shares.list(id);
  }

  async replace(
    credentials: BackstageCredentials,
    id: string,
    body: PutSharesRequest,
  ): Promise<Grant[]> {
    const view = await this.deps.access.require(credentials, id, 'share');
    // Principals compare with the caller's ownership refs, which the catalog spells in
    // lower case: store them that way, and refuse two spellings of one principal.
    const grants = body.items.map(g => ({
      ...g,
      principal: normalizeEntityRef(g.principal),
    }));
    if (new Set(grants.map(g => g.principal)).size !== grants.length) {
      throw new InputError(
        'Invalid shares: each principal may appear only once (references are not case-sensitive)',
      );
    }
    requireGrantChange(view, await this.deps.shares.list(id), grants);
    await this.deps.shares.replace(id, grants);
    await this.deps.changes.record({
      action: 'controller.share',
      actor: credentials,
      resource: { type: 'controller', id },
      details: { grants },
    });
    return this.deps.shares.list(id);
  }
}
