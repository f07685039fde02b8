import { NotAllowedError } from '@backstage/errors';
import { Grant, planGrantChange } from '@spider/backstage-plugin-spider-common';
import type { ControllerGrantView } from './ControllerAccess';

/**
 * Refuses (403) a change of a Controller's grants that would give away more than the
 * caller holds (see planGrantChange); the message lists each problem.
 */
export function requireGrantChange(
  view: Pick<ControllerGrantView, 'controller' | 'isOwner' | 'held'>,
  before: readonly Grant[],
  after: readonly Grant[],
): void {
  const decision = planGrantChange(
    {
      isOwner: view.isOwner,
      owner: view.controller.owner,
      held: view.held,
    },
    before,
    after,
  );
  if (!decision.allowed) {
    throw new NotAllowedError(
      `You may share Controller "${
        view.controller.name
      }" only within your own grant, and only its owner changes wider grants: ${decision.problems.join(
        '; ',
      )}. Nothing was changed.`,
    );
  }
}
