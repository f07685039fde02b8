import '@testing-library/jest-dom';

// The CI machines are small and shared: give UI tests room.
jest.setTimeout(30_000);
