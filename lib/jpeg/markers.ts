/**
 * JPEG marker codes (the byte after `FF`) and what the start-of-frame markers say about the coding
 * process. ITU-T T.81, table B.1.
 */

export const SOI = 0xd8; // ff d8: start of image
export const EOI = 0xd9; // ff d9: end of image
export const SOS = 0xda; // ff da: start of scan
export const DQT = 0xdb; // ff db: define quantization tables
export const DNL = 0xdc; // ff dc: define number of lines
export const DRI = 0xdd; // ff dd: define restart interval
export const DHP = 0xde; // ff de: define hierarchical progression
export const DHT = 0xc4; // ff c4: define Huffman tables
export const DAC = 0xcc; // ff cc: define arithmetic coding conditioning
export const TEM = 0x01; // ff 01: temporary private use, no length
export const RST0 = 0xd0; // ff d0 .. ff d7: restart markers, no length
export const RST7 = 0xd7;
export const COM = 0xfe; // ff fe: comment

/** How a frame is coded, from its SOF marker. */
export type JpegProcess =
  | "baseline"
  | "extended"
  | "progressive"
  | "lossless"
  | "extended-arithmetic"
  | "progressive-arithmetic"
  | "lossless-arithmetic";

interface FrameKind {
  readonly process: JpegProcess;
  /** Differential frames only occur in hierarchical files. */
  readonly differential: boolean;
}

const FRAME_KINDS: ReadonlyMap<number, FrameKind> = new Map([
  [0xc0, { process: "baseline", differential: false }],
  [0xc1, { process: "extended", differential: false }],
  [0xc2, { process: "progressive", differential: false }],
  [0xc3, { process: "lossless", differential: false }],
  [0xc5, { process: "extended", differential: true }],
  [0xc6, { process: "progressive", differential: true }],
  [0xc7, { process: "lossless", differential: true }],
  [0xc9, { process: "extended-arithmetic", differential: false }],
  [0xca, { process: "progressive-arithmetic", differential: false }],
  [0xcb, { process: "lossless-arithmetic", differential: false }],
  [0xcd, { process: "extended-arithmetic", differential: true }],
  [0xce, { process: "progressive-arithmetic", differential: true }],
  [0xcf, { process: "lossless-arithmetic", differential: true }],
]);

/** The frame kind of an SOFn marker, or undefined for any other marker. */
export function frameKind(marker: number): FrameKind | undefined {
  return FRAME_KINDS.get(marker);
}

/** Markers followed by a 2-byte length and a payload this reader skips unread. */
export function isSkippedSegment(marker: number): boolean {
  return (
    (marker >= 0xe0 && marker <= 0xef) || // APP0..APP15 (JFIF, EXIF and its thumbnail, ICC, XMP, Adobe...)
    (marker >= 0xf0 && marker <= 0xfd) || // JPG0..JPG13 extensions
    marker === COM ||
    marker === DHT ||
    marker === DAC ||
    marker === DRI ||
    marker === DNL ||
    marker === DHP ||
    marker === 0xdf // EXP: expand reference components
  );
}

/** Markers that stand alone (no length): restart markers and TEM. */
export function isStandalone(marker: number): boolean {
  return (marker >= RST0 && marker <= RST7) || marker === TEM;
}
