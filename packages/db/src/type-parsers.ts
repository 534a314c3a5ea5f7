import pg from 'pg';

/** PostgreSQL type OIDs parsed through TYPE_PARSERS. */
export const TYPE_OIDS = {
  bytea: 17,
  int8: 20,
  json: 114,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  jsonb: 3802,
} as const;

type TextParser = (text: string) => unknown;

const parseTimestamp = pg.types.getTypeParser(TYPE_OIDS.timestamptz, 'text') as TextParser;
const parseTimestampWithoutZone = pg.types.getTypeParser(TYPE_OIDS.timestamp, 'text') as TextParser;
const parseBytea = pg.types.getTypeParser(TYPE_OIDS.bytea, 'text') as TextParser;

/** int8 values within Number.MAX_SAFE_INTEGER become numbers; larger ones stay exact as bigint. */
function parseInt8(text: string): number | bigint {
  const value = BigInt(text);
  return value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER) ? value : Number(value);
}

/**
 * Text-format parsers node-postgres uses for both kinds of database. Types not listed keep node-postgres's defaults
 * (int2/int4/float4/float8 as number, bool as boolean, text as string).
 *
 * - timestamptz, timestamp: Date (millisecond precision)
 * - int8: number when safe, bigint otherwise (count(*) is a number)
 * - numeric: number; select `value::text` where exact decimals matter
 * - json, jsonb: parsed value
 * - bytea: Buffer
 * - date: the 'YYYY-MM-DD' string, so no time zone shifts a calendar date
 */
export const TYPE_PARSERS: Readonly<Record<number, TextParser>> = {
  [TYPE_OIDS.bytea]: parseBytea,
  [TYPE_OIDS.int8]: parseInt8,
  [TYPE_OIDS.json]: (text) => JSON.parse(text),
  [TYPE_OIDS.jsonb]: (text) => JSON.parse(text),
  [TYPE_OIDS.date]: (text) => text,
  [TYPE_OIDS.timestamp]: parseTimestampWithoutZone,
  [TYPE_OIDS.timestamptz]: parseTimestamp,
  [TYPE_OIDS.numeric]: (text) => Number(text),
};
