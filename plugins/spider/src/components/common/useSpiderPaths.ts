import { useRouteRef } from '@backstage/core-plugin-api';
import { rootRouteRef } from '../../routes';

export interface SpiderPaths {
  root?: string;
  controller(id: string, tab?: string): string | undefined;
  whisperer(id: string): string | undefined;
  attachment(id: string, instance?: string): string | undefined;
  /** One exchange's page (shareable). */
  exchange(id: string): string | undefined;
  whisperers(): string | undefined;
  attachments(): string | undefined;
}

function useRootPath(): string | undefined {
  try {
    const f = useRouteRef(rootRouteRef) as (() => string) | undefined;
    return f?.();
  } catch {
    // The Spider page is not mounted in this app: links render as plain text.
    return undefined;
  }
}

/** Absolute paths of Spider's pages; undefined when the Spider page is not mounted. */
export function useSpiderPaths(): SpiderPaths {
  const root = useRootPath()?.replace(/\/$/, '');
  const at = (p: string) => (root === undefined ? undefined : `${root}${p}`);
  return {
    root,
    controller: (id, tab) =>
      at(`/controllers/${encodeURIComponent(id)}${tab ? `/${tab}` : ''}`),
    whisperer: id => at(`/whisperers/${encodeURIComponent(id)}`),
    attachment: (id, instance) =>
      at(
        `/attachments/${encodeURIComponent(id)}${
          instance ? `?instance=${encodeURIComponent(instance)}` : ''
        }`,
      ),
    exchange: id => at(`/traffic/${encodeURIComponent(id)}`),
    whisperers: () => at('/whisperers'),
    attachments: () => at('/attachments'),
  };
}
