import { createPermission } from '@backstage/plugin-permission-common';
import type { ControllerRight } from './model/resources';

/** Resource type of Controllers in the permission framework. */
export const SPIDER_CONTROLLER_RESOURCE_TYPE = 'spider-controller';

export const spiderControllerCreatePermission = createPermission({
  name: 'spider.controller.create',
  attributes: { action: 'create' },
});

export const spiderWhispererCreatePermission = createPermission({
  name: 'spider.whisperer.create',
  attributes: { action: 'create' },
});

/** Edit or delete Whisperers of others (owners always may). */
export const spiderWhispererManagePermission = createPermission({
  name: 'spider.whisperer.manage',
  attributes: { action: 'update' },
});

export const spiderControllerReadPermission = createPermission({
  name: 'spider.controller.read',
  attributes: { action: 'read' },
  resourceType: SPIDER_CONTROLLER_RESOURCE_TYPE,
});
export const spiderControllerUpdatePermission = createPermission({
  name: 'spider.controller.update',
  attributes: { action: 'update' },
  resourceType: SPIDER_CONTROLLER_RESOURCE_TYPE,
});
export const spiderControllerDeletePermission = createPermission({
  name: 'spider.controller.delete',
  attributes: { action: 'delete' },
  resourceType: SPIDER_CONTROLLER_RESOURCE_TYPE,
});
/** Attach whisperers through the Controller and list its workloads. */
export const spiderControllerUsePermission = createPermission({
  name: 'spider.controller.use',
  attributes: { action: 'update' },
  resourceType: SPIDER_CONTROLLER_RESOURCE_TYPE,
});
export const spiderControllerSharePermission = createPermission({
  name: 'spider.controller.share',
  attributes: { action: 'update' },
  resourceType: SPIDER_CONTROLLER_RESOURCE_TYPE,
});
/** See install instructions and rotate the agent token. */
export const spiderControllerInstallPermission = createPermission({
  name: 'spider.controller.install',
  attributes: { action: 'update' },
  resourceType: SPIDER_CONTROLLER_RESOURCE_TYPE,
});

/** The resource permission that stands for each right of a grant. */
export const controllerRightPermissions = {
  read: spiderControllerReadPermission,
  use: spiderControllerUsePermission,
  update: spiderControllerUpdatePermission,
  delete: spiderControllerDeletePermission,
  share: spiderControllerSharePermission,
  install: spiderControllerInstallPermission,
} satisfies Record<ControllerRight, unknown>;

export const spiderPermissions = [
  spiderControllerCreatePermission,
  spiderWhispererCreatePermission,
  spiderWhispererManagePermission,
  ...Object.values(controllerRightPermissions),
];
