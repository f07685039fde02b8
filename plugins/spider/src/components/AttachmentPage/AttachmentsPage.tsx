import { ContentHeader } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { spiderApiRef } from '../../api/SpiderApi';
import { useLiveData } from '../../hooks/useLiveData';
import { AttachButton } from '../AttachDialog';
import { AttachmentsTable } from '../AttachmentsTable/AttachmentsTable';
import { canDetachWith } from '../WhisperersPage/WhispererPage';

/** All attachments the user may see, across Controllers. */
export function AttachmentsPage() {
  const api = useApi(spiderApiRef);
  const controllers = useLiveData(() => api.listControllers(), [api], {
    filter: s => s.kind === 'controller',
  });
  const names = Object.fromEntries(
    (controllers.value?.items ?? []).map(c => [c.id, c.name]),
  );
  return (
    <>
      <ContentHeader title="Attachments">
        <AttachButton />
      </ContentHeader>
      <AttachmentsTable
        query={{}}
        canDetach={canDetachWith(controllers.value?.items)}
        controllerNames={names}
      />
    </>
  );
}
