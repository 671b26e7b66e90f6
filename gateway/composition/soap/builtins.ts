/**
 * XSD built-in types -> GraphQL scalars.
 *
 * - Int: only types that always fit GraphQL's signed 32 bits (int, short, byte, unsignedShort,
 *   unsignedByte).
 * - String, with a Downgrade: integers that may not fit (integer, long, the (non)negative/positive
 *   families, unsignedInt, unsignedLong) and decimal. String keeps every digit exactly, where Float
 *   would silently round beyond 2^53 (and turn 12.10 into 12.1); clients send and receive the XSD
 *   lexical form.
 * - Float: float, double. Boolean: boolean.
 * - String: everything textual (string, token, NCName, anyURI, QName, dates and times, durations,
 *   base64Binary, hexBinary, ...), in its XSD lexical form.
 * - JSON, with a Downgrade: anyType (any content).
 * - NMTOKENS, IDREFS, ENTITIES are lists of String.
 * Types in the SOAP encoding namespace (`soapenc:string`, `soapenc:int`) map like their XSD twins.
 */
import type { ScalarRef, TypeRef } from './model.ts';

const INT32 = ['int', 'short', 'byte', 'unsignedShort', 'unsignedByte'];
const WIDE_INTEGERS = [
  'integer', 'long', 'nonNegativeInteger', 'positiveInteger', 'negativeInteger', 'nonPositiveInteger',
  'unsignedInt', 'unsignedLong',
];
const FLOATS = ['float', 'double'];
const STRINGS = [
  'string', 'normalizedString', 'token', 'language', 'Name', 'NCName', 'NMTOKEN', 'ID', 'IDREF', 'ENTITY',
  'anyURI', 'QName', 'NOTATION', 'dateTime', 'dateTimeStamp', 'date', 'time', 'duration', 'dayTimeDuration',
  'yearMonthDuration', 'gYear', 'gYearMonth', 'gMonth', 'gMonthDay', 'gDay', 'base64Binary', 'hexBinary',
  'anySimpleType', 'anyAtomicType',
];
const LISTS = ['NMTOKENS', 'IDREFS', 'ENTITIES'];

export function builtinType(local: string): TypeRef | undefined {
  if (INT32.includes(local)) return scalar('Int', local);
  if (WIDE_INTEGERS.includes(local)) {
    return scalar('String', local, `xsd:${local} may exceed GraphQL's 32-bit Int: typed as String (exact digits)`);
  }
  if (local === 'decimal') {
    return scalar('String', local, 'xsd:decimal is arbitrary-precision: typed as String (exact digits) rather than Float');
  }
  if (FLOATS.includes(local)) return scalar('Float', local);
  if (local === 'boolean') return scalar('Boolean', local);
  if (STRINGS.includes(local)) return scalar('String', local);
  if (LISTS.includes(local)) return { kind: 'list', item: scalar('String', local.slice(0, -1)) };
  if (local === 'anyType') return jsonType('xsd:anyType (any content): typed as JSON');
  return undefined;
}

export function scalar(kind: ScalarRef['scalar'], xsd: string, downgrade?: string): ScalarRef {
  return downgrade === undefined ? { kind: 'scalar', scalar: kind, xsd } : { kind: 'scalar', scalar: kind, xsd, downgrade };
}

export const jsonType = (downgrade: string): ScalarRef => scalar('JSON', 'anyType', downgrade);
export const stringType = (): ScalarRef => scalar('String', 'string');
