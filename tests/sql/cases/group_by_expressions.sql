-- GROUP BY expressions, not only columns: an updating result per computed key.
CREATE TABLE per_bucket (bucket BIGINT, channel_upper STRING, bids BIGINT, top DECIMAL(10, 2))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'debezium-json');
INSERT INTO per_bucket
SELECT MOD(auction, 3), UPPER(channel), COUNT(*), MAX(price)
FROM bids
WHERE auction < 1020
GROUP BY MOD(auction, 3), UPPER(channel);
