import { createBackendModule } from '@backstage/backend-plugin-api';
import { policyExtensionPoint } from '@backstage/plugin-permission-node/alpha';
import { SpiderDefaultPermissionPolicy } from '@spider/backstage-plugin-spider-backend';

/** Installs Spider's default permission policy in the permission backend. */
export const spiderPermissionPolicyModule = createBackendModule({
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
