// Real control plane harness for tests and demos: see e2e/cluster/README.md.
export * from './cluster';
