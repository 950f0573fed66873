/**
 * Where a frame's blocks are: each component's block grid (the blocks covering its samples) and the MCU
 * grid of interleaved scans, whose MCUs may reach past the component's blocks (padding blocks).
 */
import type { JpegFrame } from "./segments.js";

export interface ComponentLayout {
  readonly id: number;
  readonly h: number;
  readonly v: number;
  /** Blocks covering the component's samples: ceil(ceil(width · h / maxH) / 8), likewise in height. */
  readonly blocksWide: number;
  readonly blocksHigh: number;
}

export interface FrameLayout {
  readonly maxH: number;
  readonly maxV: number;
  /** MCUs of an interleaved scan: ceil(width / (8 · maxH)) by ceil(height / (8 · maxV)). */
  readonly mcusWide: number;
  readonly mcusHigh: number;
  readonly components: readonly ComponentLayout[];
}

export function frameLayout(frame: JpegFrame): FrameLayout {
  const maxH = Math.max(...frame.components.map((c) => c.h));
  const maxV = Math.max(...frame.components.map((c) => c.v));
  const components = frame.components.map(({ id, h, v }) => ({
    id,
    h,
    v,
    blocksWide: Math.ceil(Math.ceil((frame.width * h) / maxH) / 8),
    blocksHigh: Math.ceil(Math.ceil((frame.height * v) / maxV) / 8),
  }));
  return {
    maxH,
    maxV,
    mcusWide: Math.ceil(frame.width / (8 * maxH)),
    mcusHigh: Math.ceil(frame.height / (8 * maxV)),
    components,
  };
}

/** Blocks of all components together (the coefficient storage is 64 values for each). */
export function totalBlocks(layout: FrameLayout): number {
  return layout.components.reduce((sum, c) => sum + c.blocksWide * c.blocksHigh, 0);
}
