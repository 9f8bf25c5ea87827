// Input checks of the group family: the core's channels-first, channel-count and eps checks (written
// once in @normkit/tensor), and the mask refusal with the family's hint (not exported from the package).
import { refuseMask as refuseMaskOnce, type NormalizerContext } from '@normkit/tensor';

export { checkChannelsFirst as channelsFirst, checkChannels, checkEps } from '@normkit/tensor';
export type { ChannelsFirstSizes as ChannelsFirst } from '@normkit/tensor';

/** Refuses a mask given to a normalizer that cannot honour it, instead of ignoring it silently (the core's check). */
export function refuseMask(op: string, context: NormalizerContext | undefined): void {
  refuseMaskOnce(op, context, 'this normalizer has no masked statistics; GroupNorm accepts one');
}
