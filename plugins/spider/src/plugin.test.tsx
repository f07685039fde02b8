import { screen } from '@testing-library/react';
import { Route, Routes } from 'react-router-dom';
import { EntityProvider } from '@backstage/plugin-catalog-react';
import {
  EntityTrafficCaptureContent,
  SpiderPage,
  spiderPlugin,
} from './plugin';
import { FakeSpiderApi, makeController } from './__testUtils__/FakeSpiderApi';
import { renderSpider } from './__testUtils__/render';

describe('legacy frontend system wiring', () => {
  it('exports the plugin with its routes', () => {
    expect(spiderPlugin.getId()).toBe('spider');
    expect(Object.keys(spiderPlugin.routes)).toEqual([
      'root',
      'controller',
      'whisperer',
      'attachment',
      'exchange',
    ]);
  });

  it('renders the routable SpiderPage with header, sections and the Controllers list', async () => {
    const api = new FakeSpiderApi({
      controllers: [makeController({ name: 'prod-eu-1' })],
    });
    await renderSpider(
      <Routes>
        <Route path="/spider/*" element={<SpiderPage />} />
      </Routes>,
      { api, routeEntries: ['/spider'] },
    );
    expect(
      await screen.findByRole('heading', { name: 'Spider' }),
    ).toBeInTheDocument();
    expect(screen.getByRole('tab', { name: 'Whisperers' })).toHaveAttribute(
      'href',
      '/spider/whisperers',
    );
    expect(await screen.findByText('prod-eu-1')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /Attach/ })).toBeInTheDocument();
  });

  it('routes to the Whisperers section', async () => {
    await renderSpider(
      <Routes>
        <Route path="/spider/*" element={<SpiderPage />} />
      </Routes>,
      { routeEntries: ['/spider/whisperers'] },
    );
    expect(await screen.findByText('No Whisperers yet')).toBeInTheDocument();
  });

  it('renders the entity content extension', async () => {
    await renderSpider(
      <EntityProvider
        entity={{
          apiVersion: 'backstage.io/v1alpha1',
          kind: 'Component',
          metadata: {
            name: 'payments',
            annotations: { 'backstage.io/kubernetes-id': 'payments' },
          },
        }}
      >
        <EntityTrafficCaptureContent />
      </EntityProvider>,
    );
    expect(await screen.findByText('No workloads found')).toBeInTheDocument();
  });
});
