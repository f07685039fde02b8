import { HumanDuration } from '@backstage/types';

export interface Config {
  /** Spider for Backstage: the Controls service. */
  spider?: {
    attachments?: {
      /**
       * Longest an attachment may live, as an ISO-8601 duration (e.g. PT8H) or a
       * HumanDuration object. A Whisperer's timeToLive is capped by it, and a Whisperer
       * without a timeToLive gets it. Unset: no cap.
       */
      maxTimeToLive?: string | HumanDuration;
      /** How often expired attachments are looked for, in milliseconds. Default 1000. */
      expiryCheckIntervalMs?: number;
      /**
       * Most live attachments (pending, active or failed; not detaching, detached or
       * expired) one Controller may have. An attach beyond it is refused with 409.
       * Default 1000.
       */
      maxPerController?: number;
      /**
       * Most live attachments one user may have created, across all Controllers. An
       * attach beyond it is refused with 409. Default 100.
       */
      maxPerUser?: number;
    };
    whisperers?: {
      /**
       * Images a Whisperer may name: patterns such as registry.example/team/whisperer:1.2,
       * registry.example/team/whisperer@sha256:…, registry.example/team/whisperer:* (any
       * tag) or registry.example/team/* (every repository below). A Whisperer with another
       * image is refused (400). Default: the project's whisperer image (spider/whisperer:*).
       * Each agent enforces its own list too (chart value whisperers.allowedImages).
       */
      allowedImages?: string[];
    };
    agents?: {
      /**
       * Base URL agents dial (the Controls service as seen from clusters), used in the
       * install instructions. Default: backend.baseUrl + /api/spider.
       */
      externalUrl?: string;
      /** Time to wait for an agent's reply to a request (list workloads), in ms. Default 10000. */
      requestTimeoutMs?: number;
      /** Most agent sockets one backend process accepts. Default 5000. */
      maxConnections?: number;
      /**
       * Header carrying the agent's address when the backend sits behind a reverse proxy
       * (for example x-forwarded-for). Believed only from `trustedProxies`.
       */
      trustedProxyHeader?: string;
      /** Addresses of reverse proxies whose `trustedProxyHeader` is believed. */
      trustedProxies?: string[];
    };
    /** Captured traffic: how much is kept. */
    traffic?: {
      /**
       * Exchanges older than this are deleted: an ISO-8601 duration (e.g. P1D) or a
       * HumanDuration object. Default P1D.
       */
      retention?: string | HumanDuration;
      /** Newest exchanges kept per attachment; older ones are deleted. Default 100000. */
      maxRowsPerAttachment?: number;
      /**
       * Bytes of stored traffic in total; over it, the oldest bodies are dropped first,
       * then the oldest exchanges. Default 1073741824 (1 GiB).
       */
      maxTotalBytes?: number;
      /** How often retention runs (ISO-8601 duration or HumanDuration). Default PT5M. */
      retentionCheckInterval?: string | HumanDuration;
    };
    install?: {
      /** Helm chart reference used in the one-line install (a repo/chart name, OCI reference or path). */
      chart?: string;
      /** Chart version for the one-line install; unset: latest. */
      chartVersion?: string;
      /** Agent image repository and tag written into the rendered values. */
      image?: { repository?: string; tag?: string };
      /** Default whisperer image written into the rendered values. */
      whispererImage?: string;
    };
  };
}
