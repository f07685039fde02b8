import { Header, Page } from '@backstage/core-components';
import { AttachButton } from '../AttachDialog';
import { SpiderRoutes } from './SpiderRoutes';

/** The Spider page with its own header, for apps on the legacy frontend system. */
export function SpiderPage() {
  return (
    <Page themeId="tool">
      <Header
        title="Spider"
        subtitle="Capture the network traffic of Kubernetes workloads, without restarts"
      >
        <AttachButton />
      </Header>
      <SpiderRoutes />
    </Page>
  );
}
