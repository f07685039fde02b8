import { Config } from '@backstage/config';
import { InputError } from '@backstage/errors';
import {
  DEFAULT_ALLOWED_WHISPERER_IMAGES,
  imageAllowed,
  ImagePattern,
  parseImagePatterns,
} from '@spider/backstage-plugin-spider-common';

const KEY = 'spider.whisperers.allowedImages';

/**
 * The portal's own list of images a Whisperer may name (`spider.whisperers.allowedImages`,
 * default the project's whisperer image). Agents enforce their admin's list as well; this
 * one stops a forbidden image before it is ever stored or sent.
 */
export function readAllowedImages(config: Config): ImagePattern[] {
  const texts =
    config.getOptionalStringArray(KEY) ?? DEFAULT_ALLOWED_WHISPERER_IMAGES;
  const { patterns, problems } = parseImagePatterns(texts);
  if (problems.length) {
    throw new Error(
      `${KEY}: ${problems.join(
        '; ',
      )} (patterns such as registry.example/team/whisperer:*, registry.example/team/*, or registry.example/team/whisperer@sha256:…)`,
    );
  }
  return patterns;
}

/** 400 naming the list when a Whisperer's image is outside it; no image (the agent's default) passes. */
export function requireAllowedImage(
  image: string | null | undefined,
  patterns: readonly ImagePattern[],
): void {
  if (image === null || image === undefined) return;
  if (imageAllowed(image, patterns)) return;
  throw new InputError(
    `Invalid Whisperer: image "${image}" is not allowed here; allowed images (spider.whisperers.allowedImages): ${
      patterns.map(p => p.text).join(', ') || 'none'
    }. Leave the image empty to use the agent's default whisperer image.`,
  );
}
