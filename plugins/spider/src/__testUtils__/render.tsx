import { ReactElement } from 'react';
import { SWRConfig } from 'swr';
import type { RenderResult } from '@testing-library/react';
import { ApiRef, identityApiRef } from '@backstage/core-plugin-api';
import {
  mockApis,
  renderInTestApp,
  TestApiProvider,
} from '@backstage/test-utils';
import { permissionApiRef } from '@backstage/plugin-permission-react';
import { AuthorizeResult } from '@backstage/plugin-permission-common';
import { catalogApiRef, entityRouteRef } from '@backstage/plugin-catalog-react';
import { catalogApiMock } from '@backstage/plugin-catalog-react/testUtils';
import type { Entity } from '@backstage/catalog-model';
import { spiderApiRef } from '../api/SpiderApi';
import { rootRouteRef } from '../routes';
import { FakeSpiderApi } from './FakeSpiderApi';

export const CATALOG_PRINCIPALS: Entity[] = [
  {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'User',
    metadata: { name: 'jane', namespace: 'default' },
    spec: { profile: { displayName: 'Jane Doe' } },
  },
  {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Group',
    metadata: { name: 'team-b', namespace: 'default' },
    spec: {},
  },
];

export interface RenderOptions {
  api?: FakeSpiderApi;
  /** Names of basic permissions to deny (e.g. 'spider.controller.create'); all else is allowed. */
  deny?: string[];
  routeEntries?: string[];
  user?: string;
  /** More APIs, e.g. a signals API the test drives. */
  apis?: ReadonlyArray<readonly [ApiRef<any>, any]>;
}

/** Renders a Spider component in a legacy test app with the client boundary faked. */
export async function renderSpider(
  element: ReactElement,
  options: RenderOptions = {},
): Promise<RenderResult & { api: FakeSpiderApi }> {
  const api = options.api ?? new FakeSpiderApi();
  const deny = new Set(options.deny ?? []);
  const result = await renderInTestApp(
    <TestApiProvider
      apis={[
        [spiderApiRef, api],
        [
          permissionApiRef,
          mockApis.permission({
            authorize: req =>
              deny.has(req.permission.name)
                ? AuthorizeResult.DENY
                : AuthorizeResult.ALLOW,
          }),
        ],
        [
          identityApiRef,
          mockApis.identity({
            userEntityRef: options.user ?? 'user:default/guest',
          }),
        ],
        [catalogApiRef, catalogApiMock({ entities: CATALOG_PRINCIPALS })],
        ...((options.apis ?? []) as any[]),
      ]}
    >
      {/* usePermission caches answers in SWR: give each render its own cache */}
      <SWRConfig value={{ provider: () => new Map() }}>{element}</SWRConfig>
    </TestApiProvider>,
    {
      mountedRoutes: {
        '/spider': rootRouteRef,
        '/catalog/:namespace/:kind/:name': entityRouteRef,
      },
      routeEntries: options.routeEntries,
    },
  );
  return { ...result, api };
}
