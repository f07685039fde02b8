import { act, render, screen } from '@testing-library/react';
import { TestApiProvider } from '@backstage/test-utils';
import { signalApiRef, SignalApi } from '@backstage/plugin-signals-react';
import { POLL_INTERVAL_MS, useSpiderLive } from './useSpiderLive';

function Probe(props: { filter?: (s: any) => boolean }) {
  const tick = useSpiderLive(props.filter);
  return <span data-testid="tick">{tick}</span>;
}

describe('useSpiderLive', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('polls every 10 s when the signals API is not available', () => {
    render(<Probe />);
    expect(screen.getByTestId('tick')).toHaveTextContent('0');
    act(() => {
      jest.advanceTimersByTime(POLL_INTERVAL_MS);
    });
    expect(screen.getByTestId('tick')).toHaveTextContent('1');
  });

  it('refreshes on relevant signals (coalesced) and does not poll', () => {
    let push: (m: any) => void = () => {};
    const signalApi: SignalApi = {
      subscribe: (_channel, onMessage) => {
        push = onMessage as any;
        return { unsubscribe: () => {} };
      },
    };
    render(
      <TestApiProvider apis={[[signalApiRef, signalApi]]}>
        <Probe filter={s => s.kind === 'attachment'} />
      </TestApiProvider>,
    );
    act(() => {
      jest.advanceTimersByTime(POLL_INTERVAL_MS * 2);
    });
    expect(screen.getByTestId('tick')).toHaveTextContent('0');
    act(() => push({ kind: 'whisperer', id: 'w1' }));
    act(() => {
      jest.advanceTimersByTime(1000);
    });
    expect(screen.getByTestId('tick')).toHaveTextContent('0');
    act(() => push({ kind: 'attachment', id: 'a1' }));
    act(() => push({ kind: 'attachment', id: 'a2' }));
    act(() => {
      jest.advanceTimersByTime(1000);
    });
    expect(screen.getByTestId('tick')).toHaveTextContent('1');
  });
});
