import { TestDatabaseId, TestDatabases } from '@backstage/backend-test-utils';
import { Knex } from 'knex';
import {
  AttachmentStatus,
  WhispererInstance,
} from '@spider/backstage-plugin-spider-common';
import { testDatabaseIds } from '../__testUtils__/testDatabaseIds';
import { clearSpiderTables } from '../__testUtils__/clearSpiderTables';
import { migrationsDir } from './migrations';
import {
  AttachmentLimitError,
  AttachmentsStore,
  CreateAttachmentInput,
  DatabaseAttachmentsStore,
  nextStatus,
} from './AttachmentsStore';
import { ControllersStore, DatabaseControllersStore } from './ControllersStore';

jest.setTimeout(120_000);

const databases = TestDatabases.create({ ids: testDatabaseIds() });

const WHISPERER = {
  id: '11111111-1111-4111-8111-111111111111',
  name: 'http',
  image: 'spider-whisperer:1',
  captureFilter: 'tcp port 80',
  env: { LEVEL: 'debug' },
};
const OTHER_WHISPERER = {
  ...WHISPERER,
  id: '22222222-2222-4222-8222-222222222222',
  name: 'dns',
};
const ALL = { include: '*' as const, exclude: [] };

function instance(
  pod: string,
  state: WhispererInstance['state'] = 'running',
): WhispererInstance {
  return {
    pod,
    container: 'spider-w-1',
    node: 'node-1',
    podIp: '10.0.0.1',
    state,
    reason: null,
    message: null,
    startedAt: '2026-12-02T00:00:00.000Z',
    finishedAt: null,
    exitCode: null,
    generation: 0,
  };
}

