import { useEffect, useState } from 'react';
import { identityApiRef, useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  spiderWhispererCreatePermission,
  spiderWhispererManagePermission,
  Whisperer,
} from '@spider/backstage-plugin-spider-common';

/** Who may create Whisperers, and edit or delete a given one (its owner, or a manager). */
export function useWhispererRights() {
  const identityApi = useApi(identityApiRef);
  const [me, setMe] = useState<string>();
  useEffect(() => {
    let cancelled = false;
    identityApi
      .getBackstageIdentity()
      .then(i => !cancelled && setMe(i.userEntityRef))
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [identityApi]);
  const create = usePermission({ permission: spiderWhispererCreatePermission });
  const manage = usePermission({ permission: spiderWhispererManagePermission });
  return {
    canCreate: create.allowed,
    createLoading: create.loading,
    canManage: (w: Whisperer) =>
      manage.allowed || (me !== undefined && w.owner === me),
  };
}
