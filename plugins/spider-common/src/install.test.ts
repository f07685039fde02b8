import { insecureControlsUrl } from './install';

describe('insecureControlsUrl', () => {
  it.each([
    ['http://portal.example.com/api/spider', true],
    ['ws://10.0.0.5:7007/api/spider', true],
    ['https://portal.example.com/api/spider', false],
    ['wss://portal.example.com/api/spider', false],
    ['http://127.0.0.1:7007/api/spider', false],
    ['http://localhost:7007/api/spider', false],
    ['http://[::1]:7007/api/spider', false],
    ['not a url', false],
  ])('%s → %p', (url, insecure) => {
    expect(insecureControlsUrl(url)).toBe(insecure);
  });
});