describe.each(databases.eachSupportedId())(
  'AttachmentsStore on %p',
  (id: TestDatabaseId) => {
    let knex: Knex;
    let controllers: ControllersStore;
    let store: AttachmentsStore;
    let c1: string;
    let c2: string;

    beforeAll(async () => {
      knex = await databases.init(id);
      await knex.migrate.latest({ directory: migrationsDir });
      controllers = new DatabaseControllersStore(knex);
      store = new DatabaseAttachmentsStore(knex);
    });

    beforeEach(async () => {
      await clearSpiderTables(knex);
      c1 = (await controllers.create({ name: 'c1', owner: 'user:default/o' }))
        .controller.id;
      c2 = (await controllers.create({ name: 'c2', owner: 'user:default/o' }))
        .controller.id;
    });

    function attach(over: Partial<CreateAttachmentInput> = {}) {
      return store.create({
        controllerId: c1,
        whisperer: WHISPERER,
        target: { namespace: 'shop', kind: 'Deployment', name: 'cart' },
        createdBy: 'user:default/a',
        createdAt: Date.now(),
        expiresAt: null,
        ...over,
      });
    }

    async function revisionOf(controllerId: string) {
      return (await controllers.get(controllerId))!.revision;
    }

    it('creates a pending attachment, bumps the revision, and keeps the whisperer as it was', async () => {
      const first = await attach({ entityRef: 'component:default/cart' });
      expect(first.revision).toBe(1);
      expect(first.attachment).toMatchObject({
        controllerId: c1,
        whispererId: WHISPERER.id,
        whispererName: 'http',
        target: { namespace: 'shop', kind: 'Deployment', name: 'cart' },
        createdBy: 'user:default/a',
        status: 'pending',
        expiresAt: null,
        message: null,
        detachedAt: null,
        instances: [],
      });
      const second = await attach({
        target: { namespace: 'shop', kind: 'StatefulSet', name: 'db' },
        expiresAt: Date.parse('2030-01-01T00:00:00Z'),
      });
      expect(second.revision).toBe(2);
      expect(await revisionOf(c1)).toBe(2);
      expect(await revisionOf(c2)).toBe(0);
      expect(await store.desiredOne(second.attachment.id)).toEqual({
        id: second.attachment.id,
        target: { namespace: 'shop', kind: 'StatefulSet', name: 'db' },
        whisperer: WHISPERER,
        expiresAt: '2030-01-01T00:00:00.000Z',
      });
      expect((await store.desiredFor(c1)).map(d => d.id)).toEqual([
        first.attachment.id,
        second.attachment.id,
      ]);
      expect(await store.desiredFor(c2)).toEqual([]);
      expect(await store.get(first.attachment.id)).toEqual(first.attachment);
      // What create hands back for the agent is what a read gives.
      expect(second.desired).toEqual(
        await store.desiredOne(second.attachment.id),
      );
      expect(first.desired).toEqual(
        await store.desiredOne(first.attachment.id),
      );
      expect(await store.desiredIdsFor(c1)).toEqual([
        first.attachment.id,
        second.attachment.id,
      ]);
      expect(await store.desiredIdsFor(c2)).toEqual([]);
    });

    it('refuses a second live attachment of the same whisperer and target with 409, writing nothing; after a detach it may attach again', async () => {
      const { attachment } = await attach();
      await expect(attach()).rejects.toMatchObject({
        name: 'ConflictError',
        message: expect.stringContaining('already attached'),
      });
      expect(await revisionOf(c1)).toBe(1);
      expect(
        Number((await knex('spider_attachments').count({ n: '*' }))[0].n),
      ).toBe(1);
      // Another whisperer, another Controller: not the same attachment.
      await attach({ whisperer: OTHER_WHISPERER });
      await attach({ controllerId: c2 });
      await store.detach(attachment.id, 'user:default/a', 'done', false);
      const again = await attach();
      expect(again.attachment.id).not.toBe(attachment.id);
    });

    it('counts live attachments against the limits of the Controller and the user; ended ones do not count, refused ones write nothing', async () => {
      const limits = { perController: 2, perUser: 3 };
      const a = await attach({ limits });
      await attach({
        target: { namespace: 'shop', kind: 'Deployment', name: 'b' },
        limits,
      });
      const before = await revisionOf(c1);
      const refused = attach({
        target: { namespace: 'shop', kind: 'Deployment', name: 'c' },
        limits,
      });
      await expect(refused).rejects.toBeInstanceOf(AttachmentLimitError);
      await expect(refused).rejects.toMatchObject({
        scope: 'controller',
        limit: 2,
      });
      expect(await revisionOf(c1)).toBe(before);
      expect((await store.countLiveByController([c1])).get(c1)).toBe(2);

      // The user's third live attachment, on the other Controller, is within limits.
      await attach({ controllerId: c2, limits });
      await expect(
        attach({
          controllerId: c2,
          target: { namespace: 'shop', kind: 'Deployment', name: 'x' },
          limits,
        }),
      ).rejects.toMatchObject({ scope: 'user', limit: 3 });
      // Another user is not held by the first one's count.
      await attach({
        controllerId: c2,
        createdBy: 'user:default/b',
        target: { namespace: 'shop', kind: 'Deployment', name: 'x' },
        limits,
      });

      // A detached attachment frees its place.
      await store.detach(a.attachment.id, 'user:default/a', 'done', false);
      await attach({
        target: { namespace: 'shop', kind: 'Deployment', name: 'c' },
        limits,
      });
      expect(
        Object.fromEntries(await store.countLiveByController([c1, c2])),
      ).toEqual({ [c1]: 2, [c2]: 2 });
      expect(await store.countLiveByController([])).toEqual(new Map());
    });

    it('lists newest first within the caller scopes, filters in SQL, and pages with a cursor', async () => {
      const t0 = Date.parse('2026-12-01T00:00:00Z');
      const made: Record<string, string> = {};
      // Two share a created_at: the id breaks the tie, so no page repeats or skips one.
      const rows: Array<[string, string, number, string?]> = [
        ['shop', 'a', t0, 'component:default/cart'],
        ['shop', 'b', t0 + 1000],
        ['pay', 'c', t0 + 2000, 'component:default/cart'],
        ['pay', 'd', t0 + 2000],
        ['kube-system', 'e', t0 + 3000],
      ];
      for (const [namespace, name, createdAt, entityRef] of rows) {
        made[name] = (
          await attach({
            target: { namespace, kind: 'Deployment', name },
            createdAt,
            entityRef,
          })
        ).attachment.id;
      }
      const onC2 = (await attach({ controllerId: c2, createdAt: t0 + 5000 }))
        .attachment.id;
      await store.detach(made.b, 'user:default/a', 'done', false);

      const names = (items: Array<{ target: { name: string } }>) =>
        items.map(i => i.target.name);
      const all = await store.list({
        scopes: [
          { controllerId: c1, access: ALL },
          { controllerId: c2, access: ALL },
        ],
        limit: 10,
      });
      expect(all.totalCount).toBe(6);
      expect(all.items[0].id).toBe(onC2);
      const tie = [made.c, made.d].sort().reverse();
      expect(all.items.slice(1).map(i => i.id)).toEqual([
        made.e,
        ...tie,
        made.b,
        made.a,
      ]);
      expect(all.nextCursor).toBeUndefined();

      // A partial scope: only its namespaces, on its Controller only.
      const partial = await store.list({
        scopes: [
          {
            controllerId: c1,
            access: { include: '*', exclude: ['kube-system'] },
          },
        ],
        limit: 10,
      });
      expect(names(partial.items).sort()).toEqual(['a', 'b', 'c', 'd']);
      const included = await store.list({
        scopes: [
          { controllerId: c1, access: { include: ['pay'], exclude: [] } },
        ],
        limit: 10,
      });
      expect(names(included.items).sort()).toEqual(['c', 'd']);
      expect(await store.list({ scopes: [], limit: 10 })).toEqual({
        items: [],
        totalCount: 0,
      });

      const scopes = [{ controllerId: c1, access: ALL }];
      expect(
        names(
          (await store.list({ scopes, statuses: ['detached'], limit: 10 }))
            .items,
        ),
      ).toEqual(['b']);
      expect(
        names(
          (
            await store.list({
              scopes,
              entityRef: 'component:default/cart',
              limit: 10,
            })
          ).items,
        ),
      ).toEqual(['c', 'a']);
      expect(
        (await store.list({ scopes, namespace: 'pay', limit: 10 })).totalCount,
      ).toBe(2);
      expect(
        (
          await store.list({
            scopes,
            whispererId: OTHER_WHISPERER.id,
            limit: 10,
          })
        ).totalCount,
      ).toBe(0);

      // Pages of two: every attachment once, in order, the count of all on each page.
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list({ scopes, limit: 2, cursor });
        expect(page.totalCount).toBe(5);
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map(i => i.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual([made.e, ...tie, made.b, made.a]);

      await expect(
        store.list({ scopes, limit: 2, cursor: 'bm90LWEtY3Vyc29y' }),
      ).rejects.toMatchObject({ name: 'InputError' });
    });

    it('applies an agent report: instances replaced, status moved, other Controllers untouched', async () => {
      const mine = (await attach()).attachment.id;
      const theirs = (await attach({ controllerId: c2 })).attachment.id;

      const changed = await store.applyAgentReport(c1, [
        {
          attachmentId: mine,
          phase: 'active',
          message: null,
          instances: [instance('cart-2'), instance('cart-1')],
        },
        // Another Controller's attachment in this agent's report is ignored.
        {
          attachmentId: theirs,
          phase: 'failed',
          message: 'not yours',
          instances: [instance('x')],
        },
      ]);
      expect(changed).toEqual([mine]);
      const active = await store.getOrThrow(mine);
      expect(active.status).toBe('active');
      expect(active.instances.map(i => i.pod)).toEqual(['cart-1', 'cart-2']);
      expect(active.instances[0]).toEqual(instance('cart-1'));
      expect(await store.getOrThrow(theirs)).toMatchObject({
        status: 'pending',
        message: null,
        instances: [],
      });

      // The next report replaces the instances, it does not add to them.
      await store.applyAgentReport(c1, [
        {
          attachmentId: mine,
          phase: 'failed',
          message: 'ImagePullBackOff',
          instances: [instance('cart-1', 'failed')],
        },
      ]);
      expect(await store.getOrThrow(mine)).toMatchObject({
        status: 'failed',
        message: 'ImagePullBackOff',
        instances: [{ pod: 'cart-1', state: 'failed' }],
      });
      // A report of more instances than one insert batch keeps them all.
      const many = Array.from({ length: 450 }, (_, i) =>
        instance(`pod-${String(i).padStart(3, '0')}`),
      );
      await store.applyAgentReport(c1, [
        { attachmentId: mine, phase: 'active', message: null, instances: many },
      ]);
      expect((await store.getOrThrow(mine)).instances).toHaveLength(450);
      expect(await store.applyAgentReport(c1, [])).toEqual([]);
    });

    it('detaches: detaching while the connected agent runs instances, detached otherwise; idempotent; 404 when missing', async () => {
      const running = (await attach()).attachment.id;
      await store.applyAgentReport(c1, [
        {
          attachmentId: running,
          phase: 'active',
          message: null,
          instances: [instance('cart-1')],
        },
      ]);
      const idle = (
        await attach({
          target: { namespace: 'shop', kind: 'Pod', name: 'p' },
        })
      ).attachment.id;
      const rev = await revisionOf(c1);

      const d1 = await store.detach(running, 'user:default/b', 'by hand', true);
      expect(d1.changed).toBe(true);
      expect(d1.revision).toBe(rev + 1);
      expect(d1.attachment).toMatchObject({
        status: 'detaching',
        detachedBy: 'user:default/b',
        detachReason: 'by hand',
      });
      expect(d1.attachment.detachedAt).not.toBeNull();
      // Not desired any more: the agent's next welcome leaves it out.
      expect((await store.desiredFor(c1)).map(d => d.id)).toEqual([idle]);
      expect(await store.desiredIdsFor(c1)).toEqual([idle]);
      expect(
        (await store.desiredMany([running, idle, 'no-such-id'])).map(d => d.id),
      ).toEqual([idle]);
      expect(await store.desiredMany([])).toEqual([]);

      const d2 = await store.detach(idle, 'user:default/b', 'by hand', true);
      expect(d2.attachment.status).toBe('detached');
      const offline = (
        await attach({ target: { namespace: 'shop', kind: 'Job', name: 'j' } })
      ).attachment.id;
      await store.applyAgentReport(c1, [
        {
          attachmentId: offline,
          phase: 'active',
          message: null,
          instances: [instance('j-1')],
        },
      ]);
      expect(
        (await store.detach(offline, 'user:default/b', 'x', false)).attachment
          .status,
      ).toBe('detached');

      // Again: nothing changes, no revision.
      const again = await store.detach(running, 'user:default/c', 'y', true);
      expect(again).toEqual({ attachment: d1.attachment, changed: false });
      // The agent's confirmation ends the detach; a later 'active' cannot revive it.
      await store.applyAgentReport(c1, [
        {
          attachmentId: running,
          phase: 'stopped',
          message: null,
          instances: [instance('cart-1', 'terminated')],
        },
      ]);
      expect((await store.getOrThrow(running)).status).toBe('detached');
      await store.applyAgentReport(c1, [
        {
          attachmentId: running,
          phase: 'active',
          message: null,
          instances: [],
        },
      ]);
      expect((await store.getOrThrow(running)).status).toBe('detached');

      const missing = '00000000-0000-4000-8000-000000000000';
      await expect(
        store.detach(missing, 'user:default/b', 'x', true),
      ).rejects.toMatchObject({ name: 'NotFoundError' });
      await expect(store.getOrThrow(missing)).rejects.toMatchObject({
        name: 'NotFoundError',
      });
      expect(await store.get(missing)).toBeUndefined();
      expect(await store.desiredOne(missing)).toBeUndefined();
    });

    it('expires live attachments whose time ran out, once, and tells the next expiry', async () => {
      const now = Date.parse('2026-12-02T12:00:00Z');
      expect(await store.nextExpiry()).toBeNull();
      const past = (
        await attach({
          target: { namespace: 'shop', kind: 'Deployment', name: 'past' },
          expiresAt: now - 1000,
        })
      ).attachment;
      const atNow = (
        await attach({
          controllerId: c2,
          target: { namespace: 'shop', kind: 'Deployment', name: 'now' },
          expiresAt: now,
        })
      ).attachment;
      const later = (
        await attach({
          target: { namespace: 'shop', kind: 'Deployment', name: 'later' },
          expiresAt: now + 60_000,
        })
      ).attachment;
      await attach({
        target: { namespace: 'shop', kind: 'Deployment', name: 'never' },
      });
      // A detached one with a passed expiry is not due.
      const gone = (
        await attach({
          target: { namespace: 'shop', kind: 'Deployment', name: 'gone' },
          expiresAt: now - 5000,
        })
      ).attachment;
      await store.detach(gone.id, 'user:default/a', 'done', false);

      expect(await store.nextExpiry()).toBe(now - 1000);
      const due = await store.dueForExpiry(now);
      expect(due).toHaveLength(2);
      expect(due).toEqual(
        expect.arrayContaining([
          { id: past.id, controllerId: c1 },
          { id: atNow.id, controllerId: c2 },
        ]),
      );
      expect(await store.dueForExpiry(now, 1)).toHaveLength(1);

      const rev = await revisionOf(c1);
      expect(await store.expire(past.id, c1, now)).toBe(rev + 1);
      // A second replica's expire of the same one changes nothing.
      expect(await store.expire(past.id, c1, now)).toBeUndefined();
      expect(await revisionOf(c1)).toBe(rev + 1);
      expect(await store.getOrThrow(past.id)).toMatchObject({
        status: 'expired',
        detachedBy: 'system:spider/expiry',
        detachReason: 'time to live ran out',
        detachedAt: new Date(now).toISOString(),
      });
      expect(await store.expire(atNow.id, c2, now)).toBe(2);
      expect(await store.dueForExpiry(now)).toEqual([]);
      expect(await store.nextExpiry()).toBe(now + 60_000);
      // An expired attachment is not detached again.
      expect(
        (await store.detach(past.id, 'user:default/a', 'x', true)).changed,
      ).toBe(false);
      expect((await store.desiredFor(c1)).map(d => d.id)).not.toContain(
        past.id,
      );
      expect((await store.desiredFor(c1)).map(d => d.id)).toContain(later.id);
    });

    it('tells every visible id of a Controller, past 500, and counts live ones per Whisperer', async () => {
      // Rows written directly: 520 creates (a transaction each) would take most of the
      // test's time on a loaded machine; the chunking of visibleIds is what is tested.
      const first = (await attach()).attachment;
      const row = await knex('spider_attachments')
        .where({ id: first.id })
        .first();
      const ids = [
        first.id,
        ...Array.from(
          { length: 519 },
          (_, i) =>
            `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
        ),
      ];
      await knex.batchInsert(
        'spider_attachments',
        ids.slice(1).map((attachmentId, i) => ({
          ...row,
          id: attachmentId,
          target_namespace: (i + 1) % 2 ? 'odd' : 'even',
          target_kind: 'Pod',
          target_name: `p-${i + 1}`,
        })),
        100,
      );
      const other = (await attach({ controllerId: c2 })).attachment.id;
      const asked = [...ids, other, '00000000-0000-4000-8000-000000000000'];
      expect((await store.visibleIds(c1, ALL, asked)).size).toBe(520);
      const odd = await store.visibleIds(
        c1,
        { include: ['odd'], exclude: [] },
        asked,
      );
      expect(odd.size).toBe(260);
      expect(odd.has(ids[1])).toBe(true);
      expect(odd.has(ids[0])).toBe(false);
      expect(
        (await store.visibleIds(c1, { include: '*', exclude: ['odd'] }, asked))
          .size,
      ).toBe(260);
      expect(
        (await store.visibleIds(c1, { include: [], exclude: [] }, asked)).size,
      ).toBe(0);

      // desiredMany reads any number of ids (in chunks), each once.
      const desired = await store.desiredMany(asked);
      expect(desired).toHaveLength(521);
      expect(new Set(desired.map(d => d.id))).toEqual(new Set([...ids, other]));
      expect(desired.find(d => d.id === ids[1])).toMatchObject({
        target: { namespace: 'odd', kind: 'Pod', name: 'p-1' },
        whisperer: WHISPERER,
      });
      expect(await store.desiredIdsFor(c1)).toHaveLength(520);

      expect(await store.countLiveByWhisperer(WHISPERER.id)).toBe(521);
      await store.detach(other, 'user:default/a', 'done', false);
      expect(await store.countLiveByWhisperer(WHISPERER.id)).toBe(520);
      expect(await store.countLiveByWhisperer(OTHER_WHISPERER.id)).toBe(0);

      // A page as large as the API allows carries every attachment's instances.
      await store.applyAgentReport(
        c1,
        ids.map(attachmentId => ({
          attachmentId,
          phase: 'active' as const,
          message: null,
          instances: [instance('p')],
        })),
      );
      const page = await store.list({
        scopes: [{ controllerId: c1, access: ALL }],
        limit: 510,
      });
      expect(page.items).toHaveLength(510);
      expect(page.items.every(a => a.instances.length === 1)).toBe(true);
    });

    it('goes with its Controller: deleting one removes its attachments and their instances, not the others', async () => {
      const mine = (await attach()).attachment.id;
      const theirs = (await attach({ controllerId: c2 })).attachment.id;
      for (const [controllerId, attachmentId] of [
        [c1, mine],
        [c2, theirs],
      ]) {
        await store.applyAgentReport(controllerId, [
          {
            attachmentId,
            phase: 'active',
            message: null,
            instances: [instance('cart-1')],
          },
        ]);
      }
      expect(await controllers.delete(c1)).toBe(true);
      expect(await store.get(mine)).toBeUndefined();
      expect(
        await knex('spider_instances').where({ attachment_id: mine }),
      ).toEqual([]);
      expect((await store.getOrThrow(theirs)).instances).toHaveLength(1);
      expect(await store.desiredFor(c1)).toEqual([]);
    });
  },
);

describe('nextStatus', () => {
  it.each<
    [AttachmentStatus, Parameters<typeof nextStatus>[1], AttachmentStatus]
  >([
    ['pending', 'active', 'active'],
    ['pending', 'failed', 'failed'],
    ['pending', 'stopped', 'pending'],
    ['pending', 'expired', 'expired'],
    ['failed', 'active', 'active'],
    ['active', 'failed', 'failed'],
    ['detaching', 'active', 'detaching'],
    ['detaching', 'failed', 'detaching'],
    ['detaching', 'stopped', 'detached'],
    ['detaching', 'expired', 'detached'],
    ['detached', 'active', 'detached'],
    ['expired', 'active', 'expired'],
  ])('%s + agent %s -> %s', (current, phase, next) => {
    expect(nextStatus(current, phase)).toBe(next);
  });
});
