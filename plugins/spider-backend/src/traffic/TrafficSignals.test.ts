import { mockServices } from '@backstage/backend-test-utils';
import { SignalsService } from '@backstage/plugin-signals-node';
import { TrafficSignals } from './TrafficSignals';

describe('TrafficSignals', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  function setup() {
    const published: any[] = [];
    const signals: SignalsService = {
      publish: async m => void published.push(m),
    };
    return {
      published,
      traffic: new TrafficSignals(
        signals,
        mockServices.logger.mock(),
        1000,
        () => Date.now(),
      ),
    };
  }

  it('signals at once, then at most once a second per attachment with the counts summed', () => {
    const { published, traffic } = setup();
    traffic.stored('a1', 5, '2026-12-01T10:00:01Z');
    expect(published).toEqual([
      {
        recipients: { type: 'broadcast' },
        channel: 'spider:traffic:a1',
        message: {
          type: 'traffic',
          attachmentId: 'a1',
          added: 5,
          latest: '2026-12-01T10:00:01Z',
        },
      },
    ]);
    traffic.stored('a1', 2, '2026-12-01T10:00:03Z');
    traffic.stored('a1', 3, '2026-12-01T10:00:02Z');
    traffic.stored('a2', 1, null);
    traffic.stored('a1', 0, null);
    expect(published.map(p => p.channel)).toEqual([
      'spider:traffic:a1',
      'spider:traffic:a2',
    ]);
    jest.advanceTimersByTime(999);
    expect(published).toHaveLength(2);
    jest.advanceTimersByTime(1);
    expect(published[2].message).toEqual({
      type: 'traffic',
      attachmentId: 'a1',
      added: 5,
      latest: '2026-12-01T10:00:03Z',
    });
    // Quiet for an interval: forgotten, and the next store is signalled at once again.
    jest.advanceTimersByTime(5000);
    expect(published).toHaveLength(3);
    traffic.stored('a1', 1, null);
    expect(published).toHaveLength(4);
    traffic.stop();
  });

  it('publishes nothing when nothing new was stored', () => {
    const { published, traffic } = setup();
    traffic.stored('a1', 0, null);
    jest.advanceTimersByTime(5000);
    expect(published).toEqual([]);
  });
});
