import { screen } from '@testing-library/react';
import { renderTestApp, mockApis } from '@backstage/frontend-test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { catalogApiRef } from '@backstage/plugin-catalog-react';
import { catalogApiMock } from '@backstage/plugin-catalog-react/testUtils';
import spiderPlugin, { isSpiderAvailable } from './alpha';
import { spiderApiRef } from './api/SpiderApi';
import { FakeSpiderApi, makeController } from './__testUtils__/FakeSpiderApi';

describe('new frontend system wiring', () => {
  it('declares the page, API, header action, entity content and card', () => {
    const ids = (spiderPlugin as any).getExtension
      ? [
          'page:spider',
          'api:spider',
          'plugin-header-action:spider/attach',
          'entity-content:spider/traffic-capture',
          'entity-card:spider/traffic-capture',
        ].map(id => !!(spiderPlugin as any).getExtension(id))
      : [];
    expect(ids).toEqual([true, true, true, true, true]);
    expect(typeof isSpiderAvailable).toBe('function');
  });

  it('renders the Spider page in an app', async () => {
    const api = new FakeSpiderApi({
      controllers: [makeController({ name: 'prod-eu-1' })],
    });
    renderTestApp({
      features: [spiderPlugin],
      initialRouteEntries: ['/spider'],
      apis: [
        [spiderApiRef, api],
        [permissionApiRef, mockApis.permission()],
        [catalogApiRef, catalogApiMock()],
      ] as any,
    });
    // The page is lazy: give its chunk time to load on a busy machine.
    expect(
      await screen.findByText('prod-eu-1', {}, { timeout: 15_000 }),
    ).toBeInTheDocument();
    expect(
      screen.getByRole('tab', { name: 'Controllers' }),
    ).toBeInTheDocument();
  });
});
