import { ConfigReader } from '@backstage/config';
import { JsonValue } from '@backstage/types';
import { mockServices } from '@backstage/backend-test-utils';
import { readSpiderConfig } from './config';

const discovery = mockServices.discovery();

async function maxTtl(value: JsonValue) {
  const settings = await readSpiderConfig(
    new ConfigReader({ spider: { attachments: { maxTimeToLive: value } } }),
    discovery,
  );
  return settings.maxTimeToLiveMs;
}

describe('readSpiderConfig', () => {
  it('reads spider.attachments.maxTimeToLive as Backstage reads durations', async () => {
    expect(await maxTtl('PT8H')).toBe(8 * 3_600_000);
    expect(await maxTtl({ hours: 8 })).toBe(8 * 3_600_000);
    // The readDurationFromConfig forms other Backstage settings accept.
    expect(await maxTtl('8h')).toBe(8 * 3_600_000);
    expect(await maxTtl('2 days')).toBe(2 * 86_400_000);
  });

  it('leaves the cap unset when not configured', async () => {
    const settings = await readSpiderConfig(new ConfigReader({}), discovery);
    expect(settings.maxTimeToLiveMs).toBeUndefined();
  });

  it('names the key of a bad duration', async () => {
    await expect(maxTtl('soon')).rejects.toThrow(
      /spider\.attachments\.maxTimeToLive must be an ISO-8601 duration/,
    );
    await expect(maxTtl('PT0S')).rejects.toThrow(
      /spider\.attachments\.maxTimeToLive must be longer than zero/,
    );
  });
});
