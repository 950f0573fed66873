/**
 * EXIF `Software` of every derivative starts with this (then the model tag), so that a derivative is
 * recognised from its headers alone. No parentheses: libvips reads a trailing "(...)" as its own note.
 */
export const DERIVATIVE_SOFTWARE = "unjpeg restored with ";
