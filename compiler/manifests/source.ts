// A located document: one Kubernetes object as plain data, plus the way back to the text it came from.
// The model pass reads `value` and asks `locate(path)` for the line and column of any field it complains about.
import type { FieldPath, Location } from '../model/diagnostics';

/** Where an object sits in the input, without its data: what the model keeps to point at it after reading it. */
export interface SourcePlace {
  /** The file as the user named it ('<stdin>' for '-'). */
  file: string;
  /** Where the object sits inside its document: [] for a document, ['items', 3] for an item of a `kind: List`. */
  docPath: (string | number)[];
  /** 0-based index of the YAML document inside the file (multi-document YAML). */
  docIndex: number;
  /** Line and column of the deepest node that exists along `path` (relative to the object). */
  locate(path: FieldPath): Location;
  /**
   * Line and column of the character `offset` (0-based) inside the string value at `path`, for errors that point
   * into a string (selector syntax). Falls back to the value's own position when the text cannot be mapped
   * (escapes, folded block scalars).
   */
  locateInString(path: FieldPath, offset: number): Location;
}

export interface SourceObject extends SourcePlace {
  /** The object as plain JSON-like data (maps are plain objects, sequences arrays). */
  value: unknown;
  /** The same place without the value (holding it keeps no parsed data alive). */
  readonly place: SourcePlace;
}

/**
 * Takes the objects of the inputs one at a time, in input order (model/build.ts ModelBuilder). An object's value is
 * read during add() only, so a large input's values need not all be alive at once. The fast YAML reader may give up
 * on a text after some of its objects were added: the sink then forgets every object added since mark().
 */
export interface SourceSink {
  add(src: SourceObject): void;
  mark(): void;
  rollback(): void;
}
