import Tab from '@material-ui/core/Tab';
import Tabs from '@material-ui/core/Tabs';
import { Routes, Route } from 'react-router-dom';
import { Content, Link } from '@backstage/core-components';
import { useAppLocation } from '@backstage/frontend-plugin-api';
import { ReactRouterV6PageRouter } from '@backstage/frontend-adapter-react-router-v6';
import { ControllersPage } from '../ControllersPage/ControllersPage';
import { ControllerPage } from '../ControllerPage';
import { WhisperersPage, WhispererPage } from '../WhisperersPage';
import { AttachmentPage, AttachmentsPage } from '../AttachmentPage';
import { ExchangePage } from '../Traffic';
import { useSpiderPaths } from '../common';

const SECTIONS = [
  { id: 'controllers', label: 'Controllers', path: '' },
  { id: 'whisperers', label: 'Whisperers', path: '/whisperers' },
  { id: 'attachments', label: 'Attachments', path: '/attachments' },
] as const;

function SpiderNav() {
  const paths = useSpiderPaths();
  const location = useAppLocation();
  const root = paths.root ?? '';
  const rest = location.pathname.startsWith(root)
    ? location.pathname.slice(root.length)
    : location.pathname;
  let section = 'controllers';
  if (rest.startsWith('/whisperers')) section = 'whisperers';
  else if (rest.startsWith('/attachments') || rest.startsWith('/traffic'))
    section = 'attachments';
  return (
    <Tabs
      value={section}
      indicatorColor="primary"
      textColor="primary"
      aria-label="Spider sections"
      style={{ marginBottom: 16 }}
    >
      {SECTIONS.map(s => (
        <Tab
          key={s.id}
          value={s.id}
          label={s.label}
          component={Link}
          to={`${root}${s.path}` || '/'}
        />
      ))}
    </Tabs>
  );
}

/** Spider's pages, below wherever the app mounts the Spider root route. */
export function SpiderRoutes() {
  return (
    <ReactRouterV6PageRouter>
      <Content>
        <SpiderNav />
        <Routes>
          <Route path="/" element={<ControllersPage />} />
          <Route path="/controllers" element={<ControllersPage />} />
          <Route
            path="/controllers/:controllerId/*"
            element={<ControllerPage />}
          />
          <Route path="/whisperers" element={<WhisperersPage />} />
          <Route path="/whisperers/:whispererId" element={<WhispererPage />} />
          <Route path="/attachments" element={<AttachmentsPage />} />
          <Route
            path="/attachments/:attachmentId"
            element={<AttachmentPage />}
          />
          <Route path="/traffic/:exchangeId" element={<ExchangePage />} />
        </Routes>
      </Content>
    </ReactRouterV6PageRouter>
  );
}
