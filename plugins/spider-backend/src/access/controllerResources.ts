import { ControllersStore } from '../store/ControllersStore';
import { SharesStore } from '../store/SharesStore';
import { ControllerResource } from './rules';

/**
 * Loads Controllers with their grants for the permission framework (`getResources` of
 * the resource type), in the order of `ids`; undefined where none exists.
 */
export async function loadControllerResources(
  stores: { controllers: ControllersStore; shares: SharesStore },
  ids: string[],
): Promise<Array<ControllerResource | undefined>> {
  const byId = new Map(
    (await stores.controllers.getMany(ids)).map(r => [r.id, r]),
  );
  const grants = await stores.shares.listMany(ids);
  return ids.map(id => {
    const r = byId.get(id);
    return (
      r && {
        ...r,
        grants: (grants.get(id) ?? []).map(g => ({
          principal: g.principal,
          rights: g.rights,
        })),
      }
    );
  });
}
