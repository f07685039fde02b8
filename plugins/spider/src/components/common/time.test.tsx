import { act, render, screen } from '@testing-library/react';
import { Countdown, formatRemaining } from './time';

describe('Countdown', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('counts down every second and ends with "expiring now"', () => {
    jest.setSystemTime(new Date('2026-11-26T10:00:00Z'));
    render(<Countdown expiresAt="2026-11-26T10:02:00Z" />);
    expect(screen.getByTestId('countdown')).toHaveTextContent('2 m 00 s left');
    act(() => {
      jest.advanceTimersByTime(1000);
    });
    expect(screen.getByTestId('countdown')).toHaveTextContent('1 m 59 s left');
    act(() => {
      jest.advanceTimersByTime(119_000);
    });
    expect(screen.getByTestId('countdown')).toHaveTextContent('expiring now');
  });

  it('says when there is no expiry', () => {
    render(<Countdown expiresAt={null} />);
    expect(screen.getByText('no expiry')).toBeInTheDocument();
  });

  it('formats long durations', () => {
    expect(formatRemaining(3_725_000)).toBe('1 h 02 m');
    expect(formatRemaining(90_000_000)).toBe('1 d 1 h');
    expect(formatRemaining(12_000)).toBe('12 s');
  });
});
