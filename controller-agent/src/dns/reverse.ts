/**
 * Reverse-lookup names (RFC 1035 §3.5 in-addr.arpa, RFC 3596 ip6.arpa) to and from IP
 * addresses in the canonical text form Kubernetes reports pod and Service IPs in
 * (dotted quad; RFC 5952 compressed lower-case IPv6).
 */

const V4_SUFFIX = '.in-addr.arpa';
const V6_SUFFIX = '.ip6.arpa';
const OCTET = /^(0|[1-9]\d{0,2})$/;
const NIBBLE = /^[0-9a-f]$/;

/**
 * The IP a full reverse name stands for, or undefined (a partial name such as
 * `10.in-addr.arpa`, a non-canonical octet like `010`, or anything else).
 * `name` is lower-case without the trailing dot, as `parseQuery` gives it.
 */
export function ipFromReverseName(name: string): string | undefined {
  if (name.endsWith(V4_SUFFIX)) {
    const parts = name.slice(0, -V4_SUFFIX.length).split('.');
    if (parts.length !== 4) return undefined;
    for (const p of parts) {
      if (!OCTET.test(p) || Number(p) > 255) return undefined;
    }
    return `${parts[3]}.${parts[2]}.${parts[1]}.${parts[0]}`;
  }
  if (name.endsWith(V6_SUFFIX)) {
    const nibbles = name.slice(0, -V6_SUFFIX.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every(n => NIBBLE.test(n)))
      return undefined;
    const hex = nibbles.reverse().join('');
    const groups: number[] = [];
    for (let i = 0; i < 32; i += 4)
      groups.push(parseInt(hex.slice(i, i + 4), 16));
    return formatIpv6(groups);
  }
  return undefined;
}

/** RFC 5952: lower-case, no leading zeros, the longest run (≥2) of zero groups as `::`. */
export function formatIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map(g => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex
    .slice(bestStart + bestLength)
    .join(':')}`;
}

/** Parses an IPv6 address (with `::`, optionally an embedded dotted quad) into 8 groups. */
export function parseIpv6(text: string): number[] | undefined {
  if (text.length > 45 || !/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let body = text;
  const tail: number[] = [];
  if (text.includes('.')) {
    // An embedded dotted quad (RFC 4291 §2.2 form 3) stands for the last two groups.
    const lastColon = text.lastIndexOf(':');
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    const prefix = text.slice(0, lastColon + 1);
    body = prefix.endsWith('::') ? prefix : prefix.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  if (!head || !rest) return undefined;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 2) {
    if (known > 7) return undefined;
    return [...head, ...new Array(8 - known).fill(0), ...rest, ...tail];
  }
  return known === 8 ? [...head, ...tail] : undefined;
}

export function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!OCTET.test(p) || Number(p) > 255) return undefined;
    out.push(Number(p));
  }
  return out;
}

/** The canonical text of an IP address, or undefined when `text` is not one. */
export function canonicalIp(text: string): string | undefined {
  if (parseIpv4(text)) return text;
  const v6 = parseIpv6(text);
  return v6 ? formatIpv6(v6) : undefined;
}

/** The reverse-lookup name of an IP (lower-case, no trailing dot), or undefined. */
export function reverseNameOf(ip: string): string | undefined {
  const v4 = parseIpv4(ip);
  if (v4) return `${v4[3]}.${v4[2]}.${v4[1]}.${v4[0]}${V4_SUFFIX}`;
  const v6 = parseIpv6(ip);
  if (!v6) return undefined;
  const hex = v6.map(g => g.toString(16).padStart(4, '0')).join('');
  return `${hex.split('').reverse().join('.')}${V6_SUFFIX}`;
}

/** Wire-format address bytes for A (4) or AAAA (16) records. */
export function addressBytes(ip: string): Buffer | undefined {
  const v4 = parseIpv4(ip);
  if (v4) return Buffer.from(v4);
  const v6 = parseIpv6(ip);
  if (!v6) return undefined;
  const out = Buffer.alloc(16);
  v6.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
