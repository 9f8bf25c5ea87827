import { Generator } from '@normkit/tensor';

/**
 * A seed for one named random stream of an experiment, so the data, the initialisation, the batch
 * order and the GAN noise each have their own generator: changing the model does not change the
 * data, and adding a draw in one place does not shift every other stream.
 * FNV-1a over the stream name, mixed with the experiment seed (splitmix-style finaliser).
 *
 * @example
 * const data = streamGenerator(config.seed, 'data');
 */
export function streamSeed(seed: number, stream: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < stream.length; i++) {
    hash ^= stream.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  let z = (hash ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** A fresh Generator for the stream `stream` of experiment seed `seed`. */
export function streamGenerator(seed: number, stream: string): Generator {
  return new Generator(streamSeed(seed, stream));
}
