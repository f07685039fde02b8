import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { NotFoundError } from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { InventoryStore } from '../store/InventoryStore';
import { ControllerAccess } from '../access/ControllerAccess';
import { namespaceAllowed } from '../access/namespaceAccess';
import { matchEntityWorkloads } from '../catalog/matchEntityWorkloads';
import { normalizeEntityRef } from '../catalog/normalizeEntityRef';

/** A catalog entity's workloads (its Kubernetes annotations) across usable Controllers. */
export class EntityWorkloadsService {
  constructor(
    private readonly deps: {
      catalog?: CatalogService;
      inventory: InventoryStore;
      access: ControllerAccess;
    },
  ) {}

  async list(credentials: BackstageCredentials, ref: string) {
    const { catalog, access, inventory } = this.deps;
    const entityRef = normalizeEntityRef(ref);
    if (!catalog) throw new NotFoundError('The catalog is not available');
    const entity = await catalog.getEntityByRef(entityRef, { credentials });
    if (!entity)
      throw new NotFoundError(`No entity ${entityRef} in the catalog`);
    const views = (await access.listReadable(credentials)).filter(v =>
      v.rights.includes('use'),
    );
    const byId = new Map(views.map(v => [v.controller.id, v]));
    const all = await inventory.listAcross([...byId.keys()]);
    const matched = matchEntityWorkloads(
      entity.metadata.annotations,
      all,
    ).filter(w =>
      namespaceAllowed(
        byId.get(w.controllerId)!.namespaces('use'),
        w.namespace,
      ),
    );
    return matched.map(w => ({
      ...w,
      controllerName: byId.get(w.controllerId)!.controller.name,
    }));
  }
}
