import { Packet } from 'dns2';

/**
 * Builds DNS messages with dns2's codec: an implementation independent of wire.ts, so
 * tests check the agent's hand-written wire code against it rather than against itself.
 */
export function makeQuery(
  name: string,
  type: number,
  options: { id?: number; edns?: boolean; rd?: boolean } = {},
): Buffer {
  const p = new Packet();
  p.header.id = options.id ?? 0x1234;
  p.header.rd = options.rd === false ? 0 : 1;
  p.questions.push({ name, type, class: Packet.CLASS.IN } as any);
  if (options.edns) p.additionals.push(Packet.Resource.EDNS([]));
  return p.toBuffer();
}

export function decode(buf: Buffer): any {
  return Packet.parse(buf);
}

export { Packet };
