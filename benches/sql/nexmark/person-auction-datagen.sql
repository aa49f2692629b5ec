-- Nexmark's `person` and `auction` tables (the columns q8 reads) from Flink's own `datagen`
-- connector, for q8 on both engines: ${PERSONS} persons 200 ms apart and four times as many
-- auctions 50 ms apart in event time, every column computed from a sequence; each auction's
-- seller is one of the 50 persons of its 10-second window, so the windows join.
SET 'table.local-time-zone' = 'UTC';
CREATE TABLE person (
    seq BIGINT,
    id AS 1000 + seq,
    name AS CONCAT('person-', CAST(MOD(seq * 7, 10007) AS STRING)),
    dateTime AS CAST(TO_TIMESTAMP_LTZ(1700000000000 + seq * 200, 3) AS TIMESTAMP(3)),
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
    'connector' = 'datagen',
    'number-of-rows' = '${PERSONS}',
    'rows-per-second' = '1000000000',
    'fields.seq.kind' = 'sequence',
    'fields.seq.start' = '0',
    'fields.seq.end' = '${LAST_PERSON}'
);
CREATE TABLE auction (
    seq BIGINT,
    id AS 1000 + seq,
    seller AS 1000 + (seq / 200) * 50 + MOD(seq * 7, 50),
    dateTime AS CAST(TO_TIMESTAMP_LTZ(1700000000000 + seq * 50, 3) AS TIMESTAMP(3)),
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
    'connector' = 'datagen',
    'number-of-rows' = '${AUCTIONS}',
    'rows-per-second' = '1000000000',
    'fields.seq.kind' = 'sequence',
    'fields.seq.start' = '0',
    'fields.seq.end' = '${LAST_AUCTION}'
);
