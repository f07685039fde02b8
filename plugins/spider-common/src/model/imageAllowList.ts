/**
 * Which whisperer images may be injected: the cluster admin's list (chart value
 * `whisperers.allowedImages`, enforced by the agent before any PATCH) and the portal's
 * (`spider.whisperers.allowedImages`, enforced when a Whisperer is saved).
 *
 * Matching compares parsed references component by component, never substrings, so
 * `evil.example/spider/whisperer` does not match `spider/whisperer`. A reference whose
 * first path component has no `.` or `:` and is not `localhost` names no registry (the
 * container runtime's default one); such names match only patterns that name no registry
 * either, and a single-component name means `library/<name>`, as the runtimes read it.
 */

/** The project's own whisperer image, allowed by default on both sides. */
export const DEFAULT_ALLOWED_WHISPERER_IMAGES: readonly string[] = [
  'spider/whisperer:*',
];

export interface ImageReference {
  /** Lower-cased registry host[:port]; null = the runtime's default registry. */
  registry: string | null;
  /** Path components, e.g. ['spider', 'whisperer']. */
  path: string[];
  tag: string | null;
  digest: string | null;
}

export interface ImagePattern {
  text: string;
  registry: string | null;
  /** Exact path components; with `anyRepository`, a prefix. */
  path: string[];
  /** `registry/team/*`: every repository under the prefix, any tag or digest. */
  anyRepository: boolean;
  /** null with digest null: any tag or digest (`repo:*` or a bare `repo`). */
  tag: string | null;
  digest: string | null;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;
const REGISTRY = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$/;

function looksLikeRegistry(component: string): boolean {
  return (
    component.includes('.') ||
    component.includes(':') ||
    component === 'localhost'
  );
}

interface Split {
  registry: string | null;
  path: string[];
  tag: string | null;
  digest: string | null;
}

function split(text: string): Split | string {
  if (text.length === 0 || text.length > 512)
    return 'must be 1 to 512 characters';
  if (/\s/.test(text)) return 'must not contain spaces';
  let rest = text;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const components = rest.split('/');
  let registry: string | null = null;
  if (components.length > 1 && looksLikeRegistry(components[0])) {
    registry = components.shift()!.toLowerCase();
    if (!REGISTRY.test(registry)) return `"${registry}" is not a registry host`;
  }
  let tag: string | null = null;
  const last = components[components.length - 1];
  const colon = last.indexOf(':');
  if (colon >= 0) {
    tag = last.slice(colon + 1);
    components[components.length - 1] = last.slice(0, colon);
  }
  return { registry, path: components, tag, digest };
}

function normalisePath(registry: string | null, path: string[]): string[] {
  return registry === null && path.length === 1 ? ['library', ...path] : path;
}

/** Parses an image reference; a string saying what is wrong when it is not one. */
export function parseImageReference(text: string): ImageReference | string {
  const s = split(text);
  if (typeof s === 'string') return s;
  if (!s.path.every(c => PATH_COMPONENT.test(c)))
    return 'the repository must be lower-case letters, digits and separators, such as registry.example/team/whisperer';
  if (s.tag !== null && !TAG.test(s.tag)) return `"${s.tag}" is not a tag`;
  if (s.digest !== null && !DIGEST.test(s.digest))
    return `"${s.digest}" is not a digest such as sha256:…`;
  return {
    registry: s.registry,
    path: normalisePath(s.registry, s.path),
    tag: s.tag,
    digest: s.digest,
  };
}

/**
 * Parses an allow-list pattern: `registry/repo:tag`, `registry/repo@sha256:…`,
 * `registry/repo:*` or a bare `registry/repo` (any tag or digest), `registry/*` or
 * `registry/team/*` (every repository below). `*` stands only for a whole tag or the
 * last path component.
 */
export function parseImagePattern(text: string): ImagePattern | string {
  const s = split(text);
  if (typeof s === 'string') return s;
  const anyRepository = s.path[s.path.length - 1] === '*';
  const path = anyRepository ? s.path.slice(0, -1) : s.path;
  if (anyRepository && (s.tag !== null || s.digest !== null))
    return 'a pattern ending in /* covers every tag already; drop the tag or digest';
  if (anyRepository && path.length === 0 && s.registry === null)
    return 'a lone * would allow every image; name a registry or repository before /*';
  if (!path.every(c => PATH_COMPONENT.test(c)))
    return 'the repository must be lower-case letters, digits and separators (* only as the last component)';
  if (s.tag !== null && s.tag !== '*' && !TAG.test(s.tag))
    return `"${s.tag}" is not a tag (or * for any tag)`;
  if (s.tag === '*' && s.digest !== null)
    return 'give a tag pattern or a digest, not both';
  if (s.digest !== null && !DIGEST.test(s.digest))
    return `"${s.digest}" is not a digest such as sha256:…`;
  return {
    text,
    registry: s.registry,
    path: anyRepository ? path : normalisePath(s.registry, path),
    anyRepository,
    tag: s.tag === '*' ? null : s.tag,
    digest: s.digest,
  };
}

/** Parses a whole list; problems name each bad entry. */
export function parseImagePatterns(texts: readonly string[]): {
  patterns: ImagePattern[];
  problems: string[];
} {
  const patterns: ImagePattern[] = [];
  const problems: string[] = [];
  for (const t of texts) {
    const p = parseImagePattern(t.trim());
    if (typeof p === 'string') problems.push(`"${t}": ${p}`);
    else patterns.push(p);
  }
  return { patterns, problems };
}

export function imageMatchesPattern(
  image: ImageReference,
  pattern: ImagePattern,
): boolean {
  if (image.registry !== pattern.registry) return false;
  if (pattern.anyRepository) {
    return (
      image.path.length > pattern.path.length &&
      pattern.path.every((c, i) => image.path[i] === c)
    );
  }
  if (
    image.path.length !== pattern.path.length ||
    !pattern.path.every((c, i) => image.path[i] === c)
  )
    return false;
  if (pattern.digest !== null) return image.digest === pattern.digest;
  if (pattern.tag !== null) {
    // A reference without tag or digest means :latest to the runtime.
    const tag = image.tag ?? (image.digest === null ? 'latest' : null);
    return tag === pattern.tag;
  }
  return true;
}

/** Whether an image reference is on the list; an unparseable reference never is. */
export function imageAllowed(
  image: string,
  patterns: readonly ImagePattern[],
): boolean {
  const ref = parseImageReference(image);
  if (typeof ref === 'string') return false;
  return patterns.some(p => imageMatchesPattern(ref, p));
}
