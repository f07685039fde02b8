import { MemoryPodDirectory, pod } from '../testUtils/MemoryPodDirectory';
import { decode, makeQuery } from '../testUtils/dnsMessages';
import { AnswerTable, checkHostAliases } from './AnswerTable';
import { buildResponse, DNS_TYPE, parseQuery } from './wire';

const options = {
  zone: 'cluster.local',
  ptrTtl: 5,
  aliasTtl: 30,
  maxMemo: 1000,
};

/** Answers `name`/`type` through the table and decodes the response with dns2. */
function ask(table: AnswerTable, name: string, type: number) {
  const raw = makeQuery(name, type);
  const parsed = parseQuery(raw);
  if (parsed.kind !== 'query') throw new Error('bad query');
  const local = table.lookup(parsed.query.name, type);
  if (!local) return undefined;
  return decode(
    buildResponse(raw, parsed.query, 0, local.records, local.count, {
      authoritative: true,
      limit: 4096,
    }),
  );
}

describe('AnswerTable', () => {
  it('answers PTR for pods and Services, and nothing for unknown IPs', () => {
    const dir = new MemoryPodDirectory()
      .setPod(pod('10.244.1.7', 'web-abc', 'shop'))
      .setPod(pod('fd00::7', 'solo', 'ops', null))
      .setService('10.96.0.10', { name: 'api', namespace: 'shop' });
    const table = new AnswerTable(dir, [], options);
    expect(
      ask(table, '7.1.244.10.in-addr.arpa', DNS_TYPE.PTR).answers[0],
    ).toMatchObject({
      domain: 'web-abc.web.deployment.shop.pod.cluster.local',
      ttl: 5,
    });
    const v6 = `7.0.0.0${'.0'.repeat(24)}.0.0.d.f.ip6.arpa`;
    expect(ask(table, v6, DNS_TYPE.PTR).answers[0].domain).toBe(
      'solo.ops.pod.cluster.local',
    );
    expect(
      ask(table, '10.0.96.10.in-addr.arpa', DNS_TYPE.PTR).answers[0].domain,
    ).toBe('api.shop.svc.cluster.local');
    // A known reverse name asked for another type: the name exists, no such data.
    expect(
      ask(table, '7.1.244.10.in-addr.arpa', DNS_TYPE.A).answers,
    ).toHaveLength(0);
    expect(
      table.lookup('8.1.244.10.in-addr.arpa', DNS_TYPE.PTR),
    ).toBeUndefined();
    expect(table.lookup('example.org', DNS_TYPE.A)).toBeUndefined();
  });

  it('follows the directory: a pod appearing or going changes the next answer', () => {
    const dir = new MemoryPodDirectory();
    const table = new AnswerTable(dir, [], options);
    const name = '9.1.244.10.in-addr.arpa';
    expect(table.lookup(name, DNS_TYPE.PTR)).toBeUndefined();
    dir.setPod(pod('10.244.1.9', 'new-pod'));
    expect(ask(table, name, DNS_TYPE.PTR).answers[0].domain).toMatch(
      /^new-pod\./,
    );
    dir.removePod('10.244.1.9');
    expect(table.lookup(name, DNS_TYPE.PTR)).toBeUndefined();
    table.close();
    expect(dir.listenerCount).toBe(0);
  });

  it('answers host aliases for A, AAAA, PTR and NODATA for other types', () => {
    const table = new AnswerTable(
      new MemoryPodDirectory(),
      [
        { ip: '10.0.0.5', hostnames: ['DB.Internal', 'db'] },
        { ip: '10.0.0.6', hostnames: ['db.internal'] },
        { ip: '2001:db8::5', hostnames: ['db.internal'] },
      ],
      options,
    );
    const a = ask(table, 'db.internal', DNS_TYPE.A);
    expect(a.answers.map((r: any) => r.address)).toEqual([
      '10.0.0.5',
      '10.0.0.6',
    ]);
    expect(a.answers[0].ttl).toBe(30);
    expect(ask(table, 'db.internal', DNS_TYPE.AAAA).answers).toHaveLength(1);
    expect(ask(table, 'db.internal', DNS_TYPE.MX).answers).toHaveLength(0);
    expect(ask(table, 'db', DNS_TYPE.AAAA).answers).toHaveLength(0);
    expect(
      ask(table, '5.0.0.10.in-addr.arpa', DNS_TYPE.PTR).answers[0].domain,
    ).toBe('db.internal');
  });

  it('keeps the memo of reverse names bounded', () => {
    const table = new AnswerTable(new MemoryPodDirectory(), [], {
      ...options,
      maxMemo: 10,
    });
    for (let i = 0; i < 1000; i++)
      table.lookup(`${i % 256}.${i >> 8}.0.10.in-addr.arpa`, DNS_TYPE.PTR);
    expect((table as any).memo.size).toBeLessThanOrEqual(10);
  });

  it('answers a name a fast path is taught without keeping it in its own memo, and current', () => {
    const dir = new MemoryPodDirectory().setPod(
      pod('10.244.1.7', 'web-abc', 'shop'),
    );
    const table = new AnswerTable(dir, [], options);
    const name = '7.1.244.10.in-addr.arpa';
    const ptr = table.lookup(name, DNS_TYPE.PTR, false);
    expect(ptr?.count).toBe(1);
    expect((table as any).memo.size).toBe(0);
    // The same bytes as a remembered answer.
    expect(table.lookup(name, DNS_TYPE.PTR)?.records).toEqual(ptr?.records);
    expect((table as any).memo.size).toBe(1);
  });

  it('refuses invalid host aliases', () => {
    expect(
      checkHostAliases([{ ip: '10.0.0.300', hostnames: ['x'] }]),
    ).toHaveLength(1);
    expect(
      checkHostAliases([{ ip: '10.0.0.3', hostnames: ['bad host'] }]),
    ).toHaveLength(1);
    expect(checkHostAliases([{ ip: '10.0.0.3', hostnames: [] }])).toHaveLength(
      1,
    );
    expect(
      () =>
        new AnswerTable(
          new MemoryPodDirectory(),
          [{ ip: 'x', hostnames: ['a'] }],
          options,
        ),
    ).toThrow(/invalid host aliases/);
  });
});
