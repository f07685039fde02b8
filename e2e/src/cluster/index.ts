export * from './ControlPlane';
export * from './KubeFixtures';
