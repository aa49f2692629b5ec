-- Nexmark's `bid` table from Flink's own `datagen` connector, for the Nexmark queries on both
-- engines (Flink's nexmark connector is not part of its distribution): every column computed
-- from a sequence, so both engines read the same ${ROWS} bids, 10 ms apart in event time.
SET 'table.local-time-zone' = 'UTC';
CREATE TABLE bid (
    id BIGINT,
    auction AS 1000 + MOD(id * 7, 3001),
    bidder AS 1000 + MOD(id * 31, 5003),
    price AS MOD(id * 7919, 1000000) + 1,
    channel AS CASE MOD(id, 8)
        WHEN 0 THEN 'Google' WHEN 1 THEN 'Facebook' WHEN 2 THEN 'Baidu' WHEN 3 THEN 'Apple'
        ELSE CONCAT('channel-', CAST(MOD(id, 10000) AS STRING)) END,
    url AS CONCAT('https://www.nexmark.com/abc/de_f/ghi/item.htm?query=1&channel_id=',
        CAST(MOD(id * 13, 100000) AS STRING)),
    dateTime AS CAST(TO_TIMESTAMP_LTZ(1700000000000 + id * 10, 3) AS TIMESTAMP(3)),
    extra AS 'qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnmqwertyuiopasdfgh',
    WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND
) WITH (
    'connector' = 'datagen',
    'number-of-rows' = '${ROWS}',
    'rows-per-second' = '1000000000',
    'fields.id.kind' = 'sequence',
    'fields.id.start' = '0',
    'fields.id.end' = '${LAST}'
);
