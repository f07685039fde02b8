import { createBackendModule } from '@backstage/backend-plugin-api';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import { SpiderDefaultPermissionPolicy } from './SpiderDefaultPermissionPolicy';

/**
 * Installs {@link SpiderDefaultPermissionPolicy} in the permission backend, for portals
 * without a policy of their own: `backend.add(spiderDefaultPolicyModule)`.
 */
export const spiderDefaultPolicyModule = createBackendModule({
  pluginId: 'permission',
  moduleId: 'spider-default-policy',
  register(reg) {
    reg.registerInit({
      deps: { policy: policyExtensionPoint },
      async init({ policy }) {
        policy.setPolicy(new SpiderDefaultPermissionPolicy());
      },
    });
  },
});
