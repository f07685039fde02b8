import { useState } from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { ViewTabs } from './ViewTabs';

function Harness() {
  const [v, setV] = useState<'list' | 'map'>('list');
  return (
    <>
      <ViewTabs
        value={v}
        onChange={setV}
        label="Traffic views"
        tabs={[
          { value: 'list', label: 'Exchanges' },
          { value: 'map', label: 'Map' },
        ]}
      />
      <span data-testid="view">{v}</span>
    </>
  );
}

describe('ViewTabs', () => {
  it('is a tab list: one selected tab, clicks and arrow keys switch', () => {
    render(<Harness />);
    expect(
      screen.getByRole('tablist', { name: 'Traffic views' }),
    ).toBeInTheDocument();
    const list = screen.getByRole('tab', { name: 'Exchanges' });
    const map = screen.getByRole('tab', { name: 'Map' });
    expect(list).toHaveAttribute('aria-selected', 'true');
    expect(map).toHaveAttribute('aria-selected', 'false');
    expect(map).toHaveAttribute('tabindex', '-1');

    fireEvent.click(map);
    expect(screen.getByTestId('view')).toHaveTextContent('map');
    expect(map).toHaveAttribute('aria-selected', 'true');

    fireEvent.keyDown(map, { key: 'ArrowRight' });
    expect(screen.getByTestId('view')).toHaveTextContent('list');
    expect(list).toHaveFocus();
    fireEvent.keyDown(list, { key: 'End' });
    expect(screen.getByTestId('view')).toHaveTextContent('map');
    expect(map).toHaveFocus();
  });
});
