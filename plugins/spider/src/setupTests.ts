import '@testing-library/jest-dom';

// The default timeout (30 s: the CI machines are small and shared) is the root
// package.json's jest.testTimeout, so that a run's --testTimeout overrides it; a
// jest.setTimeout here would override the command line.
