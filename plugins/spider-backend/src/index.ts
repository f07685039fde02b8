/**
 * The Spider Controls service backend plugin.
 *
 * @packageDocumentation
 */
export { spiderPlugin as default } from './plugin';
export { spiderDefaultPolicyModule } from './access/spiderDefaultPolicyModule';
export {
  SpiderDefaultPermissionPolicy,
  spiderPolicyDecision,
} from './access/SpiderDefaultPermissionPolicy';
export {
  spiderControllerConditions,
  createSpiderControllerConditionalDecision,
  controllerResourceRef,
} from './access/rules';
