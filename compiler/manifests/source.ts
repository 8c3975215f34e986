// A located document: one Kubernetes object as plain data, plus the way back to the text it came from.
// The model pass reads `value` and asks `locate(path)` for the line and column of any field it complains about.
import type { FieldPath, Location } from '../model/diagnostics';

export interface SourceObject {
  /** The file as the user named it ('<stdin>' for '-'). */
  file: string;
  /** The object as plain JSON-like data (maps are plain objects, sequences arrays). */
  value: unknown;
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
