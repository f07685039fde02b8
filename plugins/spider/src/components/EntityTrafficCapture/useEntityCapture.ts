import { useMemo } from 'react';
import { stringifyEntityRef, Entity } from '@backstage/catalog-model';
import { useApi } from '@backstage/core-plugin-api';
import {
  Attachment,
  LIVE_ATTACHMENT_STATUSES,
} from '@spider/backstage-plugin-spider-common';
import { spiderApiRef } from '../../api/SpiderApi';
import { useLiveData } from '../../hooks/useLiveData';
import { workloadKey } from '../AttachDialog/WorkloadPicker';

/** The entity's workloads across usable Controllers, and their live attachments. */
export function useEntityCapture(entity: Entity) {
  const api = useApi(spiderApiRef);
  const entityRef = stringifyEntityRef(entity);
  const workloads = useLiveData(
    () => api.listEntityWorkloads(entityRef),
    [api, entityRef],
    {
      filter: s => s.kind === 'controller',
    },
  );
  const controllers = useLiveData(() => api.listControllers(), [api], {
    filter: s => s.kind === 'controller',
  });
  const pairs = useMemo(() => {
    const set = new Map<string, { controllerId: string; namespace: string }>();
    for (const w of workloads.value?.items ?? [])
      set.set(`${w.controllerId}/${w.namespace}`, {
        controllerId: w.controllerId,
        namespace: w.namespace,
      });
    return [...set.values()];
  }, [workloads.value]);
  const pairsKey = JSON.stringify(pairs);
  const attachments = useLiveData(
    async () => {
      const lists = await Promise.all(
        pairs.map(p =>
          api.listAttachments({
            controllerId: p.controllerId,
            namespace: p.namespace,
            status: [...LIVE_ATTACHMENT_STATUSES, 'detaching'],
            limit: 500,
          }),
        ),
      );
      return lists.flatMap(l => l.items);
    },
    [api, pairsKey],
    { filter: s => s.kind === 'attachment' },
  );
  const byWorkload = useMemo(() => {
    const map = new Map<string, Attachment[]>();
    for (const a of attachments.value ?? []) {
      const key = `${a.controllerId}|${workloadKey(a.target)}`;
      map.set(key, [...(map.get(key) ?? []), a]);
    }
    return map;
  }, [attachments.value]);
  return { entityRef, workloads, controllers, attachments, byWorkload };
}
