import { useState } from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { TrafficList } from './TrafficList';
import { makeExchange } from '../../__testUtils__/FakeSpiderApi';

function exchanges(n: number) {
  const base = Date.parse('2026-12-01T10:00:00.000Z');
  return Array.from({ length: n }, (_, i) =>
    makeExchange({
      id: `ex-${i}`,
      at: base + (n - i) * 10,
      response: {
        status: [200, 302, 404, 503][i % 4],
        headers: [],
        trailers: [],
        bodySize: 10,
        body: null,
      },
    }),
  );
}

function Harness(props: {
  items: ReturnType<typeof exchanges>;
  onOpen: (id: string) => void;
}) {
  const [selected, setSelected] = useState<string>();
  return (
    <TrafficList
      items={props.items}
      selectedId={selected}
      onSelect={setSelected}
      onOpen={props.onOpen}
    />
  );
}

describe('TrafficList', () => {
  it('renders only the visible rows of 10,000 exchanges, with every column', () => {
    const items = exchanges(10_000);
    render(<Harness items={items} onOpen={() => {}} />);
    const grid = screen.getByRole('grid', { name: 'Captured exchanges' });
    expect(grid).toHaveAttribute('aria-rowcount', '10001');
    const rows = within(grid).getAllByRole('row');
    // header + the rows of one viewport and the overscan, not 10,000
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(40);
    expect(
      within(grid)
        .getAllByRole('columnheader')
        .map(c => c.textContent),
    ).toEqual([
      'Time',
      'Instance',
      'Direction',
      'Peer',
      'Method',
      'Path',
      'Status',
      'Duration',
      'Size',
    ]);
    const first = rows[1];
    expect(first).toHaveTextContent('payments-7c9d-abcde');
    expect(first).toHaveTextContent('GET');
    expect(first).toHaveTextContent('/api/orders/');
    expect(first).toHaveTextContent('checkout-5d8f-xyz.checkout.pod');
    expect(first).toHaveTextContent('13 ms');
    // The direction in words; its icon is decoration, hidden from assistive technology.
    const direction = within(first).getAllByRole('gridcell')[2];
    expect(direction).toHaveTextContent(/^ ?(in|out)$/);
    expect(direction.querySelector('svg')).toHaveAttribute(
      'aria-hidden',
      'true',
    );
  });

  it('colours the status by class', () => {
    render(<Harness items={exchanges(8)} onOpen={() => {}} />);
    const classes = screen
      .getAllByText(/^(200|302|404|503)$/)
      .map(e => [e.textContent, e.getAttribute('data-status-class')]);
    expect(classes.slice(0, 4)).toEqual([
      ['200', '2xx'],
      ['302', '3xx'],
      ['404', '4xx'],
      ['503', '5xx'],
    ]);
    const colors = new Set(
      screen
        .getAllByText(/^(200|302|404|503)$/)
        .slice(0, 4)
        .map(e => getComputedStyle(e).color),
    );
    expect(colors.size).toBe(4);
  });

  it('moves the selection with the keyboard and opens with Enter', () => {
    const onOpen = jest.fn();
    render(<Harness items={exchanges(500)} onOpen={onOpen} />);
    const grid = screen.getByRole('grid');
    grid.focus();
    expect(grid).toHaveFocus();
    fireEvent.keyDown(grid, { key: 'ArrowDown' });
    expect(grid).toHaveAttribute('aria-activedescendant', 'traffic-row-ex-0');
    fireEvent.keyDown(grid, { key: 'ArrowDown' });
    fireEvent.keyDown(grid, { key: 'ArrowDown' });
    fireEvent.keyDown(grid, { key: 'ArrowUp' });
    expect(grid).toHaveAttribute('aria-activedescendant', 'traffic-row-ex-1');
    expect(document.getElementById('traffic-row-ex-1')).toHaveAttribute(
      'aria-selected',
      'true',
    );
    fireEvent.keyDown(grid, { key: 'Enter' });
    expect(onOpen).toHaveBeenLastCalledWith('ex-1');
    // End scrolls the virtual list so the last row is rendered and selected
    fireEvent.keyDown(grid, { key: 'End' });
    expect(grid).toHaveAttribute('aria-activedescendant', 'traffic-row-ex-499');
    expect(document.getElementById('traffic-row-ex-499')).toHaveAttribute(
      'aria-selected',
      'true',
    );
    fireEvent.keyDown(grid, { key: 'PageUp' });
    expect(grid).toHaveAttribute('aria-activedescendant', 'traffic-row-ex-489');
  });

  it('opens an exchange on click', () => {
    const onOpen = jest.fn();
    render(<Harness items={exchanges(3)} onOpen={onOpen} />);
    fireEvent.click(screen.getAllByRole('row')[2]);
    expect(onOpen).toHaveBeenCalledWith('ex-1');
  });
});
