/*
 * The dev portal's backend: catalog, guest sign-in, permissions with Spider's default
 * policy, signals (over the events backend's bus, so they reach every replica on
 * PostgreSQL), and the Spider Controls service.
 */
import { createBackend } from '@backstage/backend-defaults';
import { spiderDefaultPolicyModule } from '@spider/backstage-plugin-spider-backend';

const backend = createBackend();

backend.add(import('@backstage/plugin-app-backend'));
backend.add(import('@backstage/plugin-auth-backend'));
backend.add(import('@backstage/plugin-auth-backend-module-guest-provider'));
backend.add(import('@backstage/plugin-catalog-backend'));
backend.add(import('@backstage/plugin-catalog-backend-module-logs'));
backend.add(import('@backstage/plugin-permission-backend'));
backend.add(spiderDefaultPolicyModule);
backend.add(import('@backstage/plugin-events-backend'));
backend.add(import('@backstage/plugin-signals-backend'));
backend.add(import('@spider/backstage-plugin-spider-backend'));

backend.start();
