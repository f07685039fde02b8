import {
  filtersFromSearch,
  filtersToQuery,
  filtersToSearch,
  isFiltered,
} from './trafficFilters';

describe('traffic filters in the URL', () => {
  it('round-trips every filter and keeps the parameters it does not own', () => {
    const filters = {
      instance: 'payments-7c9d-abcde/spider-x',
      method: 'POST',
      status: '5xx',
      q: 'orders',
      peer: '10.0.0.7',
      direction: 'outbound' as const,
      range: 'custom' as const,
      since: '2026-12-01T10:00:00.000Z',
      until: '2026-12-01T11:00:00.000Z',
      errors: true,
    };
    const search = filtersToSearch(
      filters,
      new URLSearchParams('exchange=ex-1&view=map&instance=old'),
    );
    expect(search.get('exchange')).toBe('ex-1');
    expect(search.get('view')).toBe('map');
    expect(filtersFromSearch(new URLSearchParams(search.toString()))).toEqual(
      filters,
    );
  });

  it('drops values the API would refuse (old or hand-edited links)', () => {
    const f = filtersFromSearch(
      new URLSearchParams(
        'instance=Bad_Pod!&method=G3T&status=77&range=1y&direction=sideways&since=nope',
      ),
    );
    expect(f).toEqual({});
    expect(isFiltered(f)).toBe(false);
  });

  it('turns a relative range into since, and errors only into status=error', () => {
    const now = Date.parse('2026-12-01T12:00:00.000Z');
    expect(filtersToQuery({ range: '15m', errors: true, q: 'x' }, now)).toEqual(
      {
        since: '2026-12-01T11:45:00.000Z',
        status: 'error',
        q: 'x',
      },
    );
    // A 5xx is already an error: errors only does not widen it.
    expect(filtersToQuery({ status: '5xx', errors: true }, now)).toEqual({
      status: '5xx',
    });
    expect(filtersFromSearch(new URLSearchParams('status=error'))).toEqual({
      errors: true,
    });
  });
});
